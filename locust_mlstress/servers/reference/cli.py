"""Command line of the reference server, shared with `mlstress serve`.

The flags map one to one onto `ServerKnobs`, and `knobs_to_argv` is their inverse, so a
`ReferenceServer` started from Python passes exactly the knobs it was given to its subprocess.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import fields
from types import SimpleNamespace
from typing import Any

from locust_mlstress.servers.reference.knobs import (
    CHAOS_MODES,
    LAX_MODES,
    ServerKnobs,
    knob_problems,
    output_problems,
)
from locust_mlstress.servers.reference.training import TRAIN_SAMPLES

DEFAULTS = ServerKnobs()


def chaos_modes(text: str) -> tuple[str, ...]:
    """`--chaos nan,reset` -> ("nan", "reset"); `all` names every mode, `off` none. Unknown names
    are left in for `ServerKnobs` to report, together with any other bad knob."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if names == ("all",):
        return CHAOS_MODES
    return () if names == ("off",) else names


# knob field -> (flag, type, help)
KNOB_FLAGS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "latency_ms": ("--latency-ms", float, "fixed latency added to every predict request, in ms"),
    "jitter_ms": ("--jitter-ms", float, "mean of an exponential random extra latency, in ms"),
    "error_rate": ("--error-rate", float, "share of predict requests answered 500 at random (0..1)"),
    "temperature": ("--temperature", float, "divide logits by this before sigmoid/softmax (1 = calibrated)"),
    "drift_degradation": (
        "--drift-degradation",
        float,
        "std of Gaussian noise added to the logit of inputs that look drifted",
    ),
    "concurrency_latency_ms": (
        "--concurrency-latency-ms",
        float,
        "latency added per request in flight, in ms (latency grows with concurrency)",
    ),
    "load_noise": (
        "--load-noise",
        float,
        "std of Gaussian noise added to every logit per other request in flight (answers vary under load)",
    ),
    "lax": ("--lax", str, "input validation: off (strict), accept (never reject), crash (500 on bad input)"),
    "max_body_bytes": ("--max-body-bytes", int, "largest accepted request body (413 above)"),
    "max_instances": ("--max-instances", int, "largest accepted batch (413 above)"),
    "max_fields": ("--max-fields", int, "most keys accepted in one instance (413 above)"),
    "seed": ("--seed", int, "seed of the jitter, error and drift-noise draws"),
    "model_version": ("--model-version", str, "model version sent in the X-Model-Version header"),
    "chaos": (
        "--chaos",
        chaos_modes,
        f"answer valid predict requests badly, one of these modes each (comma-separated, or all): "
        f"{', '.join(CHAOS_MODES)}",
    ),
    "chaos_share": ("--chaos-share", float, "share of valid predict requests answered in a chaos mode (0..1)"),
    "chaos_stall_s": ("--chaos-stall-s", float, "seconds the hang mode waits and the drip mode trickles its body"),
    "chaos_huge_bytes": ("--chaos-huge-bytes", int, "size of the huge mode's body"),
    "flip_share": (
        "--flip-share",
        float,
        "share of inputs answered with another class, chosen by a seeded hash of the input (a reference "
        "challenger; pair it with --model-version 2)",
    ),
}


GiB = 1 << 30
# flag -> (least, most): every numeric option's allowed range, checked before anything is built,
# so a value out of range is one line naming the flag (argparse only checks the type). The upper
# ends keep a typo from taking the machine: the model is fitted in memory on --train-samples
# rows (a million fits in well under a GB and a minute), a request body up to --max-body-bytes is
# buffered, and the huge chaos body is streamed but still counted per answer.
RANGES: dict[str, tuple[float, float]] = {
    "--port": (0, 65535),
    "--train-samples": (10, 1_000_000),
    "--latency-ms": (0, 3_600_000),
    "--jitter-ms": (0, 3_600_000),
    "--concurrency-latency-ms": (0, 3_600_000),
    "--error-rate": (0, 1),
    "--chaos-share": (0, 1),
    "--flip-share": (0, 1),
    "--temperature": (1e-6, 1e6),
    "--drift-degradation": (0, 1e6),
    "--load-noise": (0, 1e6),
    "--max-body-bytes": (1, GiB),
    "--max-instances": (1, 10_000_000),
    "--max-fields": (1, 10_000_000),
    "--seed": (0, 2**63 - 1),
    "--chaos-stall-s": (0.001, 3600),
    "--chaos-huge-bytes": (1, GiB),
}


