"""Our command-line options (`--ml-*`) and their checks, before any traffic.

`add_options` runs in every process, and on each web UI page load (Locust rebuilds its form).
`check_options` judges every value as one ProfileError naming the option and the fix: at init
(plugin/checks.py, exit code 2) and from the web UI's start form alike.
"""

from __future__ import annotations

from locust.env import Environment

from locust_mlstress.errors import ProfileError
from locust_mlstress.http.origin import Origin
from locust_mlstress.plugin.outputs import check_outputs
from locust_mlstress.profile.gate_expression import GateError, parse_gates
from locust_mlstress.profile.load import header_problem
from locust_mlstress.quality.monitor import Warmup
from locust_mlstress.users.context import option

OPTIONS: tuple[tuple[str, dict], ...] = (
    ("--ml-profile", {"include_in_web_ui": True, "env_var": "MLSTRESS_PROFILE",
                      "help": "Traffic profile (.toml) for ML users; overrides a user class's `profile` attribute"}),
    ("--ml-baseline", {"include_in_web_ui": True,
                       "help": "Compare predictions with a baseline saved by an earlier run (--ml-save-baseline)"}),
    ("--ml-save-baseline", {"help": "Save this run's clean predictions as a baseline file at PATH"}),
    ("--ml-json", {"help": "Write the ML summary as JSON to PATH at the end of the run"}),
    ("--ml-html", {"help": "Write a self-contained HTML report with plots to PATH at the end of the run"}),
    ("--ml-csv", {"help": "Write PREFIX_ml_windows.csv: one row per time window and payload kind"}),
    ("--ml-window", {"default": "10", "help": "Seconds per time window of the ML figures (default 10)"}),
    ("--ml-warmup", {"default": "10s", "help": "Clean traffic that forms the warm-up baseline: seconds ('30s') "
                                               "or a prediction count ('500'); default 10s"}),
    ("--ml-consistency", {"help": "Share of requests that resend an earlier payload to check the answer "
                                  "stays the same (0-1); overrides the profile's [consistency] fraction"}),
    ("--ml-version-header", {"help": "Response header that carries the model version, recorded in reports"}),
    ("--ml-header", {"action": "append", "help": "Extra request header 'Name: value' (repeatable); its value is "
                                                "treated as a secret: never written to reports or manifests"}),
    ("--ml-gate", {"action": "append", "include_in_web_ui": True,
                   "help": "An SLO gate, e.g. 'p99_ms[clean] < 300'; several: 'A; B' in the web UI, the option "
                           "repeated on the command line; added to the profile's [gates]; exit code 3 if one fails "
                           "(docs/gates.md)"}),
    ("--ml-junit", {"help": "Write the gate verdicts as JUnit XML to PATH, one test case per gate"}),
    ("--ml-shape", {"help": "Load plan instead of the profile's [load], e.g. 'ramp users=50 up=30 hold=120' "
                            "(needs ProfileShape in the locustfile; docs/scenarios.md)"}),
    ("--ml-arrival-rate", {"help": "Open model (MLArrivalUser): arrivals per second per dispatcher user"}),
    ("--ml-arrival-process", {"choices": ["constant", "poisson"],
                              "help": "Open model: evenly spaced or Poisson arrivals (default: the class's)"}),
    ("--ml-artifacts", {"help": "Directory that gathers the run record: manifest, ML summary JSON and CSV, "
                                "Locust's CSV and HTML reports, sampled request traces"}),
    ("--ml-manifest", {"help": "Write the run's manifest (seed, profile hash, versions, command line without "
                               "secrets, host, times, workers, gate verdicts) to PATH"}),
    ("--ml-challenger", {"include_in_web_ui": True,
                         "help": "A challenger version's base URL: every ML request is also sent there, same bytes, "
                                 "and the two are compared (docs/compare.md); overrides [challenger] host"}),
    ("--ml-challenger-share", {"help": "Share of ML requests mirrored to the challenger (0-1, chosen by request "
                                       "id; default 1, or [challenger] share)"}),
    ("--ml-prometheus-port", {"help": "Serve the ML figures for Prometheus on PORT (path /metrics) from the local "
                                      "runner or master (docs/observe.md)"}),
    ("--ml-prometheus-host", {"default": "127.0.0.1", "help": "Address the Prometheus endpoint listens on "
                                                             "(default 127.0.0.1; 0.0.0.0 in a cluster)"}),
    ("--ml-prometheus-linger", {"default": "0", "help": "At the end of a run, keep serving the final figures until "
                                                       "Prometheus has scraped them once, at most this many seconds"}),
    ("--ml-generator-lag-ms", {"default": "50", "help": "A second whose event loop woke this many ms late (or "
                                                      "whose arrivals went out late) marks the load generator "
                                                      "saturated; latency from such spans is flagged unreliable "
                                                      "(default 50; docs/distributed.md)"}),
    ("--ml-trace-rate", {"default": "0.01", "help": "Share of requests kept as traces in --ml-artifacts "
                                                    "(0-1, chosen by request id; default 0.01)"}),
)  # fmt: skip


