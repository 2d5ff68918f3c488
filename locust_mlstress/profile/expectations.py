"""The `[expect]` table and a variant's `expect`: which statuses count as right for a kind.

Apart from load.py so that variants.py can read a variant's own `expect` without importing
the loader that imports it.
"""

from __future__ import annotations

import re

from locust_mlstress.domain.schema import KINDS, Expectation
from locust_mlstress.profile.fields import Table

DEFAULT_EXPECT = {
    "clean": Expectation(("2xx",), True),
    "drifted": Expectation(("2xx",), True),
    "malformed": Expectation(("4xx",), False),
    "oversized": Expectation(("2xx", "413"), True),
}
_STATUS = re.compile(r"^[1-5](xx|\d\d)$")


def read_expectations(t: Table) -> dict[str, Expectation]:
    expect = dict(DEFAULT_EXPECT)
    for kind in KINDS:  # each kind is read (an absent one as {}), so a misspelt kind gets a suggestion
        expect[kind] = read_expectation(t.table(kind), DEFAULT_EXPECT[kind])
    t.finish()
    return expect


def read_expectation(t: Table, default: Expectation) -> Expectation:
    statuses = read_statuses(t, "status", default.statuses)
    decodable = t.boolean("decodable", default.decodable)
    t.finish()
    return Expectation(statuses, decodable)


def read_statuses(t: Table, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    statuses = t.strings(key, default, nonempty=True)
    for s in statuses:
        if not _STATUS.match(s):
            raise t.error(key, f"{s!r} is not a status pattern; use a code like '413' or a class like '4xx'")
    return statuses
