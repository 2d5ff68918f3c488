"""Typed reads of a TOML table that know their own field path.

Every read either returns a value of the right type or raises a `ProfileError` naming the file,
the dotted field path and what is allowed, so the loader itself stays a flat list of reads.
Unread keys are reported by `finish()`, with a close match when one exists: typos fail loudly.
"""

from __future__ import annotations

import builtins
import difflib
import math
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from locust_mlstress.errors import ProfileError
from locust_mlstress.profile.limits import MAX_LIST, MAX_NAME, size_text

MISSING: Any = object()
# TOML integers are 64-bit (the spec asks parsers to reject others, tomllib does not), and a larger
# one would overflow float arithmetic downstream
INT64 = range(-(2**63), 2**63)


def _type_name(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}.get(
        type(value), "a table" if isinstance(value, dict) else type(value).__name__
    )


def _finite(value: int | float) -> bool:
    return value in INT64 if isinstance(value, int) else math.isfinite(value)


def _shown(value: object) -> str:
    """'a string 'x'', or just 'a table' / 'a list' for a container."""
    return _short(value) if isinstance(value, dict | list) else f"{_type_name(value)} {_short(value)}"


def control_char(text: str, allowed: str = "") -> str | None:
    """The first control character (ESC, CR, LF, NUL, ...) in `text` that is not in `allowed`:
    printed raw, it would recolour the terminal or forge a line of output."""
    for c in text:
        if unicodedata.category(c) == "Cc" and c not in allowed:
            return c
    return None


def printable(text: str) -> str:
    """`text` for a one-line message: as is, or escaped (repr's way) when it holds a control character."""
    return text if control_char(text) is None else repr(text)[1:-1]


def _short(value: object) -> str:
    """A value for a one-line message: long text cut, a table or list named by its type (its repr
    could be megabytes, or nest too deeply to print)."""
    if isinstance(value, dict | list):
        return _type_name(value)
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-10:]} ({len(text)} characters)"


