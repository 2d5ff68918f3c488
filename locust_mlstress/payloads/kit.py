"""What every payload builder of a process shares: the profile, its codec, its clean sampler.

Built once per process and profile (`kit_for`), so users only hold their own random stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from locust_mlstress.codecs import Codec, make_codec
from locust_mlstress.domain.schema import Feature, Profile
from locust_mlstress.payloads.clean import CleanBatch, CleanSampler
from locust_mlstress.payloads.drift import apply_drift
from locust_mlstress.payloads.rows import columns_of
from locust_mlstress.payloads.templates import BodyTemplate, dtype_kinds

TEMPLATE_CHECK_ROWS = 64  # rows per source (clean, each drift variant) a template must reproduce


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

    @cached_property
    def templates(self) -> dict[tuple[str, ...], BodyTemplate | None]:
        """The body template of each column set the profile's rows come in (clean, each drift
        variant's), or None where it did not reproduce the codec's own bodies (templates.py).
        Decided once per process, from a sample drawn with the profile seed: the same everywhere."""
        bs = self.profile.target.batch_size
        n = TEMPLATE_CHECK_ROWS * bs
        rng = np.random.default_rng([self.profile.seed, 0x7E3])  # its own stream: users' stay put
        clean = self.sampler.draw(rng, n)
        samples: list[CleanBatch] = [clean, *(apply_drift(v, clean, self.sampler, rng) for v in self.profile.drift)]
        decided: dict[tuple[str, ...], BodyTemplate | None] = {}
        for batch in samples:
            names = tuple(batch.columns)
            template = decided[names] if names in decided else BodyTemplate.build(self.codec, names, bs)
            if template is not None and not template.agrees(
                self.codec, names, columns_of(batch.columns, n), dtype_kinds(batch.columns)
            ):
                template = None
            decided[names] = template
        return decided

    def template(self, names: tuple[str, ...]) -> BodyTemplate | None:
        """The checked template for rows of these columns; None for columns no sample had."""
        return self.templates.get(names)


_KITS: dict[tuple[str, str], PayloadKit] = {}


def kit_for(profile: Profile) -> PayloadKit:
    key = (str(profile.path), profile.sha256)
    kit = _KITS.get(key)
    if kit is None or kit.profile != profile:
        kit = _KITS[key] = PayloadKit.build(profile)
    return kit
