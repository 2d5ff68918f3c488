"""The stable names of malformed and oversized variants, for the profile loader and the docs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from locust_mlstress.domain.schema import Profile
from locust_mlstress.payloads.kit import kit_for
from locust_mlstress.payloads.malformed import MALFORMED
from locust_mlstress.payloads.oversized import OVERSIZED


@dataclass(frozen=True)
class VariantSpec:
    name: str
    check: Callable | None  # kit -> reason the variant cannot be built, or None
    default_size: int = 0

    def unavailable(self, profile: Profile) -> str | None:
        if self.check is None:
            return None
        return self.check(kit_for(profile))


def variant_specs(kind: str) -> dict[str, VariantSpec]:
    if kind == "malformed":
        return {name: VariantSpec(name, check) for name, (_, check) in MALFORMED.items()}
    return {name: VariantSpec(name, check, size) for name, (_, check, size) in OVERSIZED.items()}
