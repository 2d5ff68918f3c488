"""Reading a user-named input file (profile, data set, baseline, fault file) safely: only a
regular file, only up to a cap, never blocking.

Profiles, data sets and baselines are read whole into every Locust process, and a path may come
from a careless command line or, through the web UI's start form, from anyone who reaches the
page. `/dev/zero` read whole grows until memory runs out; a FIFO blocks the reader forever, and
with it the whole gevent loop (the web UI stops answering). So the path is judged with `os.stat`
first (which never opens it), then opened with `O_NONBLOCK` (a FIFO swapped in after the stat
cannot block the open), checked again with `fstat` on the open descriptor (what is read is what
was judged), and read only up to the cap plus one byte (a file that grows meanwhile is refused).

This module sits at the top of the package and imports nothing from it, so `profile/`,
`quality/`, `servers/faultproxy/` and `onboard/` can all use it without an import cycle. Callers turn
`InputFileError.reason` into their own one-line error naming the option or field.
"""

from __future__ import annotations

import os
import stat

MiB = 1024 * 1024
# Caps per kind of file. A profile is a page of TOML (the largest shipped is a few KB); a fault
# file likewise. A baseline holds binned histograms, a few hundred KB at most. A data set is read
# whole by every Locust process (and once more by `mlstress init`): past 256 MiB a sample serves
# the figures as well and keeps N processes x the frame's in-memory size sane.
PROFILE_MAX_BYTES = 16 * MiB
FAULTS_MAX_BYTES = 16 * MiB
BASELINE_MAX_BYTES = 64 * MiB
DATASET_MAX_BYTES = 256 * MiB


class InputFileError(ValueError):
    """Why a path cannot be read as an input file, in words fit to follow `PATH: ` on one line."""

    def __init__(self, reason: str, *, missing: bool = False, too_large: bool = False, size: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.missing = missing  # no such file (a caller may say how to make one)
        self.too_large = too_large  # a regular file past the cap (a caller may say what to do instead)
        self.size = size  # of a file too large: its size in bytes (at least the cap + 1)


def size_text(n: int) -> str:
    """A byte count for a message: MiB from 1 MiB up, else bytes."""
    return f"{n / MiB:.0f} MiB" if n >= MiB else f"{n} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "another kind of file"


def _judge(info: os.stat_result, cap: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise InputFileError(f"is not a regular file but {_kind(info.st_mode)}; pass the path of a file")
    if info.st_size > cap:
        raise InputFileError(
            f"is {size_text(info.st_size)}, more than the {size_text(cap)} allowed for this file",
            too_large=True,
            size=info.st_size,
        )


def check_regular(path: str | os.PathLike[str], cap: int) -> os.stat_result:
    """The file's stat when it is a regular file of at most `cap` bytes; InputFileError otherwise.
    Never opens the path, so a FIFO or device is judged without blocking or reading."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputFileError("file not found", missing=True) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise InputFileError(f"cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    _judge(info, cap)
    return info


def read_regular(path: str | os.PathLike[str], cap: int) -> bytes:
    """The whole content of a regular file of at most `cap` bytes, read without ever blocking on a
    FIFO or reading a device; InputFileError (one line) otherwise."""
    check_regular(path, cap)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputFileError("file not found", missing=True) from None
    except OSError as exc:
        raise InputFileError(f"cannot be read: {exc.strerror or exc}") from None
    try:
        _judge(os.fstat(fd), cap)  # the file opened may not be the one judged by the stat
        chunks, total = [], 0
        while total <= cap:
            chunk = os.read(fd, min(MiB, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise InputFileError(f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if total > cap:
        raise InputFileError(
            f"grew past the {size_text(cap)} allowed for this file while being read", too_large=True, size=total
        )
    return b"".join(chunks)


def display(path: str | os.PathLike[str]) -> str:
    """A path for a one-line message: control characters (an ESC, a line break) escaped."""
    text = str(path)
    if all(c.isprintable() or c == " " for c in text):
        return text
    return repr(text)[1:-1]
