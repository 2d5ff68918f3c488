"""Our figures where teams already look: Prometheus's exposition format and OpenTelemetry.

`samples.py` turns a run's figures into named metrics once (pure, no client library), so both
exports say the same thing under the same names; `prometheus.py` and `otel.py` only translate
that list into their client library's types. docs/observe.md lists every metric.
"""
