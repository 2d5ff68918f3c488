"""What every payload builder of a process shares: the profile, its codec, its clean sampler.

Built once per process and profile (`kit_for`), so users only hold their own random stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..codecs import Codec, make_codec
from ..profile.model import Feature, Profile
from .clean import CleanBatch, CleanSampler
from .rows import columns_of
from .templates import BodyTemplate, dtype_kinds

TEMPLATE_CHECK_ROWS = 64  # rows per source (clean, each drift variant) a template must reproduce


@dataclass
class PayloadKit:
    profile: Profile
    codec: Codec
    sampler: CleanSampler
    oversized_cache: dict[str, object] = field(default_factory=dict)
    templates: dict[tuple[str, ...], BodyTemplate | None] = field(default_factory=dict)

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

    def template(self, names: tuple[str, ...]) -> BodyTemplate | None:
        """The body template for rows of these columns, or None where the codec's own bodies
        differ from it (payloads/templates.py); decided once per process, the same everywhere."""
        if names not in self.templates:
            self.templates[names] = self._checked_template(names)
        return self.templates[names]

    def _checked_template(self, names: tuple[str, ...]) -> BodyTemplate | None:
        from .drift import apply_drift

        bs = self.profile.target.batch_size
        template = BodyTemplate.build(self.codec, names, bs)
        if template is None:
            return None
        n = TEMPLATE_CHECK_ROWS * bs
        rng = np.random.default_rng([self.profile.seed, 0x7E3])  # its own stream: users' stay put
        clean = self.sampler.draw(rng, n)
        samples: list[CleanBatch] = [clean, *(apply_drift(v, clean, self.sampler, rng) for v in self.profile.drift)]
        checked = False
        for batch in samples:
            if tuple(batch.columns) != names:
                continue
            if not template.agrees(self.codec, names, columns_of(batch.columns, n), dtype_kinds(batch.columns)):
                return None
            checked = True
        return template if checked else None


_KITS: dict[tuple[str, str], PayloadKit] = {}


def kit_for(profile: Profile) -> PayloadKit:
    key = (str(profile.path), profile.sha256)
    kit = _KITS.get(key)
    if kit is None or kit.profile != profile:
        kit = _KITS[key] = PayloadKit.build(profile)
    return kit
