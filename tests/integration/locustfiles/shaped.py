"""Test locustfile: the fast ML users of fast.py, with the profile's [load] plan as the shape."""

from fast import *  # noqa: F403  (users and the recording listeners)

from locust_mlstress import ProfileShape  # noqa: F401  (Locust finds the shape here)
