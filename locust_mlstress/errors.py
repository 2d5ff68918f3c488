"""Errors a user can act on: each names where the problem is and what would fix it."""

from __future__ import annotations

from pathlib import Path


class ProfileError(ValueError):
    """A traffic profile (or an option pointing at one) that cannot be used.

    Raised before any traffic is sent. `str()` is the whole message a user needs, so callers
    print it and exit instead of showing a traceback.
    """

    def __init__(self, file: Path | str | None, field: str, message: str):
        self.file = _one_line(str(file)) if file is not None else None
        self.field = field
        self.message = message
        where = f"{self.file}: " if self.file else ""
        super().__init__(f"{where}{field}: {message}" if field else f"{where}{message}")


def _one_line(text: str) -> str:
    """A path as the user gave it, escaped when it holds a control character: a file name may carry
    ESC or a line break, and the message must not move a terminal's cursor or forge a second line."""
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text):
        return repr(text)[1:-1]
    return text
