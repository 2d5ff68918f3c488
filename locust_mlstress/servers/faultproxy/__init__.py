"""The fault proxy: latency, jitter, bandwidth limits, resets, black holes and down windows
between Locust and a target on 127.0.0.1, per stage of a scenario (docs/faults.md).

`faults` and `config` are pure (what to inject, read from a fault file or flags); `server` is
the gevent proxy (`FaultProxy`), finding HTTP/1.1 message boundaries with `http.framing`;
`process` runs it as a subprocess (`FaultProxyProcess`, a `ChildServer`); `cli` is
`mlstress proxy`. Importing this package imports no gevent: the server module is loaded by
whoever runs it.
"""

from locust_mlstress.servers.faultproxy.config import load_plan
from locust_mlstress.servers.faultproxy.faults import FaultPlan, FaultSet, FaultStage, decide

__all__ = ["FaultPlan", "FaultSet", "FaultStage", "decide", "load_plan"]
