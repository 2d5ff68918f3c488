"""The quickstart: a churn model under a realistic mix of clean, drifted, malformed and
oversized requests. Without --host it serves the embedded reference model on 127.0.0.1.

    locust -f locustfiles/quickstart.py --headless -u 50 -r 10 -t 60s
"""

from pathlib import Path

from locust import between

from locust_mlstress import MLUser
from locust_mlstress.embedded import serve_when_no_host

PROFILE = Path(__file__).resolve().parent.parent / "profiles" / "quickstart.toml"
serve_when_no_host(PROFILE)


class ChurnModel(MLUser):
    profile = PROFILE
    wait_time = between(0.25, 0.75)  # about 2 requests a second per user, not in lockstep
