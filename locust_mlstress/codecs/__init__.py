"""Wire formats of model-serving APIs: rows in, request bodies out; response bodies in,
validated per-instance predictions out.

The rest of the library only ever calls `make_codec` and the `Codec` interface, so adding a
serving protocol means adding a module and one registry entry here.
"""

from __future__ import annotations

from locust_mlstress.codecs.base import (
    STRUCTURAL_VARIANTS,
    WRONG_DATATYPE,
    WRONG_RANK,
    WRONG_SHAPE,
    WRONG_TOP_LEVEL_KEY,
    Codec,
    Decoded,
    DecodeError,
    NotApplicable,
    answer_checker,
    option_error,
    prediction_checker,
)
from locust_mlstress.codecs.generic import JSONCodec
from locust_mlstress.codecs.mlflow import MLflowCodec
from locust_mlstress.codecs.v1 import KServeV1Codec, TFServingCodec
from locust_mlstress.codecs.v2 import V2Codec
from locust_mlstress.domain.schema import Feature, Output, Target

_REGISTRY: dict[str, type[Codec]] = {
    "kserve_v1": KServeV1Codec,
    "tfserving": TFServingCodec,
    "v2": V2Codec,
    "mlflow": MLflowCodec,
    "json": JSONCodec,
}
CODEC_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def make_codec(target: Target, features: tuple[Feature, ...], output: Output) -> Codec:
    """Build the codec `target.codec` names; raises ProfileError for unknown names or bad options."""
    try:
        cls = _REGISTRY[target.codec]
    except KeyError:
        known = ", ".join(CODEC_NAMES)
        raise option_error("codec", f"{target.codec!r} is not one of {known}") from None
    return cls(target, tuple(features), output)


__all__ = [
    "CODEC_NAMES",
    "STRUCTURAL_VARIANTS",
    "WRONG_DATATYPE",
    "WRONG_RANK",
    "WRONG_SHAPE",
    "WRONG_TOP_LEVEL_KEY",
    "Codec",
    "DecodeError",
    "Decoded",
    "JSONCodec",
    "KServeV1Codec",
    "MLflowCodec",
    "NotApplicable",
    "TFServingCodec",
    "V2Codec",
    "answer_checker",
    "make_codec",
    "prediction_checker",
]
