"""Label-only answers and the model version in the body, decoded by the real codecs.

MLflow's default pyfunc `predict` answers `{"predictions": [1, 0, ...]}` and MLServer's sklearn
runtime an INT64 `predict` tensor: class labels, which read as probabilities would make ECE
equal the error rate. Each test decodes the answer such a server gives and checks the flag, the
probability-shaped predictions and the version; the last ones run a real MLUser against a
local server to see both reach `MLResult` and the run.
"""

from __future__ import annotations

import argparse
import json

import pytest
from gevent.pywsgi import WSGIServer
from locust import constant
from locust.env import Environment

from locust_mlstress import MLHttpUser, MLUser, ml_events
from locust_mlstress.codecs import Decoded, DecodeError, make_codec
from locust_mlstress.codecs.base import MAX_VERSION_CHARS
from locust_mlstress.domain.outcomes import Outcome
from locust_mlstress.domain.schema import Expectation, Feature, Output, Target
from locust_mlstress.users.context import context_of
from locust_mlstress.users.outcomes import classify, classify_answer

FEATURES = (Feature("x", "float"), Feature("k", "int"))
CLASSES = ("low", "mid", "high")
OUTPUTS = {
    "binary": Output("binary"),
    "named": Output("binary", classes=("benign", "malignant")),
    "multiclass": Output("multiclass", classes=CLASSES),
    "regression": Output("regression"),
}


def codec(name: str, output: str = "binary", **options):
    return make_codec(Target(path="/p", codec=name, **options), FEATURES, OUTPUTS[output])


def body(document: object) -> bytes:
    return json.dumps(document).encode()


def v2_answer(datatype: str, data: list, shape: list, name: str = "predict", version: object = "v3") -> bytes:
    document = {"model_name": "m", "outputs": [{"name": name, "datatype": datatype, "shape": shape, "data": data}]}
    if version is not None:
        document["model_version"] = version
    return body(document)


# --- binary --------------------------------------------------------------------------------


def test_mlflow_default_predict_is_hard_answers_judged_over_the_kind() -> None:
    """Integers 0/1 are the same number read as a label or as a probability written without a
    fraction: not labels per answer; the kind decides (figures.answers, test_quality_labels)."""
    got = codec("mlflow").decode_result(body({"predictions": [1, 0, 1]}), 3)
    assert got == Decoded([1.0, 0.0, 1.0], labels_only=False, model_version=None)
    assert all(type(p) is float for p in got.predictions)


def test_a_confident_probability_server_writing_1_is_not_labels() -> None:
    """JavaScript/Go write 1.0 as 1; at batch 1 a confident model answers [1]."""
    assert codec("kserve_v1").decode_result(body({"predictions": [1]}), 1) == Decoded([1.0], labels_only=False)


def test_float_labels_are_hard_answers_too() -> None:
    """sklearn trained on float y, a v2 FP64 predict: [1.0, 0.0] is recorded, then judged by kind."""
    got = codec("v2").decode_result(v2_answer("FP64", [1.0, 0.0], [2]), 2)
    assert got == Decoded([1.0, 0.0], labels_only=False, model_version="v3")


def int_classes(output: str, classes: tuple[str, ...]):
    return make_codec(Target(path="/p", codec="mlflow"), FEATURES, Output(output, classes=classes))


def test_integer_class_names_map_integer_answers_by_name_not_position() -> None:
    """`mlstress init` writes integer labels' classes as sorted strings: ("1", "2", "3")."""
    c = int_classes("multiclass", ("1", "2", "3"))
    got = c.decode_result(body({"predictions": [1, 3, 2]}), 3)
    assert got == Decoded([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], labels_only=True)
    with pytest.raises(DecodeError, match=r"prediction 0 is 0, not a class id \(1, 2, 3\)"):
        c.decode_result(body({"predictions": [0]}), 1)


def test_non_integer_class_names_keep_positions() -> None:
    c = int_classes("multiclass", ("a", "b", "c"))
    assert c.decode_result(body({"predictions": [0, 2]}), 2).predictions == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]


