"""locust-mlstress: ML-aware stress testing for model-serving APIs, on Locust.

The data path, one module each: profile (what to send) -> payloads (bodies) -> codecs (wire
format) -> users (requests) -> outcomes (what came back) -> events / recording (what it means).
Importing the package registers its Locust listeners and `--ml-*` options.
"""

from . import recording, runtime  # noqa: F401  (register Locust listeners)
from .errors import ProfileError
from .events import MLResult, ml_events
from .outcomes import Outcome, classify
from .payloads import Payload, PayloadFactory
from .profile import Profile, load_profile
from .users import MLHttpUser, MLUser

__version__ = "0.1.0"

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
