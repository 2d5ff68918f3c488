"""Generic JSON: a body template with placeholders, and dotted paths into the response.

This is the escape hatch for hand-written FastAPI/Flask services that follow no protocol. The
template is compiled once into a tree of small builders, so each request only fills in the
placeholders and never re-parses or deep-copies the template.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from locust_mlstress.codecs.base import (
    WRONG_TOP_LEVEL_KEY,
    Codec,
    DecodeError,
    Row,
    check_count,
    column,
    columns_of,
    json_kind,
    matrix,
    option_error,
)
from locust_mlstress.domain.schema import Feature, Output, Target

DEFAULT_TEMPLATE = '{"instances": "$rows"}'
DEFAULT_RESPONSE_PATH = "predictions"
PLACEHOLDERS: tuple[str, ...] = ("$rows", "$columns", "$matrix", "$n")
_CARRIERS = ("$rows", "$columns", "$matrix")

Builder = Callable[[list[Row]], object]
Segment = tuple[str, "int | None"]


def compile_path(path: str) -> tuple[Segment, ...]:
    """Split a dotted path once; integer segments may index arrays ("outputs.0.data")."""
    if path in ("", "."):
        return ()
    segments: list[Segment] = []
    for part in path.split("."):
        digits = part[1:] if part.startswith("-") else part
        index = digits.isascii() and digits.isdigit()  # "²".isdigit() is true, but int("²") fails
        segments.append((part, int(part) if index else None))
    return tuple(segments)


def walk(value: object, segments: tuple[Segment, ...], prefix: str = "") -> object:
    seen = prefix
    for key, index in segments:
        where = f"{seen}.{key}" if seen else key
        t = type(value)
        if t is dict:
            if key not in value:  # type: ignore[operator]
                raise DecodeError(f"missing key '{where}'")
            value = value[key]  # type: ignore[index]
        elif t is list and index is not None:
            try:
                value = value[index]  # type: ignore[index]
            except IndexError:
                raise DecodeError(f"missing index '{where}'") from None
        else:
            raise DecodeError(f"'{seen or 'response'}' is {json_kind(value)}, cannot take '{key}'")
        seen = where
    return value


class JSONCodec(Codec):
    name = "json"

    def __init__(self, target: Target, features: tuple[Feature, ...], output: Output) -> None:
        super().__init__(target, features, output)
        text = target.body_template if target.body_template is not None else DEFAULT_TEMPLATE
        try:
            template = json.loads(text)
        except ValueError as exc:
            raise option_error("body_template", f"is not JSON: {exc}") from None
        self.placeholders: list[tuple[tuple[str | int, ...], str]] = []
        self._build = self._compile(template, ())
        if not any(name in _CARRIERS for _, name in self.placeholders):
            raise option_error("body_template", 'needs a "$rows", "$columns" or "$matrix" placeholder')
        self.top_key = next(iter(template), "") if type(template) is dict else ""
        self.variants = frozenset({WRONG_TOP_LEVEL_KEY}) if self.top_key else frozenset()
        self.response_path = target.response_path if target.response_path is not None else DEFAULT_RESPONSE_PATH
        self._response = compile_path(self.response_path)
        self._item = compile_path(target.item_path) if target.item_path else None

    def _placeholder(self, name: str) -> Builder:
        features = self.features
        if name == "$rows":
            return lambda rows: list(rows)
        if name == "$columns":
            return lambda rows: {c: column(rows, c) for c in columns_of(rows, features)}
        if name == "$matrix":
            return lambda rows: matrix(rows, columns_of(rows, features)) if rows else []
        return len  # "$n"

    def _compile(self, node: object, path: tuple[str | int, ...]) -> Builder:
        # Containers are rebuilt on every call so no two documents share mutable state.
        if type(node) is dict:
            entries = [(k, self._compile(v, (*path, k))) for k, v in node.items()]
            return lambda rows: {k: build(rows) for k, build in entries}
        if type(node) is list:
            items = [self._compile(v, (*path, i)) for i, v in enumerate(node)]
            return lambda rows: [build(rows) for build in items]
        if type(node) is str and node in PLACEHOLDERS:
            self.placeholders.append((path, node))
            return self._placeholder(node)
        return lambda rows: node

    def document(self, rows: list[Row]) -> dict:
        return self._build(self.wired(rows))  # type: ignore[return-value]

    def _items(self, document: object, n: int) -> object:
        items = walk(document, self._response)
        if self._item is None:
            return items
        checked = check_count(items, n, self.response_path or "response")  # the same list, typed
        base = self.response_path
        return [walk(item, self._item, f"{base}.{i}" if base else str(i)) for i, item in enumerate(checked)]
