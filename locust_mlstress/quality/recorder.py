"""The per-process recorder: every ML request into its (window, kind) stats, handed on as deltas.

A worker hands its deltas to Locust's `report_to_master` every few seconds and forgets them, so
its memory holds at most the windows since its last report. A local runner hands them straight
to its monitor whenever a window closes. Either way the monitor only ever sees wire dicts: the
local path exercises exactly what a distributed run sends.
"""

from __future__ import annotations

from collections.abc import Callable

from locust_mlstress.domain.outcomes import Outcome
from locust_mlstress.domain.schema import Output
from locust_mlstress.quality.kindstats import KindStats
from locust_mlstress.quality.pairs import PairStats, answer_gap

PROBE = "probe"  # the pseudo-kind of consistency probes: resent payloads, kept out of the mix


class QualityRecorder:
    def __init__(
        self,
        output: Output,
        window_s: float,
        clock: Callable[[], float],
        sink: Callable[[list[dict]], None] | None = None,
        stage_of: Callable[[float], int] | None = None,
        tolerance: float = 0.0,
    ):
        self.output = output.type
        self.tolerance = tolerance  # a challenger's regression answers: a larger difference disagrees
        self.n_classes = len(output.classes) if output.type == "multiclass" else 0
        self.window_s = window_s
        self.clock = clock
        self.sink = sink
        self.stage_of = stage_of  # the load plan's stage at a time, so stages get exact totals
        self._window = -1
        self._unsent: dict[tuple[int, int, str], KindStats] = {}
        # a challenger's run: per (window, stage, kind), the pairs and each version's stats over them
        self._pairs: dict[tuple[int, int, str], PairStats] = {}
        self._versions: dict[tuple[int, int, str, str], KindStats] = {}

    def _key(self) -> tuple[int, int]:
        """(window, stage) of now; a new window hands the closed ones to the sink first."""
        now = self.clock()
        window = int(now // self.window_s)
        if window != self._window:
            if self.sink is not None and (self._unsent or self._pairs):
                self.sink(self.take_delta())
            self._window = window
        return window, self.stage_of(now) if self.stage_of is not None else -1

    def _stats(self, window: int, stage: int, kind: str) -> KindStats:
        key = (window, stage, kind)
        stats = self._unsent.get(key)
        if stats is None:
            stats = self._unsent[key] = KindStats(self.output, self.n_classes)
        return stats

    def record(self, payload, result, probe_of: list | None = None, **_kwargs) -> None:
        """The `ml_request` listener; `probe_of` holds the earlier answers of a resent payload."""
        window, stage = self._key()
        kind = PROBE if probe_of is not None else payload.kind
        self._record_one(self._stats(window, stage, kind), payload, result, kind, probe_of)

    def record_pair(self, payload, champion, challenger, **_kwargs) -> None:
        """The `ml_pair` listener: one payload's two answers (the champion's was also recorded
        by `record`, as every answer of the champion is)."""
        window, stage = self._key()
        kind = payload.kind
        pair = self._pairs.get((window, stage, kind))
        if pair is None:
            pair = self._pairs[(window, stage, kind)] = PairStats()
        pair.record(
            payload.variant, champion.outcome.value, challenger.outcome.value,
            champion.predictions if champion.outcome is Outcome.OK else None,
            challenger.predictions if challenger.outcome is Outcome.OK else None,
            champion.response_time, challenger.response_time, payload.labels, self.output, self.tolerance,
        )  # fmt: skip
        for version, result in (("champion", champion), ("challenger", challenger)):
            key = (window, stage, kind, version)
            stats = self._versions.get(key)
            if stats is None:
                stats = self._versions[key] = KindStats(self.output, self.n_classes)
            self._record_one(stats, payload, result, kind, None)

    def _record_one(self, stats: KindStats, payload, result, kind: str, probe_of: list | None) -> None:
        stats.record_outcome(
            payload.variant, result.outcome.value, result.response_time, len(payload.body), kind == "oversized"
        )
        if result.outcome is not Outcome.OK or result.predictions is None:
            return
        if probe_of is not None:
            flips, diffs = compare(self.output, probe_of, result.predictions)
            stats.consistency.add(len(diffs), flips, diffs)
        else:
            stats.record_predictions(result.predictions, payload.labels, result.labels_only)

    def take_delta(self) -> list[dict]:
        """Everything since the last call, as wire dicts; the recorder starts afresh. A pair's
        item carries `pair`, a version's `version`; the champion's own items neither."""
        delta = [
            {"window": w, "stage": g, "kind": k, "stats": s.to_wire()} for (w, g, k), s in sorted(self._unsent.items())
        ]
        delta += [
            {"window": w, "stage": g, "kind": k, "pair": p.to_wire()} for (w, g, k), p in sorted(self._pairs.items())
        ]
        delta += [
            {"window": w, "stage": g, "kind": k, "version": v, "stats": s.to_wire()}
            for (w, g, k, v), s in sorted(self._versions.items())
        ]
        self._unsent.clear()
        self._pairs.clear()
        self._versions.clear()
        return delta

    def reset(self) -> None:
        """Forget what is not handed on yet (Locust's Reset button on a local runner; a worker's
        `--reset-stats`): the counts from before the reset must not reach the monitor, which
        counts afresh, as Locust's own statistics forget theirs."""
        self._unsent.clear()
        self._pairs.clear()
        self._versions.clear()

    def flush(self) -> None:
        if self.sink is not None and (self._unsent or self._pairs):
            self.sink(self.take_delta())


def compare(output: str, before: list, after: list) -> tuple[int, list[float]]:
    """(predicted-class flips, score differences per instance) between two answers."""
    gaps = [answer_gap(output, a, b) for a, b in zip(before, after, strict=False)]
    return sum(flipped for flipped, _ in gaps), [gap for _, gap in gaps]