def test_binary_integer_class_names_map_by_name() -> None:
    """Classes ("1", "2"): 2 is the positive class, 1 the negative; certain labels."""
    c = int_classes("binary", ("1", "2"))
    assert c.decode_result(body({"predictions": [2, 1]}), 2) == Decoded([1.0, 0.0], labels_only=True)
    with pytest.raises(DecodeError, match="outside"):
        c.decode_result(body({"predictions": [3]}), 1)
    # among probabilities, a 1 is a probability written without a fraction
    assert c.decode_result(body({"predictions": [1, 0.25]}), 2) == Decoded([1.0, 0.25], labels_only=False)


def test_v2_integer_output_maps_by_class_name() -> None:
    c = make_codec(Target(path="/p", codec="v2"), FEATURES, Output("binary", classes=("1", "2")))
    assert c.decode_result(v2_answer("INT64", [2, 1], [2]), 2) == Decoded([1.0, 0.0], True, "v3")
    with pytest.raises(DecodeError, match=r"prediction 0 is 0, not a class id \(1, 2\) of a INT64 output"):
        c.decode_result(v2_answer("INT64", [0], [1]), 1)
    m = make_codec(Target(path="/p", codec="v2"), FEATURES, Output("multiclass", classes=("1", "2", "3")))
    assert m.decode_result(v2_answer("INT64", [3], [1]), 1).predictions == [[0.0, 0.0, 1.0]]


@pytest.mark.parametrize("datatype", ["INTEGER", "INT64x", "BOOLEAN", "UINT", "int64", "INT" + "9" * 300])
def test_v2_only_exact_integer_datatypes_type_an_output(datatype: str) -> None:
    """A datatype that only starts like an integer one is untyped: read as probabilities, and
    never quoted into a failure text."""
    got = codec("v2").decode_result(v2_answer(datatype, [0.25], [1]), 1)
    assert got == Decoded([0.25], labels_only=False, model_version="v3")
    with pytest.raises(DecodeError) as err:
        codec("v2").decode_result(v2_answer(datatype, [2], [1]), 1)
    assert datatype not in err.value.reason


def test_mlflow_predict_proba_is_probabilities() -> None:
    got = codec("mlflow").decode_result(body({"predictions": [[0.8, 0.2], [0.1, 0.9]]}), 2)
    assert got == Decoded([0.2, 0.9], labels_only=False)


@pytest.mark.parametrize("datatype", ["INT64", "INT32", "UINT8", "BOOL"])
def test_v2_integer_or_boolean_output_is_labels_whatever_the_values(datatype: str) -> None:
    data = [True, False, True] if datatype == "BOOL" else [1, 0, 1]
    got = codec("v2").decode_result(v2_answer(datatype, data, [3, 1]), 3)
    assert got == Decoded([1.0, 0.0, 1.0], labels_only=True, model_version="v3")


def test_v2_predict_proba_output_is_probabilities_and_names_its_version() -> None:
    answer = v2_answer("FP64", [0.7, 0.3, 0.2, 0.8], [2, 2], name="predict_proba", version="2024-05")
    got = codec("v2", v2_outputs=("predict_proba",)).decode_result(answer, 2)
    assert got == Decoded([0.3, 0.8], labels_only=False, model_version="2024-05")


@pytest.mark.parametrize(
    "datatype,data,reason",
    [
        ("INT64", [2], r"prediction 0 is 2, not a class id \(0 or 1\) of a INT64 output"),
        ("INT64", [0.5], "prediction 0 is a number, expected a class id in a INT64 output"),
        ("INT64", [[0, 1]], "expected a class id in a INT64 output"),
    ],
)
def test_v2_integer_output_that_holds_no_label_is_undecodable(datatype: str, data: list, reason: str) -> None:
    shape = [1, 2] if isinstance(data[0], list) else [1]
    flat = data[0] if isinstance(data[0], list) else data
    with pytest.raises(DecodeError, match=reason):
        codec("v2").decode_result(v2_answer(datatype, flat, shape), 1)


def test_class_names_are_labels() -> None:
    got = codec("kserve_v1", "named").decode_result(body({"predictions": ["malignant", "benign"]}), 2)
    assert got == Decoded([1.0, 0.0], labels_only=True)
    got = codec("kserve_v1").decode_result(body({"predictions": ["1", "0"]}), 2)  # default classes "0", "1"
    assert got == Decoded([1.0, 0.0], labels_only=True)


