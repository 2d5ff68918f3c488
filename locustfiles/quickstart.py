"""The quickstart: a churn model under a realistic mix of clean, drifted, malformed and
oversized requests. Without --host it serves the embedded reference model on 127.0.0.1.

    locust -f locustfiles/quickstart.py --headless -u 50 -r 10 -t 60s --only-summary

`-r 10` has every user running within 5 s, so the 10 s warm-up baseline holds enough clean
predictions to judge clean traffic by (at Locust's default of 1 user a second it held ~70, and
the console says the baseline is too small). `--only-summary` prints Locust's request table
once, at the end, and the ML summary after it.
"""

from pathlib import Path

from locust import between

from locust_mlstress import MLUser, serve_when_no_host

PROFILE = Path(__file__).resolve().parent.parent / "profiles" / "quickstart.toml"
serve_when_no_host(PROFILE)


class ChurnModel(MLUser):
    profile = PROFILE
    wait_time = between(0.25, 0.75)  # about 2 requests a second per user, not in lockstep
