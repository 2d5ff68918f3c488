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

PROBE = "probe"  # the pseudo-kind of consistency probes: resent payloads, kept out of the mix


class QualityRecorder:
    def __init__(
        self,
        output: Output,
        window_s: float,
        clock: Callable[[], float],
        sink: Callable[[list[dict]], None] | None = None,
        stage_of: Callable[[float], int] | None = None,
    ):
        self.output = output.type
        self.n_classes = len(output.classes) if output.type == "multiclass" else 0
        self.window_s = window_s
        self.clock = clock
        self.sink = sink
        self.stage_of = stage_of  # the load plan's stage at a time, so stages get exact totals
        self._window = -1
        self._unsent: dict[tuple[int, int, str], KindStats] = {}

    def _stats(self, window: int, stage: int, kind: str) -> KindStats:
        key = (window, stage, kind)
        stats = self._unsent.get(key)
        if stats is None:
            stats = self._unsent[key] = KindStats(self.output, self.n_classes)
        return stats

    def record(self, payload, result, probe_of: list | None = None, **_kwargs) -> None:
        """The `ml_request` listener; `probe_of` holds the earlier answers of a resent payload."""
        now = self.clock()
        window = int(now // self.window_s)
        if window != self._window:
            if self.sink is not None and self._unsent:
                self.sink(self.take_delta())
            self._window = window
        kind = PROBE if probe_of is not None else payload.kind
        stats = self._stats(window, self.stage_of(now) if self.stage_of is not None else -1, kind)
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
        """Everything since the last call, as wire dicts; the recorder starts afresh."""
        delta = [
            {"window": w, "stage": g, "kind": k, "stats": s.to_wire()} for (w, g, k), s in sorted(self._unsent.items())
        ]
        self._unsent.clear()
        return delta

    def flush(self) -> None:
        if self.sink is not None and self._unsent:
            self.sink(self.take_delta())


def compare(output: str, before: list, after: list) -> tuple[int, list[float]]:
    """(predicted-class flips, absolute score differences per instance) between two answers."""
    flips, diffs = 0, []
    for a, b in zip(before, after, strict=False):
        if output == "binary":
            flips += (a >= 0.5) != (b >= 0.5)
            diffs.append(abs(a - b))
        elif output == "multiclass":
            flips += max(range(len(a)), key=a.__getitem__) != max(range(len(b)), key=b.__getitem__)
            diffs.append(max(abs(x - y) for x, y in zip(a, b, strict=False)))
        else:
            diffs.append(abs(a - b))
    return flips, diffs
