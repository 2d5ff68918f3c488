"""What every payload builder of a process shares: the profile, its codec, its clean sampler.

Built once per process and profile (`kit_for`), so users only hold their own random stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..codecs import Codec, make_codec
from ..profile.model import Feature, Profile
from .clean import CleanSampler


@dataclass
class PayloadKit:
    profile: Profile
    codec: Codec
    sampler: CleanSampler
    oversized_cache: dict[str, object] = field(default_factory=dict)

    @classmethod
    def build(cls, profile: Profile) -> PayloadKit:
        return cls(profile, make_codec(profile.target, profile.features, profile.output), CleanSampler(profile))

    def features_where(self, *types: str, required: bool | None = None, bounded: bool = False) -> list[Feature]:
        return [
            f
            for f in self.profile.features
            if (not types or f.type in types)
            and (required is None or f.required == required)
            and (not bounded or f.min is not None or f.max is not None)
        ]

    @cached_property
    def numeric(self) -> list[Feature]:
        return self.features_where("float", "int")


_KITS: dict[tuple[str, str], PayloadKit] = {}


def kit_for(profile: Profile) -> PayloadKit:
    key = (str(profile.path), profile.sha256)
    kit = _KITS.get(key)
    if kit is None or kit.profile != profile:
        kit = _KITS[key] = PayloadKit.build(profile)
    return kit
