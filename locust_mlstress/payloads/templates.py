"""Clean and drifted request bodies from a template, a block of values at a time.

Every clean or drifted body of a profile has the same shape; only the values differ. Encoding
each one through the codec builds row dicts and runs the JSON encoder per request, which was
most of what a payload cost inside a busy Locust process. So the codec encodes one document
whose values are markers, the text between the markers becomes a %-format, and the values are
JSON-encoded a whole column at a time (one C call per column per block). A body is then one
string format.

The bytes are exactly the codec's: a template is only used after it reproduced the codec's own
bodies for a sample of clean and drifted rows. A codec whose document depends on the values
(say one that turns booleans into numbers) fails that check, and its bodies keep being encoded
one by one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii

import numpy as np

from locust_mlstress.codecs import Codec
from locust_mlstress.codecs.base import ENCODER

_MARK = "\x00mls{}.{}\x00"  # never in real data; the JSON encoder escapes the NULs predictably
_MARKED = re.compile(r'"\\u0000mls(\d+)\.(\d+)\\u0000"')
_PLAIN_KINDS = frozenset("biuf")  # numbers and booleans (NaN already None): no comma inside their JSON
_INTEGRAL_KINDS = frozenset("biu")


def column_texts(values: list, dtype_kind: str) -> list[str]:
    """Each value's JSON text, as the codec's encoder writes it inside a document."""
    if not values:
        return []
    if dtype_kind in _PLAIN_KINDS:
        return ENCODER.encode(values)[1:-1].split(",")
    encode = ENCODER.encode  # ensure_ascii: a string's JSON is encode_basestring_ascii's, in C
    return [encode_basestring_ascii(v) if type(v) is str else encode(v) for v in values]


class BodyTemplate:
    """A codec's body for `batch_size` rows of `names`, with a hole per value."""

    __slots__ = ("format", "slots", "floats")

    def __init__(self, format: str, slots: list[tuple[int, int]], floats: frozenset[int] = frozenset()):
        self.format = format
        self.slots = slots  # (row in the batch, column) of each hole, in the body's order
        # columns whose integers/booleans the codec writes as floats (a v2 FP tensor: 3 as 3.0)
        self.floats = floats

    def texts(self, columns: Sequence[list], kinds: Sequence[str]) -> list[list[str]]:
        """Each column's value texts in the codec's JSON form: an integer or boolean column the
        codec writes as floats is cast to float64 first, in one numpy call per column."""
        floats = self.floats
        return [
            column_texts(np.asarray(c, dtype=np.float64).tolist(), "f")
            if k in floats and kind in _INTEGRAL_KINDS
            else column_texts(c, kind)
            for k, (c, kind) in enumerate(zip(columns, kinds, strict=True))
        ]

    @classmethod
    def build(cls, codec: Codec, names: Sequence[str], batch_size: int) -> BodyTemplate | None:
        """The template, or None when the codec does not place every value once, verbatim."""
        rows: list[dict[str, object]] = [
            {name: _MARK.format(j, k) for k, name in enumerate(names)} for j in range(batch_size)
        ]
        try:
            text = codec.encode(rows).decode("utf-8")
        except Exception:
            return None
        pieces, slots, at = [], [], 0
        for m in _MARKED.finditer(text):
            pieces.append(text[at : m.start()].replace("%", "%%"))
            slots.append((int(m[1]), int(m[2])))
            at = m.end()
        pieces.append(text[at:].replace("%", "%%"))
        if sorted(slots) != [(j, k) for j in range(batch_size) for k in range(len(names))] or "\\u0000mls" in "".join(
            pieces
        ):
            return None
        wanted = codec.float_columns(names)
        return cls("%s".join(pieces), slots, frozenset(k for k, name in enumerate(names) if name in wanted))

    def render(self, texts: list[list[str]], lo: int) -> bytes:
        """The body of rows lo..lo+batch_size, from the columns' value texts."""
        return (self.format % tuple([texts[k][lo + j] for j, k in self.slots])).encode("utf-8")

    def agrees(self, codec: Codec, names: Sequence[str], columns: list[list], kinds: Sequence[str]) -> bool:
        """Whether every body of these rows comes out as the codec encodes it."""
        n = len(columns[0]) if columns else 0
        size = 1 + max((j for j, _ in self.slots), default=0)
        texts = self.texts(columns, kinds)
        for lo in range(0, n - size + 1, size):
            rows = [dict(zip(names, [c[i] for c in columns], strict=True)) for i in range(lo, lo + size)]
            if self.render(texts, lo) != codec.encode(rows):
                return False
        return True


def dtype_kinds(columns: dict[str, np.ndarray]) -> list[str]:
    return [col.dtype.kind for col in columns.values()]
