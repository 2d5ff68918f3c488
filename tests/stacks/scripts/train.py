"""Fit the small model a stack will serve, inside that stack's own virtualenv.

Run as `<stack venv>/bin/python train.py FLAVOR OUT`; it imports only what the stack installed
(scikit-learn, pandas, and mlflow for the mlflow flavor), never locust_mlstress. It writes:

- OUT/data.csv: sklearn's breast cancer data (569 rows, its own column names, spaces and all)
  with the label in `target` (0 = malignant, 1 = benign): the dataset source a profile resamples;
- OUT/offline.json: the model's P(benign) for every row of data.csv, computed here, in the
  process that fitted it: what the tests bootstrap the offline ECE and Brier from;
- the model where the server wants it (FLAVOR: mlserver, mlflow, kserve).

The model is fitted on half of the rows with a strong L2 penalty, so it errs on some rows and is
not perfectly calibrated: an ECE of 0 would make the comparison meaningless.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import joblib
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

MODEL_VERSION = "1.0.3"


def fit():
    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target
    X_train, _, y_train, _ = train_test_split(X, y, train_size=0.5, stratify=y, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.02, max_iter=1000))
    model.fit(X_train, y_train)
    return model, X, y


def mlserver_settings(features: int) -> dict:
    """The sklearn runtime, with inputs declared as one FP32 tensor named `input-0`, [n, 30]."""
    return {
        "name": "cancer",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": MODEL_VERSION},
        "inputs": [{"name": "input-0", "datatype": "FP32", "shape": [-1, features]}],
    }


def main(flavor: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model, X, y = fit()
    frame = X.copy()
    frame["target"] = y
    frame.to_csv(out / "data.csv", index=False)
    p = model.predict_proba(X)[:, 1]
    (out / "offline.json").write_text(json.dumps({"p": p.tolist(), "y": y.tolist(), "version": MODEL_VERSION}))
    if flavor == "mlserver":
        folder = out / "models" / "cancer"
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, folder / "model.joblib")
        (folder / "model-settings.json").write_text(json.dumps(mlserver_settings(X.shape[1]), indent=2))
    elif flavor == "mlflow":
        import mlflow.sklearn
        from mlflow.models import infer_signature

        signature = infer_signature(X, model.predict(X))
        mlflow.sklearn.save_model(model, out / "mlflow-labels", signature=signature)
        proba = infer_signature(X, model.predict_proba(X))
        mlflow.sklearn.save_model(model, out / "mlflow-proba", signature=proba, pyfunc_predict_fn="predict_proba")
    elif flavor == "kserve":
        joblib.dump(model, out / "model.joblib")
    else:
        raise SystemExit(f"unknown flavor {flavor!r}: mlserver, mlflow or kserve")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
