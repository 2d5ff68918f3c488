"""The events locust-mlstress adds to Locust's, declared and documented here as Locust does.

It lives on the environment (`environment.events.ml_request`) rather than on a module, so two
environments in one process (tests, library use) never see each other's requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from locust.env import Environment
from locust.event import EventHook

from locust_mlstress.domain.outcomes import Outcome


@dataclass(slots=True)
class MLResult:
    """What a request to the model came to; built once per request, so kept small."""

    outcome: Outcome
    status: int
    predictions: list | None  # per instance: P(positive), class-probability vector or value
    response_time: float  # milliseconds, as Locust measured it
    reason: str | None  # why it failed, for failures
    # the server answered certain class labels, not probabilities: `predictions` then holds 0.0/1.0
    # per instance (binary, 1.0 = positive class) or one-hot lists (multiclass); never for
    # regression. A binary answer of only 0/1 values (JSON 1 or 1.0) is not flagged: it may be a
    # confident model's probabilities, so the run judges it over the kind (docs/metrics.md)
    labels_only: bool = False
    model_version: str | None = None  # the version the answer's body names, when it names one


ml_request_doc = """
Fired once for every request an ML user sends to the model, after the response is classified.

Event arguments:

:param payload: the `locust_mlstress.payloads.Payload` sent (kind, variant, request id, labels)
:param result: the `MLResult`: outcome, status, decoded predictions, response time, reason
"""


ml_pair_doc = """
Fired once for every payload sent to both the champion and a challenger (docs/compare.md), after
both answers are classified; `ml_request` fired for the champion's answer as for any other.

Event arguments:

:param payload: the `locust_mlstress.payloads.Payload` both were sent
:param champion: the champion's `MLResult`
:param challenger: the challenger's `MLResult`
"""


def ml_events(environment: Environment) -> EventHook:
    """The environment's `ml_request` hook, created on first use."""
    return _hook(environment, "ml_request", ml_request_doc)


def ml_pair_events(environment: Environment) -> EventHook:
    """The environment's `ml_pair` hook, created on first use."""
    return _hook(environment, "ml_pair", ml_pair_doc)


def _hook(environment: Environment, name: str, doc: str) -> EventHook:
    hook = getattr(environment.events, name, None)
    if hook is None:
        hook = EventHook()
        hook.__doc__ = doc
        setattr(environment.events, name, hook)  # a plugin event Locust's Events does not declare
    return hook
