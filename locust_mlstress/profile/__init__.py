"""Traffic profiles: the one description of a scenario, loaded and validated before any traffic."""

from ..errors import ProfileError
from .load import load_profile, parse_profile
from .model import KINDS, Profile

__all__ = ["KINDS", "Profile", "ProfileError", "load_profile", "parse_profile"]
