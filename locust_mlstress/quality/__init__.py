"""ML quality during a run: mergeable accumulators, the recorder, the run-wide monitor."""

from locust_mlstress.quality.kindstats import KindStats
from locust_mlstress.quality.monitor import QualityMonitor, Warmup
from locust_mlstress.quality.recorder import QualityRecorder

__all__ = ["KindStats", "QualityMonitor", "QualityRecorder", "Warmup"]
