"""MLflow scoring server (`mlflow models serve`, /invocations), MLflow 2.x input formats.

The three formats reach the same pandas DataFrame on the server, but each fails differently
when malformed, which is why the format is a profile option rather than a fixed choice.
"""

from __future__ import annotations

from locust_mlstress.codecs.base import (
    WRONG_RANK,
    WRONG_SHAPE,
    WRONG_TOP_LEVEL_KEY,
    Codec,
    DecodeError,
    NotApplicable,
    Row,
    column,
    columns_of,
    json_kind,
    matrix,
    option_error,
)
from locust_mlstress.domain.schema import Feature, Output, Target

FORMATS: tuple[str, ...] = ("dataframe_split", "dataframe_records", "inputs")


class MLflowCodec(Codec):
    name = "mlflow"
    variants = frozenset({WRONG_TOP_LEVEL_KEY, WRONG_SHAPE, WRONG_RANK})

    def __init__(self, target: Target, features: tuple[Feature, ...], output: Output) -> None:
        super().__init__(target, features, output)
        if target.mlflow_format not in FORMATS:
            raise option_error("mlflow_format", f"{target.mlflow_format!r} is not one of {', '.join(FORMATS)}")
        self.format = target.mlflow_format
        self.top_key = target.mlflow_format
        if self.format == "inputs" and len(features) < 2:
            # With a single column there is no second column whose length could disagree.
            self.variants = frozenset({WRONG_TOP_LEVEL_KEY, WRONG_RANK})

    def document(self, rows: list[Row]) -> dict:
        rows = self.wired(rows)
        if self.format == "dataframe_split":
            cols = columns_of(rows, self.features)
            return {"dataframe_split": {"columns": cols, "data": matrix(rows, cols) if rows else []}}
        if self.format == "dataframe_records":
            return {"dataframe_records": rows}
        return {"inputs": {c: column(rows, c) for c in columns_of(rows, self.features)}}

    def _items(self, document: object, n: int) -> object:
        # MLflow 2.x wraps predictions; 1.x servers answer with the bare list.
        if type(document) is list:
            return document
        if type(document) is not dict:
            raise DecodeError(f"response is {json_kind(document)}, expected an object with 'predictions'")
        if "predictions" not in document:
            raise DecodeError("missing key 'predictions'")
        return document["predictions"]

    def _malform(self, variant: str, document: dict) -> dict:
        body = document.get(self.top_key)
        out = dict(document)
        if self.format == "dataframe_split":
            if type(body) is not dict or type(body.get("data")) is not list:
                raise NotApplicable("document has no dataframe_split data")
            split = dict(body)
            if variant == WRONG_SHAPE:
                # Every row one value short of `columns`.
                split["data"] = [list(r[:-1]) if type(r) is list else r for r in body["data"]]
            else:
                # A 3-D `data`: each row wrapped in one more list.
                split["data"] = [[r] for r in body["data"]]
            out[self.top_key] = split
        elif self.format == "dataframe_records":
            if type(body) is not list:
                raise NotApplicable("document has no dataframe_records list")
            # wrong_shape: one bare record instead of a list; wrong_rank: each record nested.
            out[self.top_key] = (body[0] if body else {}) if variant == WRONG_SHAPE else [[r] for r in body]
        else:
            if type(body) is not dict:
                raise NotApplicable("document has no inputs object")
            if variant == WRONG_SHAPE:
                if len(body) < 2:
                    raise NotApplicable("a single column cannot disagree in length with another")
                # The first column one value short of the others.
                first = next(iter(body))
                cols = dict(body)
                cols[first] = list(body[first][:-1]) if type(body[first]) is list else body[first]
            else:
                # Each column a 2-D array of one-value rows instead of a 1-D array.
                cols = {c: [[v] for v in vs] if type(vs) is list else [[vs]] for c, vs in body.items()}
            out[self.top_key] = cols
        return out