class Table:
    # the method `str` below shadows the builtin in this class body: annotations after it name
    # `builtins.str`

    def __init__(self, data: dict[str, Any], path: str, file: Path | None):
        self.data = data
        self.path = path
        self.file = file
        self._read: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, message: str) -> ProfileError:
        # a key is user text too ([drift."\x1b[2J"]): escaped, so no error prints it raw
        return ProfileError(self.file, printable(self.at(key) if key else self.path or "(top level)"), message)

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str, default: Any, expected: str = "") -> Any:
        self._read.add(key)
        if key in self.data:
            return self.data[key]
        if default is MISSING:
            # a misspelt required key would otherwise read as plainly absent: name the near miss
            near = difflib.get_close_matches(key, [k for k in self.data if isinstance(k, str)], n=1)
            hint = f" (is {near[0]!r} a misspelling of it?)" if near else ""
            wanted = f"; expected {expected}" if expected else ""
            raise self.error(key, f"is required{hint}{wanted}")
        return default

    def str(
        self, key: str, default: Any = MISSING, choices: tuple[str, ...] | None = None, *, multiline: bool = False
    ) -> Any:
        """A string without control characters (`multiline`: tabs and line feeds allowed, for a
        description or a JSON template); names are printed in validate, verdicts and reports."""
        value = self._get(key, default, f"one of: {', '.join(choices)}" if choices else "a string")
        if value is default and default is not MISSING:
            return value
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, got {_type_name(value)}")
        if (c := control_char(value, "\t\n" if multiline else "")) is not None:
            raise self.error(key, f"{_short(value)} holds a control character ({c!r}); remove it")
        if choices is not None and value not in choices:
            hint = [c for c in choices if c.lower() == value.lower()] or difflib.get_close_matches(value, choices, n=1)
            did = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise self.error(key, f"{value!r} is not allowed{did}; choose one of: {', '.join(choices)}")
        return value

    def number(
        self,
        key: builtins.str,
        default: Any = MISSING,
        *,
        min: float | None = None,
        max: float | None = None,
        above: float | None = None,
    ) -> Any:
        bounds = [f">= {min}"] * (min is not None) + [f"<= {max}"] * (max is not None)
        bounds += [f"> {above}"] * (above is not None)
        value = self._get(key, default, " ".join(["a number", " and ".join(bounds)]).strip())
        if value is default and default is not MISSING:
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value not in INT64:
            raise self.error(key, f"is outside TOML's 64-bit integer range: {_short(value)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error(key, f"must be a finite number, got {_shown(value)}")
        if min is not None and value < min:
            raise self.error(key, f"must be >= {min}, got {value}")
        if max is not None and value > max:
            raise self.error(key, f"must be <= {max}, got {value}")
        if above is not None and value <= above:
            raise self.error(key, f"must be > {above}, got {value}")
        return float(value)

    def integer(
        self, key: builtins.str, default: Any = MISSING, *, min: int | None = None, max: int | None = None
    ) -> Any:
        """An integer; `max` is one of the profile's limits (limits.py), named in the error."""
        value = self._get(key, default, "an integer" + (f" >= {min}" if min is not None else ""))
        if value is default and default is not MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, got {_shown(value)}")
        if value not in INT64:
            raise self.error(key, f"is outside TOML's 64-bit integer range: {_short(value)}")
        if min is not None and value < min:
            raise self.error(key, f"must be >= {min}, got {value}")
        if max is not None and value > max:
            raise self.error(key, f"must be at most {size_text(max)} (a limit, docs/profiles.md), got {value:,}")
        return value

    def boolean(self, key: builtins.str, default: Any = MISSING) -> Any:
        value = self._get(key, default, "true or false")
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {_shown(value)}")
        return value

    def strings(
        self, key: builtins.str, default: Any = MISSING, *, nonempty: bool = False, max_items: int = MAX_LIST
    ) -> Any:
        """A list of at most `max_items` distinct strings, none holding a control character."""
        value = self._get(key, default, "a list of strings")
        if value is default and default is not MISSING:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f"must be a list of strings, got {_type_name(value)}")
        if nonempty and not value:
            raise self.error(key, "must not be empty")
        if len(value) > max_items:
            limit = size_text(max_items)
            raise self.error(key, f"holds {len(value):,} items; at most {limit} (a limit, docs/profiles.md)")
        for i, v in enumerate(value):
            if (c := control_char(v)) is not None:
                raise self.error(f"{key}[{i}]", f"{_short(v)} holds a control character ({c!r}); remove it")
        if len(set(value)) != len(value):
            raise self.error(key, "must not repeat a value")
        return tuple(value)

    def numbers(self, key: builtins.str, default: Any = MISSING) -> Any:
        value = self._get(key, default, "a list of non-negative numbers")
        if value is default and default is not MISSING:
            return value
        ok = isinstance(value, list) and all(
            isinstance(v, int | float) and not isinstance(v, bool) and _finite(v) and v >= 0 for v in value
        )
        if not ok or not value or sum(value) <= 0:
            raise self.error(key, "must be a non-empty list of non-negative numbers with a positive sum")
        return tuple(float(v) for v in value)

    def table(self, key: builtins.str, *, required: bool = False) -> Table:
        value = self._get(key, MISSING if required else {}, f"a [{self.at(key)}] table")
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table, got {_type_name(value)}")
        return Table(value, self.at(key), self.file)

    def tables(self, key: builtins.str, *, max_items: int = MAX_LIST) -> list[Table]:
        """An array of at most `max_items` tables, `[[key]]` in TOML."""
        value = self._get(key, MISSING, f"one or more [[{self.at(key)}]] tables")
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, f"must be an array of tables ([[{key}]]), got {_type_name(value)}")
        if len(value) > max_items:
            limit = size_text(max_items)
            raise self.error(key, f"holds {len(value):,} tables; at most {limit} (a limit, docs/profiles.md)")
        return [Table(v, f"{self.at(key)}[{i}]", self.file) for i, v in enumerate(value)]

    def names(self, *, max_items: int = MAX_LIST) -> Iterator[builtins.str]:
        """Every key, marked as read: for tables whose keys are names chosen by the user (a drift
        variant, a stage, a header), so each is checked as a name: printable, of sane length."""
        self._read.update(self.data)
        if len(self.data) > max_items:
            limit = size_text(max_items)
            raise self.error("", f"holds {len(self.data):,} entries; at most {limit} (a limit, docs/profiles.md)")
        for key in self.data:
            if (c := control_char(key)) is not None:
                raise self.error(key, f"the name {_short(key)} holds a control character ({c!r}); rename it")
            if len(key) > MAX_NAME:
                raise self.error(key, f"the name is {len(key):,} characters long; at most {MAX_NAME:,}")
        return iter(list(self.data))

    def sub(self, key: builtins.str) -> Table:
        """A value that may be a table, read as one (the caller checks `raw(key)` first)."""
        return self.table(key)

    def raw(self, key: builtins.str) -> Any:
        self._read.add(key)
        return self.data.get(key)

    def finish(self) -> None:
        extra = [k for k in self.data if k not in self._read]
        if not extra:
            return
        key = extra[0]
        allowed = sorted(self._read)
        hint = difflib.get_close_matches(key, allowed, n=1)
        did = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise self.error(key, f"unknown field{did}; allowed here: {', '.join(allowed) or 'none'}")
