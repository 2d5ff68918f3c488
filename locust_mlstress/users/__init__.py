"""Locust users that send a profile's payload mix to a model and classify every answer.

behaviour.py holds the per-request path, mluser.py and httpuser.py the two ways to send it,
arrivals.py the open-model dispatcher; outcomes.py judges an answer and events.py declares the
`ml_request` event every request fires. context.py is what one process's users share in a run.
"""

from locust_mlstress.users.arrivals import MLArrivalUser
from locust_mlstress.users.events import MLResult, ml_events
from locust_mlstress.users.httpuser import MLHttpUser
from locust_mlstress.users.mluser import MLUser

__all__ = ["MLArrivalUser", "MLHttpUser", "MLResult", "MLUser", "ml_events"]