def test_booleans_are_labels() -> None:
    assert codec("kserve_v1").decode_result(body({"predictions": [True, False]}), 2) == Decoded([1.0, 0.0], True)


def test_an_integer_among_probabilities_is_a_probability_written_without_a_fraction() -> None:
    """JavaScript's JSON.stringify writes 1.0 as 1: that answer is probabilities, not a mix."""
    got = codec("kserve_v1").decode_result(body({"predictions": [1, 0.25, 0]}), 3)
    assert got == Decoded([1.0, 0.25, 0.0], labels_only=False)


@pytest.mark.parametrize("predictions", [["malignant", 0.3], [0.3, True], [[0.2, 0.8], "benign"]])
def test_names_or_booleans_mixed_with_probabilities_are_undecodable(predictions: list) -> None:
    with pytest.raises(DecodeError, match="mixes class labels and probabilities"):
        codec("kserve_v1", "named").decode_result(body({"predictions": predictions}), len(predictions))


def test_single_element_rows_of_labels() -> None:
    """TF Serving style [[1], [0]]: one label per instance."""
    got = codec("tfserving").decode_result(body({"predictions": [[1], [0]]}), 2)
    assert got == Decoded([1.0, 0.0], labels_only=False)  # hard answers: judged over the kind


def test_a_pair_of_integers_stays_a_probability_pair() -> None:
    got = codec("kserve_v1").decode_result(body({"predictions": [[0, 1], [1, 0]]}), 2)
    assert got == Decoded([1.0, 0.0], labels_only=False)


def test_an_unknown_string_is_still_no_number() -> None:
    with pytest.raises(DecodeError, match="prediction 0 is a string, not a number"):
        codec("kserve_v1", "named").decode_result(body({"predictions": ["maybe"]}), 1)


# --- multiclass ----------------------------------------------------------------------------


def test_multiclass_class_ids_and_names_become_one_hot() -> None:
    want = Decoded([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], labels_only=True)
    assert codec("mlflow", "multiclass").decode_result(body({"predictions": [2, 0, 1]}), 3) == want
    assert codec("mlflow", "multiclass").decode_result(body({"predictions": ["high", "low", "mid"]}), 3) == want
    assert codec("kserve_v1", "multiclass").decode_result(body({"predictions": [[2], [0], [1]]}), 3) == want
    got = codec("v2", "multiclass").decode_result(v2_answer("INT64", [2, 0, 1], [3]), 3)
    assert got == Decoded(want.predictions, True, "v3")


def test_multiclass_one_hot_rows_are_independent_lists() -> None:
    got = codec("kserve_v1", "multiclass").decode_result(body({"predictions": [1, 1]}), 2)
    got.predictions[0][0] = 0.5
    assert got.predictions[1] == [0.0, 1.0, 0.0]


@pytest.mark.parametrize(
    "predictions,reason",
    [
        ([3], r"prediction 0 is 3, not a class id \(0..2\)"),
        ([-1], r"prediction 0 is -1, not a class id \(0..2\)"),
        ([2, [0.1, 0.2, 0.7]], "mixes class labels and probabilities"),
        (["high", {"low": 0.1, "mid": 0.1, "high": 0.8}], "mixes class labels and probabilities"),
        ([1.0], "is a number, expected 3 class probabilities"),
        (["top"], "is a string, expected 3 class probabilities"),
    ],
)
def test_multiclass_bad_labels(predictions: list, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        codec("kserve_v1", "multiclass").decode_result(body({"predictions": predictions}), len(predictions))


def test_multiclass_probabilities_unchanged() -> None:
    got = codec("kserve_v1", "multiclass").decode_result(body({"predictions": [[0.2, 0.3, 0.5]]}), 1)
    assert got == Decoded([[0.2, 0.3, 0.5]], labels_only=False)


# --- regression and the generic codec ------------------------------------------------------


def test_regression_integers_are_values_not_labels() -> None:
    assert codec("mlflow", "regression").decode_result(body({"predictions": [3, 4]}), 2) == Decoded([3.0, 4.0])
    got = codec("v2", "regression").decode_result(v2_answer("INT64", [3, 4], [2]), 2)
    assert got == Decoded([3.0, 4.0], labels_only=False, model_version="v3")


def test_generic_codec_reads_labels_through_its_paths() -> None:
    c = codec("json", body_template='{"rows": "$rows"}', response_path="result", item_path="label")
    got = c.decode_result(body({"result": [{"label": 1}, {"label": 0}], "model_version": "fastapi-7"}), 2)
    assert got == Decoded([1.0, 0.0], labels_only=False, model_version="fastapi-7")  # hard: judged by kind


# --- model version -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,document,want",
    [
        ("kserve_v1", {"predictions": [0.5], "model_version": "3"}, "3"),
        ("mlflow", {"predictions": [0.5], "model_version": 12}, "12"),
        ("mlflow", [0.5], None),  # MLflow 1.x: a bare list has nowhere to say it
        ("kserve_v1", {"predictions": [0.5], "model_version": ["3"]}, None),
        ("kserve_v1", {"predictions": [0.5], "model_version": ""}, None),
        ("kserve_v1", {"predictions": [0.5], "model_version": True}, None),
        ("kserve_v1", {"predictions": [0.5]}, None),
    ],
)
def test_version_in_the_body(name: str, document: object, want: str | None) -> None:
    assert codec(name).decode_result(body(document), 1).model_version == want


