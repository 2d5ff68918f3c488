"""The reference model server: a seeded model fitted to a traffic profile, served over HTTP.

It is the default target of the quickstart and of the integration tests: strict, calibrated and
fast by default, and misbehaving on request through `ServerKnobs`.
"""

from locust_mlstress.servers.reference.app import ReferenceApp
from locust_mlstress.servers.reference.knobs import ServerKnobs
from locust_mlstress.servers.reference.model import Model, fit_model
from locust_mlstress.servers.reference.process import ReferenceServer, ReferenceServerError
from locust_mlstress.servers.reference.server import serve, start_server

__all__ = [
    "Model",
    "ReferenceApp",
    "ReferenceServer",
    "ReferenceServerError",
    "ServerKnobs",
    "fit_model",
    "serve",
    "start_server",
]
