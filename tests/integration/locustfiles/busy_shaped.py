"""Test locustfile: busy.py's users and burn, with the profile's [load] plan as the shape."""

from busy import *  # noqa: F403  (users, recording listeners, the burn)

from locust_mlstress import ProfileShape  # noqa: F401  (Locust finds the shape here)
