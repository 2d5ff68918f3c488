"""ML quality during a run: mergeable accumulators, the recorder, the run-wide monitor."""

from .kindstats import KindStats
from .monitor import QualityMonitor, Warmup
from .recorder import QualityRecorder

__all__ = ["KindStats", "QualityMonitor", "QualityRecorder", "Warmup"]
