"""A sample of individual requests, kept as JSON lines for reading after a run.

Which requests are sampled depends only on their request id (a hash below the rate), so a
rerun with the same seed samples the same requests whatever the worker count. Workers pass
their sampled traces to the master with their reports, at most `MAX_PER_REPORT` at a time
(the rest are counted as dropped), so neither side's memory grows with the run.
"""

from __future__ import annotations

import errno
import json
import logging
import zlib
from pathlib import Path

logger = logging.getLogger("locust_mlstress")
MAX_PER_REPORT = 500
_SCALE = 1 << 32


def sample_key(request_id: str) -> int:
    """A well-mixed 32-bit number from a request id: CRC32 alone clusters on ids that differ in
    one character (as sequence numbers do), so it is multiplied by a large odd constant."""
    return (zlib.crc32(request_id.encode()) * 0x9E3779B1) & 0xFFFFFFFF


class TraceSampler:
    def __init__(self, rate: float):
        self.threshold = int(rate * _SCALE)
        self.pending: list[dict] = []
        self.dropped = 0

    def record(self, payload, result, probe_of=None, **_kwargs) -> None:
        if sample_key(payload.request_id) >= self.threshold:
            return
        if len(self.pending) >= MAX_PER_REPORT:
            self.dropped += 1
            return
        self.pending.append(
            {
                "request_id": payload.request_id,
                "kind": "probe" if probe_of is not None else payload.kind,
                "variant": payload.variant,
                "status": result.status,
                "outcome": result.outcome.value,
                "latency_ms": round(result.response_time, 3),
                "predictions": result.predictions,
                "labels_only": result.labels_only,  # the predictions are class labels (0/1, one-hot)
                "labels": payload.labels,
                "reason": result.reason,
            }
        )

    def take(self) -> tuple[list[dict], int]:
        traces, dropped = self.pending, self.dropped
        self.pending, self.dropped = [], 0
        return traces, dropped


class TraceFile:
    """Appends traces as they arrive (a master writes workers' samples straight to disk).

    `add` runs inside the request hook and the master's report handler, where an exception would
    break the run: a write that fails (a full disk) turns tracing off with one warning, and the
    traces from then on are counted as dropped; `error` says why."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.written = 0
        self.dropped = 0
        self.error: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        """Tracing off; on a full disk the file is removed too, leaving its space to the run
        record (summary, manifest) written at the end: a sample of requests matters less."""
        self.error = exc.strerror or str(exc)
        removed = ""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT) and self.path.is_file():  # never a device node
            try:
                self.path.unlink(missing_ok=True)
                self.dropped, self.written = self.dropped + self.written, 0
                removed = "; the file is removed to leave its space to the run record"
            except OSError:
                pass
        logger.warning("traces: cannot write %s (%s); request tracing is off for the rest of the run%s",
                       self.path, self.error, removed)  # fmt: skip

    def add(self, traces: list[dict], dropped: int = 0) -> None:
        self.dropped += dropped
        if not traces:
            return
        if self.error is not None:
            self.dropped += len(traces)
            return
        try:
            with self.path.open("a") as f:
                f.writelines(json.dumps(t, separators=(",", ":")) + "\n" for t in traces)
        except OSError as exc:
            self.dropped += len(traces)
            self._fail(exc)
            return
        self.written += len(traces)
