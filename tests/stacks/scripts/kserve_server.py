"""A KServe 0.21 Python ModelServer serving one sklearn model over v1 and v2, on 127.0.0.1 only.

Run as `<kserve venv>/bin/python kserve_server.py MODEL_DIR PORT`. The model is `cancer`:

- v1 `/v1/models/cancer:predict` takes `{"instances": [{feature: value, ...}, ...]}` (objects
  keyed by sklearn's own column names, spaces included) and answers P(malignant), P(benign)
  per instance;
- v2 `/v2/models/cancer/infer` is Triton-like: it demands ONE input named `features`, datatype
  FP32, shape [n, 30], and answers 400 (KServe's InvalidInput) for any other name, datatype or
  shape. The answer's `model_version` is MODEL_VERSION; `GET /v2/models/cancer` declares the
  input, so `mlstress init` can read it.

KServe's RESTServer hardcodes uvicorn's host to 0.0.0.0 and has no option for it; this script
makes every uvicorn.Config in this process bind 127.0.0.1 instead (the test checks the listening
socket). gRPC is turned off. KServe parses sys.argv at import, so this script takes positional
arguments only, which its parser ignores.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import uvicorn

MODEL_VERSION = "1.0.3"
INPUT_NAME = "features"


class _LoopbackConfig(uvicorn.Config):
    def __init__(self, *args, **kwargs):
        kwargs["host"] = "127.0.0.1"
        super().__init__(*args, **kwargs)


uvicorn.Config = _LoopbackConfig  # before kserve imports it (rest/server.py reads uvicorn.Config at call time)

import kserve  # noqa: E402
from kserve.errors import InvalidInput  # noqa: E402
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse  # noqa: E402


class Cancer(kserve.Model):
    def __init__(self, name: str, model_dir: Path):
        super().__init__(name)
        self.model_dir = model_dir
        self.model = None
        self.columns: list[str] = []

    def load(self) -> bool:
        self.model = joblib.load(self.model_dir / "model.joblib")
        self.columns = list(self.model.feature_names_in_)
        self.ready = True
        return self.ready

    def get_input_types(self) -> list[dict]:
        return [{"name": INPUT_NAME, "datatype": "FP32", "shape": [-1, len(self.columns)]}]

    def get_output_types(self) -> list[dict]:
        return [{"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]}]

    def _v2(self, request: InferRequest) -> InferResponse:
        if len(request.inputs) != 1 or request.inputs[0].name != INPUT_NAME:
            names = [i.name for i in request.inputs]
            raise InvalidInput(f"expected one input named {INPUT_NAME!r}, got {names}")
        tensor = request.inputs[0]
        if tensor.datatype != "FP32":
            raise InvalidInput(f"input {INPUT_NAME!r} must be FP32, got {tensor.datatype}")
        shape = list(tensor.shape)
        if len(shape) != 2 or shape[1] != len(self.columns):
            raise InvalidInput(f"input {INPUT_NAME!r} must have shape [n, {len(self.columns)}], got {shape}")
        try:
            x = np.asarray(tensor.data, dtype=np.float32).reshape(shape)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"input {INPUT_NAME!r}: {exc}") from None
        p = self.model.predict_proba(pd.DataFrame(x.astype(np.float64), columns=self.columns))
        out = InferOutput("probabilities", list(p.shape), "FP64", p.ravel().tolist())
        response_id = request.id or str(uuid.uuid4())  # the request may carry none; KServe's response needs one
        return InferResponse(response_id, self.name, [out], model_version=MODEL_VERSION)

    def predict(self, payload, headers=None):
        if isinstance(payload, InferRequest):
            return self._v2(payload)
        instances = payload.get("instances") if isinstance(payload, dict) else None
        if not isinstance(instances, list) or not all(isinstance(r, dict) for r in instances):
            raise InvalidInput('expected {"instances": [{feature: value, ...}, ...]}')
        frame = pd.DataFrame(instances)
        missing = [c for c in self.columns if c not in frame.columns]
        extra = [c for c in frame.columns if c not in self.columns]
        if missing or extra:
            raise InvalidInput(f"missing features {missing[:3]}, unknown features {extra[:3]}")
        try:
            x = frame[self.columns].astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"non-numeric feature value: {exc}") from None
        if not np.isfinite(x.to_numpy()).all():
            raise InvalidInput("feature values must be finite numbers")
        return {"predictions": self.model.predict_proba(x).tolist()}


if __name__ == "__main__":
    model_dir, port = Path(sys.argv[1]), int(sys.argv[2])
    model = Cancer("cancer", model_dir)
    model.load()
    kserve.ModelServer(http_port=port, enable_grpc=False, workers=1).start([model])
