"""locust-mlstress: ML-aware stress testing for model-serving APIs, on Locust.

The data path, one module each: profile (what to send) -> payloads (bodies) -> codecs (wire
format) -> users (requests, over transport) -> outcomes (what came back) -> quality (what it
means) -> report.

Names are imported on first use, so `mlstress validate` and the reference server never import
Locust (and never monkey-patch with gevent). Importing a user class registers the package's
Locust listeners and `--ml-*` options, as Locust plugins do.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "MLHttpUser": "users",
    "MLUser": "users",
    "MLResult": "events",
    "ml_events": "events",
    "Outcome": "outcomes",
    "classify": "outcomes",
    "Payload": "payloads",
    "PayloadFactory": "payloads",
    "Profile": "profile",
    "load_profile": "profile",
    "ProfileError": "errors",
}
__all__ = [
    "MLHttpUser",
    "MLResult",
    "MLUser",
    "Outcome",
    "Payload",
    "PayloadFactory",
    "Profile",
    "ProfileError",
    "classify",
    "load_profile",
    "ml_events",
]

if TYPE_CHECKING:
    from .errors import ProfileError
    from .events import MLResult, ml_events
    from .outcomes import Outcome, classify
    from .payloads import Payload, PayloadFactory
    from .profile import Profile, load_profile
    from .users import MLHttpUser, MLUser


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'locust_mlstress' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
