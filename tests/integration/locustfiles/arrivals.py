"""Test locustfile: an open-model dispatcher (MLArrivalUser) plus fast.py's recording."""

from fast import *  # noqa: F403  (the recording listeners; its closed-loop Model is replaced below)

from locust_mlstress import MLArrivalUser


class Model(MLArrivalUser):  # noqa: F811  (this file's only user class)
    pass
