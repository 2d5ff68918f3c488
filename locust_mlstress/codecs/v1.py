"""KServe v1 and TensorFlow Serving REST: `{"instances": [...]}` in, `{"predictions": [...]}` out.

Both protocols share the row format, so TF Serving is the v1 codec plus a signature name.
"""

from __future__ import annotations

from locust_mlstress.codecs.base import (
    WRONG_RANK,
    WRONG_SHAPE,
    WRONG_TOP_LEVEL_KEY,
    Codec,
    NotApplicable,
    Row,
    require_key,
)
from locust_mlstress.domain.schema import Feature, Output, Target


class KServeV1Codec(Codec):
    name = "kserve_v1"
    top_key = "instances"
    variants = frozenset({WRONG_TOP_LEVEL_KEY, WRONG_SHAPE, WRONG_RANK})

    def document(self, rows: list[Row]) -> dict:
        return {"instances": self.wired(rows)}

    def _items(self, document: object, n: int) -> object:
        return require_key(document, "predictions")

    def _malform(self, variant: str, document: dict) -> dict:
        instances = document.get("instances")
        if type(instances) is not list:
            raise NotApplicable("document has no 'instances' list")
        out = dict(document)
        if variant == WRONG_SHAPE:
            # One bare instance where the protocol demands a list of them.
            out["instances"] = instances[0] if instances else {}
        else:
            # Every instance one level deeper than the model's input: [[{...}], [{...}]].
            out["instances"] = [[row] for row in instances]
        return out


class TFServingCodec(KServeV1Codec):
    name = "tfserving"

    def __init__(self, target: Target, features: tuple[Feature, ...], output: Output) -> None:
        super().__init__(target, features, output)
        self._signature = target.signature_name

    def document(self, rows: list[Row]) -> dict:
        if self._signature is None:
            return {"instances": self.wired(rows)}
        return {"signature_name": self._signature, "instances": self.wired(rows)}
