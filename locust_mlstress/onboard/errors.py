"""The one error `mlstress init` reports: a line naming the problem, exit status 2, no file written."""

from __future__ import annotations


class InitError(Exception):
    """Bad input to init (data, label, URL, codec, output path); its text is the whole message."""