def add_options(parser, **_kwargs) -> None:
    # Added on the parser itself (not a group): only those can show in the web UI's form, and
    # Locust shows every option there unless told not to: only those marked include_in_web_ui do
    # (a header's secret value, or an output path on the master's disk, has no place in a form).
    # This event fires on every web UI page load: add each option once.
    known = {s for a in parser._actions for s in a.option_strings}
    for flag, kwargs in OPTIONS:
        if flag not in known:
            parser.add_argument(flag, **({"include_in_web_ui": False} | kwargs))


def check_options(environment: Environment) -> None:
    """Every --ml-* option that has a wrong value, as a ProfileError naming it and the fix."""
    try:
        window = float(option(environment, "ml_window", 10))
        if not window > 0:
            raise ValueError
    except ValueError:
        raise ProfileError(None, "--ml-window", "must be a number of seconds > 0, e.g. 10") from None
    try:
        Warmup.parse(option(environment, "ml_warmup", "10s"))
    except ValueError as exc:
        raise ProfileError(None, "--ml-warmup", str(exc).split(": ", 1)[1]) from None
    shares = (("ml_consistency", "--ml-consistency"), ("ml_trace_rate", "--ml-trace-rate"),
              ("ml_challenger_share", "--ml-challenger-share"))  # fmt: skip
    for name, flag in shares:
        share = option(environment, name)
        if share is None:
            continue
        try:
            if not 0 <= float(share) <= 1:
                raise ValueError
        except ValueError:
            raise ProfileError(None, flag, f"must be a share between 0 and 1, got {share!r}") from None
    if (url := option(environment, "ml_challenger")) is not None:
        try:
            Origin.parse(url)
        except ValueError as exc:
            raise ProfileError(None, "--ml-challenger", f"{exc}; give the challenger's base URL, "
                               "e.g. http://127.0.0.1:8081") from None  # fmt: skip
    lag = option(environment, "ml_generator_lag_ms", 50)
    try:
        if not float(lag) > 0:
            raise ValueError
    except ValueError:
        raise ProfileError(None, "--ml-generator-lag-ms", f"must be milliseconds > 0, e.g. 50, got {lag!r}") from None
    rate = option(environment, "ml_arrival_rate")
    if rate is not None:
        try:
            if not float(rate) > 0:
                raise ValueError
        except ValueError:
            raise ProfileError(None, "--ml-arrival-rate", f"must be arrivals per second > 0, got {rate!r}") from None
    try:
        parse_gates(option(environment, "ml_gate", []) or [])
    except GateError as exc:
        raise ProfileError(None, "", str(exc)) from None
    check_exports(environment)
    check_outputs(environment)  # every output path writable (folders created), before any traffic
    for header in option(environment, "ml_header", []) or []:
        if ":" not in header or not header.split(":", 1)[0].strip():
            raise ProfileError(None, "--ml-header", "must look like 'Name: value', e.g. 'Authorization: Bearer $TOKEN'")
        name, value = (part.strip() for part in header.split(":", 1))
        if problem := header_problem(name, value):
            raise ProfileError(None, "--ml-header", problem)


def check_exports(environment: Environment) -> None:
    """--ml-prometheus-port and -linger (whether the port is free is known only by listening on
    it, at init: plugin/observe.py)."""
    port = option(environment, "ml_prometheus_port")
    if port is not None:
        try:
            if not 1 <= int(port) <= 65535:
                raise ValueError
        except ValueError:
            raise ProfileError(None, "--ml-prometheus-port", f"must be a TCP port 1-65535, got {port!r}") from None
    linger = option(environment, "ml_prometheus_linger", 0)
    try:
        if not float(linger) >= 0:
            raise ValueError
    except ValueError:
        raise ProfileError(None, "--ml-prometheus-linger", f"must be seconds >= 0, e.g. 15, got {linger!r}") from None
