"""The two versions a user sends to: the champion (--host) and, when one is given, a challenger.

A challenger gets the champion's very bytes, so that a different answer is the model's doing and
nothing else. Which payloads are mirrored (`--ml-challenger-share`) and which version hears a
payload first are drawn from the payload's request id and the profile seed, not from a stream:
the same payloads are paired, in the same order, on any worker count (docs/compare.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, cast

from locust_mlstress.codecs import Codec, make_codec
from locust_mlstress.domain.schema import KINDS, Profile
from locust_mlstress.users.context import option

if TYPE_CHECKING:
    from locust.env import Environment

Version = Literal["champion", "challenger"]
CHAMPION: Version = "champion"
CHALLENGER: Version = "challenger"


@dataclass(frozen=True)
class Side:
    """One version as a user sends to it: where, with which headers, and how its answers read."""

    version: Version
    host: str | None  # None: the user's own host (the champion's)
    path: str
    headers: dict[str, str]
    codec: Codec
    timeout: float
    names: dict[str, str]  # payload kind (and "probe") -> Locust's request name
    id_suffix: str  # added to the payload's request id: each request its own id


@dataclass(frozen=True)
class ChallengerSettings:
    """Where the challenger listens and how much of the traffic it is sent."""

    url: str
    share: float
    tolerance: float


def challenger_settings(environment: Environment, profile: Profile) -> ChallengerSettings | None:
    """--ml-challenger (or [challenger] host) and its share; None when no challenger runs."""
    table = profile.challenger
    url = option(environment, "ml_challenger") or (table.host if table is not None else None)
    if not url:
        return None
    share = option(environment, "ml_challenger_share")
    return ChallengerSettings(
        url=str(url),
        share=float(share) if share is not None else (table.share if table is not None else 1.0),
        tolerance=table.tolerance if table is not None else 0.0,
    )


def request_names(path: str, version: Version) -> dict[str, str]:
    """Locust's row names: the champion's as without a challenger, the challenger's apart."""
    prefix = "" if version == CHAMPION else "challenger "
    return {kind: f"{prefix}POST {path} [{kind}]" for kind in (*KINDS, "probe")}


def sides(profile: Profile, champion_codec: Codec, headers: dict[str, str], url: str | None) -> tuple[Side, ...]:
    """The champion's side, and the challenger's when `url` is given."""
    target = profile.target
    champion = Side(CHAMPION, None, target.path, headers, champion_codec, target.timeout,
                    request_names(target.path, CHAMPION), "")  # fmt: skip
    if url is None:
        return (champion,)
    table = profile.challenger
    path = (table.path if table is not None else None) or target.path
    codec = champion_codec
    if table is not None and (table.response_path or table.item_path):
        decoding = replace(
            target,
            response_path=table.response_path or target.response_path,
            item_path=table.item_path or target.item_path,
        )
        codec = make_codec(decoding, profile.features, profile.output)
    own = {h.name: cast(str, h.value) for h in table.headers} if table is not None else {}
    replaced = {name.lower() for name in own}
    merged = {name: value for name, value in headers.items() if name.lower() not in replaced} | own
    timeout = (table.timeout if table is not None else None) or target.timeout
    return champion, Side(CHALLENGER, url, path, merged, codec, timeout, request_names(path, CHALLENGER), "-c")


def pair_draw(seed: int, request_id: str) -> tuple[float, bool]:
    """(a uniform draw in [0, 1) that decides whether the payload is mirrored, whether the
    challenger hears it first), from the payload's identity: the same on any worker count."""
    digest = hashlib.blake2b(request_id.encode(), digest_size=8, key=seed.to_bytes(8, "little")).digest()
    return int.from_bytes(digest[:7], "little") / float(1 << 56), bool(digest[7] & 1)


__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "ChallengerSettings",
    "Side",
    "Version",
    "challenger_settings",
    "pair_draw",
    "request_names",
    "sides",
]
