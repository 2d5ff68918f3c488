"""Payloads: clean, drifted, malformed and oversized request bodies from a profile."""

from .factory import Payload, PayloadFactory
from .kit import PayloadKit, kit_for

__all__ = ["Payload", "PayloadFactory", "PayloadKit", "kit_for"]
