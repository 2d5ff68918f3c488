"""The run-wide view, on a local runner or a master: deltas in, a summary of figures out.

Holds, whatever the request count:
- run totals per kind (exact; these give the end-of-run table);
- per-window stats per kind, at most `max_windows` of them: past that, neighbouring windows are
  merged in pairs and the window length doubles (old detail gets coarser, never lost);
- the clean stats of the first `HEAD_WINDOWS` windows, unmerged, from which the warm-up
  baseline is cut (the first N seconds, or the first windows holding N predictions);
- requests received per worker, so a report can say whose data arrived;
- with a challenger, each kind's pairs per window (four counters: `PairCounts`), coarsened with
  the other windows, for disagreement over time.

`reset` (Locust's Reset button) starts every figure afresh from a window on, warm-up included, as
a test start would, while the run's clock goes on. `trend_rows` is the cheap per-window reading the
web UI's charts poll: PSI, p50/p99 and outcomes per window, without the full summary's per-window
noise thresholds, KS, Wasserstein and calibration.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import cast

import numpy as np

from locust_mlstress import metrics
from locust_mlstress.domain.schema import Profile
from locust_mlstress.domain.summary import (
    AllFigures,
    Baseline,
    Comparison,
    Figures,
    KindFigures,
    LiveSummary,
    PairFigures,
    PairWindowRow,
    Shift,
    TrafficRow,
    WindowHead,
    WindowRow,
)
from locust_mlstress.quality import figures
from locust_mlstress.quality.histograms import LinearHistogram, LogHistogram
from locust_mlstress.quality.kindstats import KindStats
from locust_mlstress.quality.pairs import PairCounts, PairStats, version_figures

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
        self.pair_windows: dict[int, dict[str, PairCounts]] = {}  # window -> kind -> its pairs
        self.users: dict[int, int] = {}  # window -> the most users seen running in it
        self.origin = 0  # the recorders' first window counted: 0, or the window of the last reset
        self.revision = 0  # counts changes: a reader may keep what it computed while it stays
        # (window, kind) -> (factor, requests, outcomes, p50, p99): what a window's trend row
        # reads of its own stats alone, kept while neither the window nor the window length changes
        self._trend_parts: dict[tuple[int, str], tuple[int, int, dict[str, int], float | None, float | None]] = {}

    def _new(self) -> KindStats:
        return KindStats(self.output, self.n_classes)

    def _into(self, parts: dict, key) -> KindStats:
        """`parts[key]`, empty stats on first use: `setdefault(key, self._new())` would build (and
        throw away) new stats for every item of every report a master absorbs."""
        stats = parts.get(key)
        if stats is None:
            stats = parts[key] = self._new()
        return stats

    def absorb(self, delta: list[dict], source: str = "local") -> None:
        """Add one recorder delta (a worker's report, or a local recorder's closed windows). Items of
        windows before the last reset (a worker's report sent before it, arriving after) count in
        the reset's window: Locust's master counts what arrives after a reset too, so both totals
        stay equal."""
        if delta:
            self.revision += 1
        for item in delta:
            kind, window = item["kind"], max(item["window"], self.origin)
            if "pair" in item:
                pair = PairStats.from_wire(item["pair"])
                self.pairs.setdefault(kind, PairStats()).merge(pair)
                self.pair_windows.setdefault(window // self.factor, {}).setdefault(kind, PairCounts()).add(pair)
                continue
            stats = KindStats.from_wire(item["stats"], self.output, self.n_classes)
            into = self._into
            if "version" in item:
                into(self.versions.setdefault(item["version"], {}), kind).merge(stats)
                continue
            self.received[source] += stats.requests
            into(self.totals, kind).merge(stats)
            into(self.windows.setdefault(window // self.factor, {}), kind).merge(stats)
            if kind == "clean" and window - self.origin < HEAD_WINDOWS:
                into(self.clean_head, window).merge(stats)
            if item.get("stage", -1) >= 0:
                into(self.stages.setdefault(item["stage"], {}), kind).merge(stats)
        while max(len(self.windows), len(self.pair_windows)) > self.max_windows:
            self._coarsen()

    def reset(self, origin: int) -> None:
        """Count afresh from recorder window `origin` on (Locust's Reset button, `--reset-stats`):
        every figure, the warm-up baseline (the first seconds after `origin`), the windows, stages,
        pairs and user counts; a file baseline stays. Deltas that arrive later count, those of
        earlier windows in window `origin` (`absorb`), as Locust counts a worker's report that
        arrives after its reset."""
        self.origin = max(origin, 0)
        self.factor = 1
        for part in (self.totals, self.windows, self.clean_head, self.stages, self.received, self.pairs,
                     self.versions, self.pair_windows, self.users, self._trend_parts):  # fmt: skip
            part.clear()
        self.revision += 1

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
        self._trend_parts.clear()
        pairs: dict[int, dict[str, PairCounts]] = {}
        for w, counts in self.pair_windows.items():
            into = pairs.setdefault(w // 2, {})
            for kind, c in counts.items():
                into.setdefault(kind, PairCounts()).merge(c)
        self.pair_windows = pairs
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
            last = self.origin + max(1, round(self.warmup.seconds / self.window_s))
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
            live["comparison"]["windows"] = self.pair_window_rows()
        return live

    def pair_window_rows(self) -> list[PairWindowRow]:
        """Per window and kind, the pairs and their disagreement: disagreement over time."""
        span = self.window_s * self.factor
        rows: list[PairWindowRow] = []
        for w in sorted(self.pair_windows):
            for kind, c in sorted(self.pair_windows[w].items()):
                value, ci = c.figures()
                rows.append({"window": w, "start_s": w * span, "end_s": (w + 1) * span, "kind": kind,
                             "n_pairs": c.n_pairs, "n_compared": c.compared, "disagreement": value,
                             "disagreement_ci": ci, "regressions": c.regressions})  # fmt: skip
        return rows

    def trend_rows(self, refs: dict[str, KindStats] | None = None) -> list[TrendRow]:
        """Per window and kind (probes left out), what the web UI's trend charts draw: requests,
        outcomes, p50/p99 and PSI against the kind's reference, the PSI equal to the summary's
        window rows' (`window_psi`). A few ms for 120 windows of four kinds, where the summary's
        window rows take about 100 ms: no noise thresholds, KS, Wasserstein nor calibration. A
        window's outcomes and percentiles are kept until it changes; PSI is computed each time, its
        reference (clean traffic so far) moving while a test runs."""
        refs = self.references()[0] if refs is None else refs
        span = self.window_s * self.factor
        psi = {kind: WindowPsi(ref) for kind, ref in refs.items()}
        rows: list[TrendRow] = []
        for w in sorted(self.windows):
            for kind, stats in sorted(self.windows[w].items()):
                if kind == "probe":
                    continue
                part = self._trend_parts.get((w, kind))
                if part is None or part[:2] != (self.factor, stats.requests):
                    p50, p99 = (_finite(stats.latency.quantile(q)) for q in (0.5, 0.99))
                    part = (self.factor, stats.requests, figures.outcome_totals(stats.outcomes), p50, p99)
                    self._trend_parts[(w, kind)] = part
                rows.append({"window": w, "start_s": w * span, "end_s": (w + 1) * span, "kind": kind,
                             "requests": stats.requests, "outcomes": part[2],
                             "psi": psi[kind].of(stats) if kind in psi else None,
                             "p50": part[3], "p99": part[4]})  # fmt: skip
        return rows


def _floored_shares(counts: np.ndarray) -> np.ndarray:
    """Shares of coarse counts with an empty bin at `metrics.PSI_FLOOR`, as PSI floors them."""
    shares = counts.astype(np.float64) / float(counts.sum())
    return np.where(shares == 0, metrics.PSI_FLOOR, shares)


def _finite(x: float) -> float | None:
    """A percentile as the summary gives it: None for an empty histogram's NaN."""
    return float(x) if math.isfinite(x) else None


class TrendRow(WindowHead):
    """One kind in one window, as the web UI's trend charts read it (`QualityMonitor.trend_rows`)."""

    psi: float | None
    p50: float | None
    p99: float | None


class WindowPsi:
    """PSI of windows against one reference, equal to `figures.shift(reference, window)["psi"]`
    (same bins, same floor, None below `MIN_SHIFT_SAMPLES` a side) at a fraction of its cost: the
    reference's coarse bins are cut once for every window (probability and class histograms,
    whose fine bins are fixed), and nothing but PSI is computed. A regression reference's log bins
    depend on each window's span, so they are cut per window, as `figures.shift` does."""

    def __init__(self, reference: KindStats):
        self.reference = reference
        self.n = reference.predictions.n
        # probability histograms: where each coarse bin starts among the fine ones, and the
        # reference's floored shares on them (what metrics.regroup and psi_from_counts compute,
        # without re-checking the same reference for every window)
        self.coarse: tuple[np.ndarray, np.ndarray] | None = None
        ref = reference.predictions
        if self.n >= figures.MIN_SHIFT_SAMPLES and not reference.n_classes and isinstance(ref, LinearHistogram):
            edges = ref.edges
            coarse = metrics.coarse_edges(edges, ref.counts, bins=figures.SHIFT_BINS)
            starts = np.concatenate(([0], np.searchsorted(edges, coarse[1:-1])))
            self.coarse = (starts, _floored_shares(np.add.reduceat(ref.counts, starts)))

    def of(self, current: KindStats) -> float | None:
        n = current.predictions.n
        if n == 0 or min(self.n, n) < figures.MIN_SHIFT_SAMPLES:
            return None
        ref, cur = self.reference.predictions, current.predictions
        if self.reference.n_classes:
            psi = metrics.psi_from_counts(np.asarray(self.reference.classes), np.asarray(current.classes))
        elif self.coarse is not None:
            starts, e = self.coarse
            a = _floored_shares(np.add.reduceat(cur.counts, starts))
            psi = float(np.sum((a - e) * np.log(a / e)))  # metrics.psi_from_counts, term for term
        else:
            assert isinstance(ref, LogHistogram) and isinstance(cur, LogHistogram)
            spans = [span for span in (ref.span(), cur.span()) if span is not None]
            lo, hi = min(lo for lo, _ in spans), max(hi for _, hi in spans)
            edges, ref_counts = ref.dense(lo, hi)
            _, cur_counts = cur.dense(lo, hi)
            coarse = metrics.coarse_edges(edges, ref_counts, bins=figures.SHIFT_BINS)
            psi = metrics.psi_from_counts(
                metrics.regroup(ref_counts, edges, coarse), metrics.regroup(cur_counts, edges, coarse)
            )
        return float(psi) if np.isfinite(psi) else None


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
