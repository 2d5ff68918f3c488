"""`mlstress`: check a profile, run the reference model server.

    mlstress init --data FILE --label COLUMN [--url URL | --codec NAME] [-o PROFILE]
                                   write a profile for your model from its data (docs/your-model.md)
    mlstress validate PROFILE      check a profile and print the traffic mix it describes
    mlstress serve [OPTIONS]       run the reference model server (see docs/server.md)
    mlstress proxy [OPTIONS]       inject faults between Locust and a target (see docs/faults.md)
    mlstress report DIR [-o PATH]  render the HTML report of a run saved with --ml-artifacts DIR

Load tests themselves run through `locust -f LOCUSTFILE`, as any Locust test does.
"""

from __future__ import annotations

import argparse
import sys

from locust_mlstress.errors import ProfileError
from locust_mlstress.profile import KINDS, Profile, load_profile
from locust_mlstress.profile.fields import printable


def describe(profile: Profile) -> str:
    """The profile in a few lines: target, schema, and each variant's share of all requests."""
    t = profile.target
    total = sum(profile.kind_weights.values())
    lines = [
        f"profile   {profile.name} ({printable(str(profile.path))})",
        f"seed      {profile.seed}",
        f"target    POST {t.path}  codec={t.codec}  batch_size={t.batch_size}  timeout={t.timeout:g}s",
        f"output    {profile.output.type}"
        + (f"  classes={', '.join(profile.output.classes)}" if profile.output.classes else ""),
        f"source    {type(profile.source).__name__.replace('Source', '').lower()}",
        "features  " + ", ".join(f"{f.name}:{f.type}{'' if f.required else '?'}" for f in profile.features),
        "",
        f"{'kind':<11}{'variant':<28}{'share':>8}  expects",
    ]
    for kind in KINDS:
        share = profile.kind_weights[kind] / total
        if share == 0:
            continue
        variants = profile.variants(kind)
        vsum = sum(w for _, w in variants) or 1.0
        for name, w in variants:
            expect = profile.expectation(kind, name)
            decodes = " + prediction" if expect.decodable and any(s.startswith("2") for s in expect.statuses) else ""
            lines.append(f"{kind:<11}{name:<28}{share * w / vsum:>8.1%}  {'/'.join(expect.statuses)}{decodes}")
    if profile.load is not None:
        lines += ["", f"load plan ({profile.load.shape}, {profile.load.duration:g} s)"]
        for row in profile.load.timeline():
            mix = ", ".join(f"{k} {w:g}" for k, w in row["mix"].items() if w) if row["mix"] else "profile [mix]"
            span = f"{row['start_s']:>6g}-{row['end_s']:<6g}s"
            lines.append(f"  {span}  {row['users']:>5} users  {row['name']:<14} {mix}")
    if profile.gates.checks:
        lines += ["", "gates"] + [f"  {g.text}" for g in profile.gates.checks]
    return "\n".join(lines)


def oversized_memory(profile: Profile) -> list[tuple[str, int]]:
    """(variant, estimated bytes) of each oversized body a process builds and keeps for the run
    (payloads/oversized.py builds every variant with a positive weight at start-up).

    Estimated, not built (building is what would take the memory): body_bytes is its `size`;
    huge_string is `size` plus one encoded row; large_batch is `size` times the bytes one more row
    adds to an encoded batch (the difference of 2 and 1 real rows, drawn with the profile's
    sampler and encoded by its codec); many_features is `size` times the bytes of one extra
    field as encoded, plus one row. While a body is built its rows also exist as Python objects,
    a passing peak of several times the body's bytes."""
    if not profile.oversized:
        return []
    import numpy as np

    from locust_mlstress.payloads.kit import kit_for  # each subcommand loads only its own modules
    from locust_mlstress.payloads.rows import to_rows

    kit = kit_for(profile)
    rows = to_rows(kit.sampler.draw(np.random.default_rng(profile.seed), 2).columns, 2)
    one, two = len(kit.codec.encode(rows[:1])), len(kit.codec.encode(rows))
    per_row = max(1, two - one)
    wide = dict(rows[0]) | {f"extra_{i}": 0.0 for i in range(10)}
    per_field = max(1, (len(kit.codec.encode([wide])) - one) // 10)
    out = []
    for v in profile.oversized:
        if v.weight <= 0:
            continue
        estimate = {"body_bytes": v.size, "huge_string": v.size + one, "large_batch": v.size * per_row}.get(
            v.name, one + v.size * per_field
        )
        out.append((v.name, estimate))
    return out


def _memory_lines(profile: Profile) -> list[str]:
    sizes = oversized_memory(profile)
    if not sizes:
        return []
    total = sum(n for _, n in sizes)
    parts = ", ".join(f"{name} {_mib(n)}" for name, n in sizes)
    return [
        "",
        f"memory    oversized bodies ~{_mib(total)} per Locust process ({parts}); built once per process at start",
    ]


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 / 10 else f"{n / 1024:.0f} KiB"


def _validate(args: argparse.Namespace) -> int:
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join([describe(profile), *_memory_lines(profile)]))
    print("\nprofile is valid")
    return 0


def _serve(args: argparse.Namespace, rest: list[str]) -> int:
    from locust_mlstress.servers.reference.cli import main as serve_main  # only `serve` needs the server

    return serve_main(rest, prog="mlstress serve")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mlstress", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    i = sub.add_parser("init", help="write a profile for your model from a data file (and probe its URL)")
    from locust_mlstress.onboard import add_arguments  # after the cheap parsers: `validate` stays light

    add_arguments(i)
    v = sub.add_parser("validate", help="check a profile and print its traffic mix")
    v.add_argument("profile", help="path of a .toml traffic profile")
    sub.add_parser("serve", help="run the reference model server (mlstress serve --help)", add_help=False)
    sub.add_parser("proxy", help="fault-injecting proxy to a target (mlstress proxy --help)", add_help=False)
    r = sub.add_parser("report", help="render the HTML report of a run saved with --ml-artifacts DIR")
    r.add_argument("dir", help="the directory a run wrote with --ml-artifacts DIR")
    r.add_argument("-o", "--output", help="where to write the page (default: DIR/report.html)")
    args, rest = parser.parse_known_args(argv)
    if args.command == "proxy":
        from locust_mlstress.servers.faultproxy.cli import main as proxy_main  # only `proxy` needs it

        return proxy_main(rest)
    if args.command == "report":
        from locust_mlstress.report.html import report_command  # only `report` needs it

        if rest:
            parser.error(f"unrecognised arguments: {' '.join(rest)}")
        return report_command(args.dir, args.output)
    if args.command == "init":
        from locust_mlstress.onboard import main as init_main  # only `init` runs it

        if rest:
            parser.error(f"unrecognised arguments: {' '.join(rest)}")
        return init_main(args)
    if args.command == "validate":
        if rest:
            parser.error(f"unrecognised arguments: {' '.join(rest)}")
        return _validate(args)
    return _serve(args, rest)


if __name__ == "__main__":
    sys.exit(main())
