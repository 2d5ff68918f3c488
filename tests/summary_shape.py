"""Check a real summary against its TypedDict (locust_mlstress/domain/summary.py), key by key.

The types are only annotations, so nothing at run time stops the code from writing a key the
TypedDict does not declare, or leaving out one it requires; this walks a summary a run actually
produced and names every difference, so the documented schema and the written JSON stay one.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin, get_type_hints, is_typeddict


def shape_errors(value: Any, expected: Any, where: str = "summary") -> list[str]:
    """Every place `value` differs from the type `expected`; empty when it conforms."""
    if expected is Any:
        return []
    if is_typeddict(expected):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, expected an object ({expected.__name__})"]
        hints = get_type_hints(expected)
        errors = [f"{where}.{key}: missing" for key in sorted(expected.__required_keys__ - value.keys())]
        errors += [f"{where}.{key}: not in {expected.__name__}" for key in sorted(value.keys() - hints.keys())]
        for key in value.keys() & hints.keys():
            errors += shape_errors(value[key], hints[key], f"{where}.{key}")
        return errors
    origin, args = get_origin(expected), get_args(expected)
    if origin in (Union, types.UnionType):
        tried = [shape_errors(value, option, where) for option in args]
        return [] if any(not e for e in tried) else min(tried, key=len)
    if expected is type(None):
        return [] if value is None else [f"{where}: {value!r}, expected null"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, expected a list"]
        return [e for i, item in enumerate(value) for e in shape_errors(item, args[0], f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, expected an object"]
        return [e for k, item in value.items() for e in shape_errors(item, args[1], f"{where}[{k!r}]")]
    if expected is float:  # JSON and Python alike write a whole float as an int sometimes
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, expected)
    return [] if ok else [f"{where}: {value!r} is {type(value).__name__}, expected {expected.__name__}"]


def assert_shape(value: Any, expected: Any) -> None:
    errors = shape_errors(value, expected)
    assert not errors, "\n".join(errors[:20])


__all__ = ["assert_shape", "shape_errors"]
