"""Samples shared by tests: small valid profiles as TOML text, facts about the quickstart."""

# A valid parametric profile touching every section the error cases edit.
PARAM = """\
seed = 7

[target]
path = "/predict"
codec = "kserve_v1"

[output]
type = "binary"

[[features]]
name = "x"
type = "float"
min = 0
distribution = { kind = "normal", mean = 5, std = 1 }

[[features]]
name = "plan"
type = "category"
categories = ["a", "b"]
distribution = { kind = "categorical" }

[[features]]
name = "note"
type = "text"
required = false
distribution = { kind = "text", vocabulary = ["hi", "there"] }

[source]
type = "parametric"

[source.label_model]
type = "logistic"
weights = { x = 0.5, "plan=b" = 1.0 }

[mix]
clean = 1
drifted = 1
malformed = 1
oversized = 1

[drift.shift]
type = "mean_shift"
features = ["x"]
shift = 1.0
"""

# The same without drift: what a default-heavy profile looks like.
MINIMAL = PARAM.replace("drifted = 1\n", "").split("\n[drift.shift]")[0] + "\n"

# The v2 datatype of each quickstart feature, as the reference server declares it.
QUICKSTART_V2_TYPES = {
    "age": "INT64",
    "income_k": "FP64",
    "tenure_months": "INT64",
    "monthly_charges": "FP64",
    "plan": "BYTES",
    "autopay": "BOOL",
    "support_tickets": "INT64",
    "last_note": "BYTES",
}
