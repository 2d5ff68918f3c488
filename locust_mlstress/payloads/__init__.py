"""Payloads: clean, drifted, malformed and oversized request bodies from a profile."""

from locust_mlstress.payloads.factory import Payload, PayloadFactory
from locust_mlstress.payloads.kit import PayloadKit, kit_for

__all__ = ["Payload", "PayloadFactory", "PayloadKit", "kit_for"]
