"""A scenario: users and payload mix follow the profile's [load] stages (warm-up, surge, drift
from stage 3, cool-down). Without --host it serves the reference model on 127.0.0.1.

    locust -f locustfiles/scenario.py --headless --ml-profile profiles/scenario_surge.toml
"""

from pathlib import Path

from locust import between

from locust_mlstress import (
    MLUser,
    ProfileShape,  # noqa: F401  (Locust finds the shape here)
    serve_when_no_host,
)

PROFILE = Path(__file__).resolve().parent.parent / "profiles" / "scenario_surge.toml"
serve_when_no_host(PROFILE)


class Model(MLUser):
    profile = PROFILE
    wait_time = between(0.1, 0.3)
