"""The `flip_share` knob: a reference challenger that answers the other class for some inputs.

A champion/challenger comparison needs a challenger whose disagreement with the champion is
known in advance. Which inputs flip is a keyed hash of the row *as the model sees it* (its
design-matrix row), so the flipped set is a fixed subset of the input space: the same row gets
the same answer alone or anywhere in a batch, through any protocol, on any worker, and over many
distinct inputs the flipped share converges on `flip_share` exactly rather than drifting with
the order requests happen to arrive in.
"""

from __future__ import annotations

import hashlib

import numpy as np

_SCALE = 1 << 64  # the hash is 8 bytes: a row flips when its hash < share * 2**64


def flipped_rows(x: np.ndarray, share: float, seed: int = 0) -> np.ndarray:
    """Boolean mask [n]: the rows of design matrix `x` whose answer flips.

    blake2b keyed with the seed, over the row's float64 little-endian bytes: stable across
    processes and platforms (Python's `hash` is salted per process), and independent of the
    chaos knob's hash of request ids, so the two knobs pick unrelated requests."""
    n = x.shape[0]
    if share <= 0.0 or n == 0:
        return np.zeros(n, dtype=bool)
    if share >= 1.0:
        return np.ones(n, dtype=bool)
    rows = np.ascontiguousarray(x, dtype="<f8")
    key = f"flip-{seed}".encode()
    limit = share * _SCALE
    return np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8, key=key).digest(), "big") < limit
            for row in rows
        ),
        dtype=bool,
        count=n,
    )


def flip_answers(predictions: np.ndarray, mask: np.ndarray, output_type: str) -> np.ndarray:
    """The predictions with the masked rows answering another class.

    Binary: p becomes 1 - p, so the label (p >= 0.5) is the other one and the score is the
    mirror image, not a new guess. Multiclass: each masked row's probabilities are rolled one
    class along, so its argmax moves to the next class (the last to the first) and the set of
    probabilities is unchanged. Regression has no class to flip; the knob refuses it earlier."""
    if not mask.any():
        return predictions
    out = predictions.copy()
    if output_type == "binary":
        out[mask] = 1.0 - predictions[mask]
    elif output_type == "multiclass":
        out[mask] = np.roll(predictions[mask], 1, axis=1)
    else:
        raise ValueError(f"flip_share applies to classification models, not {output_type}")
    return out
