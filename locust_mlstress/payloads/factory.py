"""The per-user payload stream: which kind and variant comes next, and its body bytes.

A user's stream is a function of (profile seed, user id) only: the user's numpy generator draws
a block of kinds, variants and clean rows at a time, and nothing it draws depends on timing or
on other users. Work is done per block with numpy; per request there is a list lookup and one
codec encode.
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np

from locust_mlstress.codecs import Codec
from locust_mlstress.domain.plan import LoadPlan
from locust_mlstress.domain.schema import KINDS, Profile
from locust_mlstress.payloads.clean import CleanBatch
from locust_mlstress.payloads.drift import apply_drift, strength
from locust_mlstress.payloads.kit import PayloadKit, kit_for
from locust_mlstress.payloads.malformed import JSON, MALFORMED
from locust_mlstress.payloads.oversized import build_oversized
from locust_mlstress.payloads.rows import columns_of
from locust_mlstress.payloads.templates import dtype_kinds

BLOCK = 256  # payloads drawn per numpy round: amortises call overhead, bounds memory per user
TEXT_CHUNK = 32  # bodies whose values are JSON-encoded together (_Rows.body)
CLEAN, DRIFTED, MALFORMED_KIND, OVERSIZED = range(4)


@dataclass(slots=True)
class Payload:
    kind: str
    variant: str
    body: bytes
    content_type: str
    request_id: str
    n: int  # instances in the body
    labels: list | None  # class indices (or values) per instance, when the source knows them
    label_probs: list | None  # the true P(y|x) per instance, for a parametric label model
    drift_active: bool = False  # a drifted-kind payload that carries its drift (see drift.strength)


class _Rows:
    """A batch's rows as plain column lists; row dicts are built only for the slots that send
    them. Every slot has a clean row and a drifted one, but a payload uses one or the other, if
    either (oversized bodies are shared), so building all dicts up front was mostly waste."""

    __slots__ = ("n", "names", "columns", "kinds", "labels", "probs", "template", "_texts")

    def __init__(self, batch: CleanBatch, n: int, kit: PayloadKit):
        self.n = n
        self.names = list(batch.columns)
        self.columns = columns_of(batch.columns, n)
        self.kinds = dtype_kinds(batch.columns)
        self.labels = None if batch.labels is None else batch.labels.tolist()
        self.probs = None if batch.label_probs is None else batch.label_probs.tolist()
        self.template = kit.template(tuple(self.names))
        self._texts: dict[int, list[list[str]]] = {}

    def body(self, codec: Codec, lo: int, bs: int) -> bytes:
        """The encoded body of rows lo..lo+bs: from the template where there is one (templates.py).
        Values are encoded a column at a time for TEXT_CHUNK bodies' rows: drifted rows exist
        for every slot, but only the drifted share of slots sends them."""
        if self.template is None:
            return codec.encode(self.rows(lo, lo + bs))
        size = TEXT_CHUNK * bs
        start = lo - lo % size
        texts = self._texts.get(start)
        if texts is None:
            chunk = [c[start : start + size] for c in self.columns]
            texts = self._texts[start] = self.template.texts(chunk, self.kinds)
        return self.template.render(texts, lo - start)

    def rows(self, lo: int, hi: int) -> list[dict]:
        names = self.names
        if hi - lo == 1:
            return [dict(zip(names, [c[lo] for c in self.columns], strict=True))]
        return [dict(zip(names, values, strict=True)) for values in zip(*(c[lo:hi] for c in self.columns), strict=True)]


@dataclass
class _Block:
    kind_draws: list[float]  # one uniform per slot; the current mix maps it to a kind
    variants: list[list[int]]  # per kind, the variant each slot would be
    sched: list[float]
    aux: list[int]
    clean: _Rows
    drifted: dict[int, tuple[_Rows, np.ndarray]]  # variant -> rows, row index


Mix = Callable[[float], list[float]]  # seconds since start -> cumulative kind weights (KINDS order)


def cumulative(weights: dict[str, float]) -> list[float]:
    """Cumulative shares of the kinds, in KINDS order, for mapping a uniform draw to a kind."""
    total = sum(weights.get(k, 0.0) for k in KINDS)
    out, acc = [], 0.0
    for k in KINDS:
        acc += weights.get(k, 0.0) / total
        out.append(acc)
    out[-1] = 1.0
    return out


class PayloadFactory:
    """Deterministic payloads for one user; `clock` gives seconds since the test started, and
    `mix` the kind weights in force at a time (stages of a load plan may change them)."""

    def __init__(
        self, profile: Profile, user_id: int, clock: Callable[[], float] | None = None, mix: Mix | None = None
    ):
        self.kit: PayloadKit = kit_for(profile)
        self.profile = profile
        self.user_id = user_id
        self.rng = np.random.default_rng([profile.seed, 0x10AD, user_id])
        self.clock = clock or _since(time.monotonic())
        self.bs = profile.target.batch_size
        constant = cumulative(profile.kind_weights)
        self.mix: Mix = mix or (lambda _t: constant)
        self._variant_cum = []
        self._variant_names = []
        for kind in KINDS:
            pairs = profile.variants(kind)
            w = np.array([weight for _, weight in pairs], dtype=np.float64)
            self._variant_cum.append(np.cumsum(w / w.sum()) if w.sum() > 0 else np.ones(len(w)))
            self._variant_names.append(tuple(name for name, _ in pairs))
        self._malformed = [MALFORMED[name][0] for name in self._variant_names[MALFORMED_KIND]]
        self._prefix = f"{profile.seed:x}-{user_id:x}-"
        self._seq = 0
        self._i = BLOCK
        self._block: _Block | None = None

    def next(self) -> Payload:
        if self._i == BLOCK:
            self._block = self._draw_block()
            self._i = 0
        b, i = cast(_Block, self._block), self._i  # drawn above on the first call
        self._i += 1
        self._seq += 1
        now = self.clock()
        kind = bisect_left(self.mix(now), b.kind_draws[i])
        v = b.variants[kind][i]
        request_id = f"{self._prefix}{self._seq:x}"
        name = self._variant_names[kind][v]
        lo = i * self.bs
        if kind == OVERSIZED:
            o = build_oversized(self.kit, self.profile.oversized[v])
            return Payload("oversized", name, o.body, o.content_type, request_id, o.n, o.labels, None)
        if kind == DRIFTED:
            rows, index = b.drifted[v]
            active = b.sched[i] < strength(self.profile.drift[v].schedule, now)
            if active:
                j = int(np.searchsorted(index, lo))
                return self._encoded("drifted", name, request_id, rows, j, True)
            return self._encoded("drifted", name, request_id, b.clean, lo, False)
        if kind == CLEAN:
            return self._encoded("clean", name, request_id, b.clean, lo, False)
        rows_i = b.clean.rows(lo, lo + self.bs)
        body, ctype = self._malformed[v](self.kit, rows_i, b.aux[i])
        return Payload("malformed", name, body, ctype, request_id, len(rows_i), None, None)

    def _encoded(self, kind, name, request_id, rows: _Rows, lo: int, active: bool) -> Payload:
        hi = lo + self.bs  # rows come in whole slots of batch_size
        labels = None if rows.labels is None else rows.labels[lo:hi]
        probs = None if rows.probs is None else rows.probs[lo:hi]
        body = rows.body(self.kit.codec, lo, self.bs)
        return Payload(kind, name, body, JSON, request_id, self.bs, labels, probs, active)

    def _draw_block(self) -> _Block:
        """One block of slots. Every slot gets a clean row, a variant of each kind and, for its
        drift variant, a drifted row, so whatever kind the mix makes it at send time it is ready:
        the draws never depend on timing."""
        rng, bs = self.rng, self.bs
        kind_draws = rng.random(BLOCK)
        u = rng.random(BLOCK)
        variants = [
            np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1).tolist() if len(cum) else [0] * BLOCK
            for cum in self._variant_cum
        ]
        sched = rng.random(BLOCK)
        aux = rng.integers(0, 2**31, BLOCK)
        clean = self.kit.sampler.draw(rng, BLOCK * bs)
        drifted = {}
        drift_of_slot = np.asarray(variants[DRIFTED])
        for v in range(len(self.profile.drift)):
            slots = np.flatnonzero(drift_of_slot == v)
            if len(slots) == 0:
                continue
            index = (slots[:, None] * bs + np.arange(bs)).ravel()
            moved = apply_drift(self.profile.drift[v], _take(clean, index), self.kit.sampler, rng)
            drifted[v] = (_Rows(moved, len(index), self.kit), index)
        return _Block(
            kind_draws.tolist(), variants, sched.tolist(), aux.tolist(), _Rows(clean, BLOCK * bs, self.kit), drifted
        )


def _take(batch: CleanBatch, index: np.ndarray) -> CleanBatch:
    def pick(a):
        return None if a is None else a[index]

    return CleanBatch(
        {k: c[index] for k, c in batch.columns.items()},
        pick(batch.labels),
        pick(batch.label_probs),
        pick(batch.draws),
    )


def _since(start: float) -> Callable[[], float]:
    return lambda: time.monotonic() - start


def mix_for(profile: Profile, plan: LoadPlan | None = None) -> Mix | None:
    """The kind weights in force at t under the plan; None when no stage changes them."""
    plan = plan if plan is not None else profile.load
    if plan is None or all(s.mix is None for s in plan.stages):
        return None
    base = cumulative(profile.kind_weights)
    per_stage = [cumulative(s.mix) if s.mix is not None else base for s in plan.stages]
    ends, last = plan.ends, len(per_stage) - 1

    def mix(t: float) -> list[float]:
        # the stage in force as plan.stage_at finds it; the last one's after the plan ends
        return per_stage[min(bisect_right(ends, t), last)]

    return mix
