"""The run-wide view, on a local runner or a master: deltas in, a summary of figures out.

Holds, whatever the request count:
- run totals per kind (exact; these give the end-of-run table);
- per-window stats per kind, at most `max_windows` of them: past that, neighbouring windows are
  merged in pairs and the window length doubles (old detail gets coarser, never lost);
- the clean stats of the first `HEAD_WINDOWS` windows, unmerged, from which the warm-up
  baseline is cut (the first N seconds, or the first windows holding N predictions);
- requests received per worker, so a report can say whose data arrived.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import cast

from locust_mlstress.domain.schema import Profile
from locust_mlstress.domain.summary import (
    AllFigures,
    Baseline,
    Comparison,
    Figures,
    KindFigures,
    LiveSummary,
    PairFigures,
    Shift,
    TrafficRow,
    WindowRow,
)
from locust_mlstress.quality import figures
from locust_mlstress.quality.histograms import LogHistogram
from locust_mlstress.quality.kindstats import KindStats
from locust_mlstress.quality.pairs import PairStats, version_figures

HEAD_WINDOWS = 64
CLEAN_WARMUP_WHY = (
    "clean's baseline is the champion's own warm-up answers: save a baseline (--ml-save-baseline) and pass it "
    "with --ml-baseline to compare both versions' clean shift"
)


@dataclass(frozen=True)
class Warmup:
    """The warm-up baseline: the first `seconds` of clean traffic, or its first `predictions`."""

    seconds: float | None = 10.0
    predictions: int | None = None

    @classmethod
    def parse(cls, text: str) -> Warmup:
        """'30s' (seconds) or '500' (predictions); ValueError with the fix otherwise."""
        t = str(text).strip().lower()
        try:
            if t.endswith("s"):
                value = float(t[:-1])
                if value < 0:
                    raise ValueError
                return cls(seconds=value)
            n = int(t)
            if n < 1:
                raise ValueError
            return cls(seconds=None, predictions=n)
        except ValueError:
            raise ValueError(
                f"--ml-warmup: {text!r} is neither seconds like '30s' nor a prediction count like '500'"
            ) from None


class QualityMonitor:
    def __init__(
        self,
        profile: Profile,
        *,
        window_s: float = 10.0,
        warmup: Warmup = Warmup(),
        baseline: KindStats | None = None,
        max_windows: int = 120,
    ):
        self.profile = profile
        self.output = profile.output.type
        self.n_classes = len(profile.output.classes) if self.output == "multiclass" else 0
        self.window_s = window_s  # the recorders' window; the monitor's may be a multiple of it
        self.factor = 1
        self.warmup = warmup
        self.file_baseline = baseline
        self.max_windows = max_windows
        self.totals: dict[str, KindStats] = {}
        self.windows: dict[int, dict[str, KindStats]] = {}
        self.clean_head: dict[int, KindStats] = {}
        self.stages: dict[int, dict[str, KindStats]] = {}  # load-plan stage -> kind -> stats
        self.received: Counter[str] = Counter()
        # with a challenger: per kind, the pairs, and each version's stats over the same pairs
        self.pairs: dict[str, PairStats] = {}
        self.versions: dict[str, dict[str, KindStats]] = {}
        self.users: dict[int, int] = {}  # window -> the most users seen running in it

    def _new(self) -> KindStats:
        return KindStats(self.output, self.n_classes)

    def absorb(self, delta: list[dict], source: str = "local") -> None:
        """Add one recorder delta (a worker's report, or a local recorder's closed windows)."""
        for item in delta:
            kind, window = item["kind"], item["window"]
            if "pair" in item:
                self.pairs.setdefault(kind, PairStats()).merge(PairStats.from_wire(item["pair"]))
                continue
            stats = KindStats.from_wire(item["stats"], self.output, self.n_classes)
            if "version" in item:
                self.versions.setdefault(item["version"], {}).setdefault(kind, self._new()).merge(stats)
                continue
            self.received[source] += stats.requests
            self.totals.setdefault(kind, self._new()).merge(stats)
            self.windows.setdefault(window // self.factor, {}).setdefault(kind, self._new()).merge(stats)
            if kind == "clean" and window < HEAD_WINDOWS:
                self.clean_head.setdefault(window, self._new()).merge(stats)
            if item.get("stage", -1) >= 0:
                self.stages.setdefault(item["stage"], {}).setdefault(kind, self._new()).merge(stats)
        while len(self.windows) > self.max_windows:
            self._coarsen()

    def note_users(self, t: float, users: int) -> None:
        """The runner's user count at `t` seconds: plotted beside each window's figures."""
        w = int(t // self.window_s) // self.factor
        self.users[w] = max(users, self.users.get(w, 0))

    def _coarsen(self) -> None:
        merged: dict[int, dict[str, KindStats]] = {}
        for w, kinds in self.windows.items():
            target = merged.setdefault(w // 2, {})
            for kind, stats in kinds.items():
                target.setdefault(kind, self._new()).merge(stats)
        self.windows = merged
        users: dict[int, int] = {}
        for w, n in self.users.items():
            users[w // 2] = max(n, users.get(w // 2, 0))
        self.users = users
        self.factor *= 2

    def warmup_stats(self) -> tuple[KindStats, list[int]]:
        """The clean stats of the warm-up windows, and which (recorder) windows those are."""
        chosen: list[int] = []
        stats = self._new()
        if self.warmup.seconds is not None:
            last = max(1, round(self.warmup.seconds / self.window_s))
            chosen = [w for w in sorted(self.clean_head) if w < last]
        else:
            wanted = cast(int, self.warmup.predictions)  # parse() sets seconds or predictions
            for w in sorted(self.clean_head):
                if stats.predictions.n >= wanted:
                    break
                chosen.append(w)
                stats.merge(self.clean_head[w])
            return stats, chosen
        for w in chosen:
            stats.merge(self.clean_head[w])
        return stats, chosen

    def references(self) -> tuple[dict[str, KindStats], Baseline]:
        """Per kind, the stats its predictions are compared with, and a description of them."""
        clean = self.totals.get("clean", self._new())
        if self.file_baseline is not None:
            refs = dict.fromkeys(self.totals, self.file_baseline)
            return refs, {"mode": "file", "n": self.file_baseline.predictions.n, "too_small": None, "min_n": None}
        warm, windows = self.warmup_stats()
        refs = {kind: clean for kind in self.totals if kind != "clean"}
        refs["clean"] = warm
        return refs, {
            "mode": "clean",
            "clean_n": clean.predictions.n,
            "warmup": {"seconds": self.warmup.seconds, "predictions": self.warmup.predictions,
                       "windows": windows, "n": warm.predictions.n},
            "too_small": None,
            "min_n": None,
        }  # fmt: skip

    def kind_figures(
        self, kind: str, stats: KindStats, reference: KindStats | None, *, whole_run: bool = True
    ) -> KindFigures:
        """One kind's figures; `whole_run` False for a stage alone, whose clean traffic is compared
        with the whole warm-up (it holds none of it, bar the first stage, which has no reference)."""
        total, by_variant = figures.outcomes(stats)
        current = stats
        if whole_run and kind == "clean" and self.file_baseline is None and reference is not None:
            current = figures.minus(stats, reference)  # clean after warm-up vs the warm-up
        fixed_batch = kind in figures.FIXED_BATCH_KINDS
        result: KindFigures = {
            "requests": stats.requests,
            "outcomes": total,
            "variants": by_variant,
            "payloads": figures.payloads(stats),
            "histogram": figures.histogram(reference, current),
            "shift": figures.shift(reference, current) if reference is not None else None,
            "answers": figures.answers(stats),
            "calibration": figures.calibration(stats),
            "calibration_reason": figures.calibration_reason(stats, self.profile.target.codec),
            "accuracy": figures.accuracy(stats, fixed_batch=fixed_batch),
            "fixed_batch": fixed_batch,
            "latency_ms": figures.latency(stats),
            "consistency": figures.consistency(stats),
            "classes": figures.classes(stats, self.profile.output.classes),
        }
        if fixed_batch:
            figures.mark_fixed_batch(result)
        return result

    def stage_summary(self, stage: int, duration_s: float) -> Figures | None:
        """Figures of one load-plan stage alone (what its gates are judged on); None if no data."""
        totals = self.stages.get(stage)
        if not totals:
            return None
        refs, _ = self.references()
        kinds = {}
        for kind, stats in sorted(totals.items()):
            ref = refs.get(kind)  # without a file baseline, clean's is the warm-up (references)
            if kind == "clean" and self.file_baseline is None and stage == 0:
                ref = None  # the warm-up stage has nothing earlier
            kinds[kind] = self.kind_figures(kind, stats, ref, whole_run=False)
        return {"kinds": kinds, "all": _all_figures(totals), "duration_s": duration_s}

    def _end_of_windows(self) -> float:
        seen = set(self.windows) | set(self.users)
        return (max(seen) + 1) * self.window_s * self.factor if seen else 0.0

    def traffic(self, now: float | None = None) -> list[TrafficRow]:
        """Per window, all kinds together: requests, requests per second and users running; the
        open window's rate is over the time it has been open (`now`), not its full length."""
        span = self.window_s * self.factor
        rows: list[TrafficRow] = []
        for w in sorted(set(self.windows) | set(self.users)):
            requests = sum(s.requests for s in self.windows.get(w, {}).values())
            start, end = w * span, (w + 1) * span
            seconds = (min(end, now) if now is not None else end) - start
            rows.append({"window": w, "start_s": start, "end_s": end, "users": self.users.get(w),
                         "requests": requests, "rps": requests / seconds if seconds > 0 else None})  # fmt: skip
        return rows

    def kinds(self, refs: dict[str, KindStats] | None = None) -> dict[str, KindFigures]:
        """Per kind, the run-total figures: the summary's `kinds`, also on their own (the web UI's
        live table, which has no use for the windows)."""
        refs = self.references()[0] if refs is None else refs
        return {kind: self.kind_figures(kind, stats, refs.get(kind)) for kind, stats in sorted(self.totals.items())}

    def comparison_kinds(self, refs: dict[str, KindStats] | None = None) -> dict[str, PairFigures]:
        """Per kind, the champion/challenger figures (docs/compare.md); empty without pairs.

        Each version's shift is against the run's baseline for the kind, but not clean's in
        warm-up mode: that baseline is the champion's own first answers, which the champion's
        paired answers include, so the two versions would not be judged alike."""
        if not self.pairs:
            return {}
        refs = self.references()[0] if refs is None else refs
        out: dict[str, PairFigures] = {}
        for kind, pairs in sorted(self.pairs.items()):
            ref, why = refs.get(kind), None
            if kind == "clean" and self.file_baseline is None:
                ref, why = None, CLEAN_WARMUP_WHY
            elif kind in figures.FIXED_BATCH_KINDS:
                ref, why = None, "fixed batch: one batch per variant sent again and again, so its shift is no evidence"
            elif ref is None:
                why = "no baseline for this kind"
            versions = {
                version: version_figures(self.versions.get(version, {}).get(kind, self._new()), ref, why)
                for version in ("champion", "challenger")
            }
            out[kind] = found = pairs.figures(versions)
            if kind in figures.FIXED_BATCH_KINDS:  # its instances repeat: no interval holds
                found["fixed_batch"] = True
                found["disagreement_ci"] = found["accuracy_delta"]["ci"] = found["mcnemar_p"] = None
        return out

    def gate_figures(self, duration_s: float) -> Figures:
        """The part of the summary gates read (gates/observations.py: `kinds`, `all` and a
        challenger's `comparison`), without the per-window figures and traffic rows: what judging
        gates during the run needs."""
        figures: Figures = {"kinds": self.kinds(), "all": _all_figures(self.totals), "duration_s": duration_s}
        if self.pairs:
            figures["comparison"] = self.comparison()
        return figures

    def comparison(self, refs: dict[str, KindStats] | None = None) -> Comparison:
        """The summary's `comparison` block without what the plugin knows (URL, share, versions,
        verdict): those it fills in."""
        return {"challenger": "", "share": 1.0, "model_versions": {}, "kinds": self.comparison_kinds(refs)}

    def summary(self, now: float | None = None) -> LiveSummary:
        """Every figure so far; `duration_s` is `now` (seconds since the run's start), or without
        it (a finished record read back) the end of the last window."""
        refs, baseline = self.references()
        kinds = self.kinds(refs)
        window_rows: list[WindowRow] = []
        span = self.window_s * self.factor
        for w in sorted(self.windows):
            for kind, stats in sorted(self.windows[w].items()):
                ref = refs.get(kind)
                row: WindowRow = {
                    "window": w,
                    "start_s": w * span,
                    "end_s": (w + 1) * span,
                    "kind": kind,
                    "requests": stats.requests,
                    "outcomes": figures.outcomes(stats)[0],
                    "shift": figures.shift(ref, stats) if ref is not None and kind != "probe" else None,
                    "calibration": figures.calibration(stats, detail=False),
                    "latency_ms": figures.latency(stats),
                }
                if kind in figures.FIXED_BATCH_KINDS:
                    figures.mark_fixed_batch(row)
                window_rows.append(row)
        clean = kinds.get("clean")
        baseline["too_small"], baseline["min_n"] = baseline_size(clean["shift"] if clean is not None else None)
        live: LiveSummary = {
            "kinds": kinds,
            "all": _all_figures(self.totals),
            "duration_s": round(now if now is not None else self._end_of_windows(), 3),
            "windows": window_rows,
            "traffic": self.traffic(now),
            "baseline": baseline,
            "window_s": span,
            "received": dict(self.received),
        }
        if self.pairs:
            live["comparison"] = self.comparison(refs)
        return live


def baseline_size(clean_shift: Shift | None) -> tuple[bool | None, int | None]:
    """Whether clean traffic's baseline (the warm-up, or a saved file) is too small to call clean
    traffic stable, and the smallest that would do (docs/metrics.md, "Too small a baseline"):
    (`too_small`, `min_n`); `too_small` is None without a clean shift figure, `min_n` None when
    no baseline size would do (clean traffic after it is too short as well)."""
    if not clean_shift:
        return None, None
    return clean_shift["underpowered"], clean_shift["min_n_reference"]


def _all_figures(totals: dict[str, KindStats]) -> AllFigures:
    """Requests, outcomes and latency over every kind but the probes."""
    outcomes: Counter[tuple[str, str]] = Counter()
    latency = LogHistogram()
    for kind, stats in totals.items():
        if kind != "probe":
            outcomes.update(stats.outcomes)
            latency.merge(stats.latency)
    return {"requests": sum(outcomes.values()), "outcomes": figures.outcome_totals(outcomes),
            "latency_ms": figures.percentiles(latency)}  # fmt: skip
