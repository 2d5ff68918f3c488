"""The console at the end of a run: our lines after Locust's tables, Ctrl-C without tracebacks."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import gevent
from greenlet import getcurrent

console = logging.getLogger("locust.stats_logger")  # Locust's plain console logger
PACKAGE_DIR = str(Path(__file__).resolve().parent.parent) + os.sep  # a prefix of our files, not of a sibling package


class HeldConsole(logging.Filter):
    """While added to the console logger, keeps back what this package logs there (Locust's own
    lines pass) until `release`, which prints it once: the end-of-run summary goes out after
    Locust's final tables. Records are told apart by the file that logged them."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if os.path.realpath(record.pathname).startswith(PACKAGE_DIR):  # as PACKAGE_DIR: absolute, links resolved
            self.records.append(record)
            return False
        return True

    def release(self) -> None:
        records, self.records = self.records, []
        for record in records:
            console.handle(record)


def quiet_interrupts() -> None:
    """Ctrl-C without tracebacks, for the first press as for a second one.

    - Python raises KeyboardInterrupt in whatever runs when the signal comes: often a user's
      greenlet, which gevent then reports with a traceback before passing the interrupt on to
      the main greenlet. Here it goes straight to the main greenlet, where Locust expects it.
    - One that Locust itself does not catch (while a master waits for its workers before the
      test starts, or a second one while Locust shuts down) ends the process with one line on
      stderr instead of a traceback; any other uncaught exception keeps its traceback.
    Installed once, from the main greenlet, only over Python's own SIGINT handler."""
    previous = sys.excepthook
    if getattr(previous, "mlstress", False):
        return

    def hook(kind, value, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.stderr.write("locust-mlstress: interrupted (Ctrl-C); the run ended here\n")
            return
        previous(kind, value, tb)

    hook.mlstress = True  # type: ignore[attr-defined]  # marks it installed (checked above)
    sys.excepthook = hook
    main = getcurrent()
    if main.parent is not None or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return

    def on_sigint(_signum, _frame) -> None:
        if getcurrent() is main:
            raise KeyboardInterrupt
        gevent.get_hub().loop.run_callback(main.throw, KeyboardInterrupt)

    signal.signal(signal.SIGINT, on_sigint)