def test_a_huge_version_is_cut() -> None:
    got = codec("kserve_v1").decode_result(body({"predictions": [0.5], "model_version": "v" * 10_000}), 1)
    assert got.model_version == "v" * MAX_VERSION_CHARS


def test_decode_keeps_returning_the_predictions_list() -> None:
    assert codec("mlflow").decode(body({"predictions": [1, 0]}), 2) == [1.0, 0.0]


def test_classify_answer_passes_the_decoded_answer_on() -> None:
    c = codec("v2")
    answer = v2_answer("INT64", [1], [1])
    outcome, decoded, reason = classify_answer("clean", Expectation(("2xx",)), 200, None, answer, c, 1)
    assert (outcome, decoded, reason) == (Outcome.OK, Decoded([1.0], True, "v3"), None)
    assert classify("clean", Expectation(("2xx",)), 200, None, answer, c, 1) == (Outcome.OK, [1.0], None)
    outcome, decoded, reason = classify_answer("clean", Expectation(("2xx",)), 503, None, b"", c, 1)
    assert (outcome, decoded, reason) == (Outcome.SERVER_ERROR, None, "server error 503")


# --- through a real user ---------------------------------------------------------------------


def serve(answer: bytes, headers: list[tuple[str, str]] = ()) -> WSGIServer:
    def app(environ, start_response):
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/json"), *headers])
        return [answer]

    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    return server


def run_user(base, profile, answer: bytes, headers=(), version_header: str | None = None):
    server = serve(answer, list(headers))
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        user_class = type("Labelled", (base,), {"profile": profile, "host": url, "wait_time": constant(0)})
        environment = Environment(user_classes=[user_class], host=url)
        environment.parsed_options = argparse.Namespace(ml_version_header=version_header)
        seen: list = []
        ml_events(environment).add_listener(lambda payload, result, **_kw: seen.append(result))
        user = user_class(environment)
        user.on_start()
        sent = 0
        while sent < 2:
            payload = user._factory.next()
            if payload.kind == "clean":
                user._send(payload, user._champion, payload.request_id, None)
                sent += 1
        user.on_stop()
    finally:
        server.stop(timeout=1)
    return seen, environment


@pytest.mark.parametrize("base", [MLUser, MLHttpUser], ids=["fast", "http"])
def test_a_user_records_labels_only_and_the_body_version(quickstart, base) -> None:
    seen, environment = run_user(base, quickstart, body({"predictions": [True], "model_version": "7"}))
    assert [(r.outcome, r.predictions, r.labels_only, r.model_version) for r in seen] == [
        ("ok", [1.0], True, "7"),
        ("ok", [1.0], True, "7"),
    ]
    assert context_of(environment).model_version == "7"


@pytest.mark.parametrize("base", [MLUser, MLHttpUser], ids=["fast", "http"])
def test_the_configured_header_wins_over_the_body(quickstart, base) -> None:
    answer = body({"predictions": [0.25], "model_version": "7"})
    seen, environment = run_user(base, quickstart, answer, [("X-Model-Version", "8")], "X-Model-Version")
    assert [(r.labels_only, r.model_version) for r in seen] == [(False, "7"), (False, "7")]
    assert context_of(environment).model_version == "8"
