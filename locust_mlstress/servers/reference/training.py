"""Fitting the reference model to a loaded profile, on clean samples from the profile's own sampler.

Training on the same sampler that generates the stress run's clean traffic is what makes the
reference model calibrated on clean traffic, and so what makes drift and miscalibration
measurable against it.
"""

from __future__ import annotations

import numpy as np

from locust_mlstress.domain.schema import Profile
from locust_mlstress.payloads.clean import CleanSampler
from locust_mlstress.servers.reference.model import Model, fit_model

TRAIN_SAMPLES = 20_000


def model_for_profile(profile: Profile, samples: int = TRAIN_SAMPLES) -> Model:
    """A model fitted to `samples` clean rows drawn with the profile's seed: same profile, same model."""
    rng = np.random.default_rng(profile.seed)
    batch = CleanSampler(profile).draw(rng, samples)
    return fit_model(profile.features, profile.output, batch.columns, batch.labels, profile.seed)