def range_problems(args: argparse.Namespace) -> list[str]:
    """Each numeric option outside its range (or not finite), as `--flag: must be ..., got ...`."""
    dests = {flag: name for name, (flag, _, _) in KNOB_FLAGS.items()} | {
        "--port": "port",
        "--train-samples": "train_samples",
    }
    problems = []
    for flag, (least, most) in RANGES.items():
        value = getattr(args, dests[flag], None)
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value) or not least <= value <= most:
            problems.append(f"{flag}: must be from {_number(least)} to {_number(most)}, got {value!r}")
    return problems


def option_problems(args: argparse.Namespace) -> list[str]:
    """Every bad option at once, on one line: the knobs' own checks (`knob_problems`, which name a
    knob as `error_rate`), then each numeric flag outside its range whose knob passed them."""
    values = {f.name: getattr(args, f.name, getattr(DEFAULTS, f.name)) for f in fields(ServerKnobs)}
    knob_messages = knob_problems(SimpleNamespace(**values))  # type: ignore[arg-type]
    failed = {flag for name, (flag, _, _) in KNOB_FLAGS.items() if any(m.startswith(f"{name} ") for m in knob_messages)}
    return knob_messages + [p for p in range_problems(args) if p.split(":", 1)[0] not in failed]


def _number(x: float) -> str:
    """A bound as written: 0, 65535, 1073741824, 1e-06."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def add_server_arguments(parser: argparse.ArgumentParser, profile_required: bool = True) -> None:
    """Add the server's flags to a parser (the `mlstress serve` subcommand reuses this)."""
    parser.add_argument("--profile", required=profile_required, help="traffic profile (TOML) to fit the model to")
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--train-samples", type=int, default=TRAIN_SAMPLES, help="clean samples the model is fitted on")
    knobs = parser.add_argument_group("misbehaviour knobs (all off by default)")
    for name, (flag, kind, text) in KNOB_FLAGS.items():
        extra: dict[str, Any] = {"choices": LAX_MODES} if name == "lax" else {}
        default = getattr(DEFAULTS, name)
        if name == "chaos":
            extra, default = {"metavar": "MODE[,MODE...]"}, ",".join(default) or "off"
        knobs.add_argument(flag, dest=name, type=kind, default=default, help=f"{text} [%(default)s]", **extra)


def build_parser(prog: str = "python -m locust_mlstress.servers.reference") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Reference model server: a seeded model fitted to a traffic profile, on 127.0.0.1.",
    )
    add_server_arguments(parser)
    return parser


def knobs_from_args(args: argparse.Namespace) -> ServerKnobs:
    """The knobs of parsed arguments; raises ValueError listing every bad value at once."""
    return ServerKnobs(**{f.name: getattr(args, f.name) for f in fields(ServerKnobs) if hasattr(args, f.name)})


def knobs_to_argv(knobs: ServerKnobs) -> list[str]:
    """The flags that reproduce `knobs`, leaving defaults out."""
    argv: list[str] = []
    for name, (flag, _, _) in KNOB_FLAGS.items():
        value = getattr(knobs, name)
        if value != getattr(DEFAULTS, name):
            if isinstance(value, tuple):
                argv += [flag, ",".join(value)]
            else:
                argv += [flag, repr(value) if isinstance(value, float) else str(value)]
    return argv


def run(args: argparse.Namespace) -> int:
    """Load the profile, fit its model and serve forever; bad input is a message and exit status 2."""
    from locust_mlstress.profile import ProfileError, load_profile
    from locust_mlstress.servers.reference.server import serve  # ReferenceServer imports this module for argv
    from locust_mlstress.servers.reference.training import model_for_profile

    if problems := option_problems(args):
        print(f"error: {'; '.join(problems)}", file=sys.stderr)
        return 2
    try:
        knobs = knobs_from_args(args)
        profile = load_profile(args.profile)
        if problems := output_problems(knobs, profile.output.type):  # before the fit, which takes seconds
            raise ValueError("; ".join(problems))
        model = model_for_profile(profile, args.train_samples)
    except (ValueError, ProfileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        serve(profile, knobs, port=args.port, model=model)
    except KeyboardInterrupt:
        return 0
    except OSError as exc:  # the port is taken, most likely
        print(f"error: cannot serve on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None, prog: str = "python -m locust_mlstress.servers.reference") -> int:
    return run(build_parser(prog).parse_args(argv))
