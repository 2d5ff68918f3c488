"""The merge benchmark's master without locust-mlstress (merge_scale.py): nothing of the package
is imported, so the master does Locust's own work alone. Its user class has the name of
locustfiles/any_profile.py's, and never runs: the workers are simulated (merge_sim.py)."""

from locust import User, between, task


class Model(User):
    wait_time = between(0.25, 0.75)

    @task
    def nothing(self) -> None:
        """A master runs no users; a class needs a task to load."""
