"""Test locustfile: the open-model dispatcher of arrivals.py, with the profile's [load] plan."""

from arrivals import *  # noqa: F403

from locust_mlstress import ProfileShape  # noqa: F401  (Locust finds the shape here)
