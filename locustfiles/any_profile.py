"""Any profile, given on the command line (or in the web UI's form):

    locust -f locustfiles/any_profile.py --ml-profile profiles/multiclass_router.toml --headless -u 10 -t 30s

Without --host it serves the reference model, fitted to that profile, on 127.0.0.1.
"""

from locust import between

from locust_mlstress import MLUser, serve_when_no_host

serve_when_no_host()


class Model(MLUser):
    wait_time = between(0.25, 0.75)
