"""Traffic profiles: the one description of a scenario, loaded and validated before any traffic."""

from locust_mlstress.domain.schema import KINDS, Profile
from locust_mlstress.errors import ProfileError
from locust_mlstress.profile.load import load_profile, parse_profile

__all__ = ["KINDS", "Profile", "ProfileError", "load_profile", "parse_profile"]
