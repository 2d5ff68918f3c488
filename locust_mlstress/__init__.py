"""locust-mlstress: ML-aware stress testing for model-serving APIs, on Locust.

The data path, one package each (docs/architecture.md): domain (the shared values) -> profile
(what to send) -> payloads and codecs (the bodies, on the wire) -> users over http (requests,
and what came back) -> quality and metrics (what it means) -> gates and report (the verdict),
with the Locust wiring in plugin/.

Names are imported on first use, so `mlstress validate` and the reference server never import
Locust (and never monkey-patch with gevent). Taking a Locust-facing name (a user class, the
load shape, the embedded server) registers the package's listeners and `--ml-*` options, as
Locust plugins do on import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from locust_mlstress.version import __version__ as __version__

# name -> (module, whether it needs the Locust wiring registered)
_EXPORTS = {
    "MLUser": ("users.mluser", True),
    "MLHttpUser": ("users.httpuser", True),
    "MLArrivalUser": ("users.arrivals", True),
    "ProfileShape": ("plugin.shapes", True),
    "serve_when_no_host": ("plugin.embedded", True),
    "MLResult": ("users.events", False),
    "ml_events": ("users.events", False),
    "ml_pair_events": ("users.events", False),
    "Outcome": ("domain.outcomes", False),
    "classify": ("users.outcomes", False),
    "Payload": ("payloads", False),
    "PayloadFactory": ("payloads", False),
    "Profile": ("domain.schema", False),
    "load_profile": ("profile", False),
    "ProfileError": ("errors", False),
}
__all__ = [
    "MLArrivalUser",
    "MLHttpUser",
    "MLResult",
    "MLUser",
    "Outcome",
    "Payload",
    "PayloadFactory",
    "Profile",
    "ProfileError",
    "ProfileShape",
    "classify",
    "load_profile",
    "ml_events",
    "ml_pair_events",
    "serve_when_no_host",
]

if TYPE_CHECKING:
    from locust_mlstress.domain.outcomes import Outcome
    from locust_mlstress.domain.schema import Profile
    from locust_mlstress.errors import ProfileError
    from locust_mlstress.payloads import Payload, PayloadFactory
    from locust_mlstress.plugin.embedded import serve_when_no_host
    from locust_mlstress.plugin.shapes import ProfileShape
    from locust_mlstress.profile import load_profile
    from locust_mlstress.users.arrivals import MLArrivalUser
    from locust_mlstress.users.events import MLResult, ml_events, ml_pair_events
    from locust_mlstress.users.httpuser import MLHttpUser
    from locust_mlstress.users.mluser import MLUser
    from locust_mlstress.users.outcomes import classify


def __getattr__(name: str):
    found = _EXPORTS.get(name)
    if found is None:
        raise AttributeError(f"module 'locust_mlstress' has no attribute {name!r}")
    module, wired = found
    if wired:
        importlib.import_module(".plugin", __name__).register()
    return getattr(importlib.import_module(f".{module}", __name__), name)
