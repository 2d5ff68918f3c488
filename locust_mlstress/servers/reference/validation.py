"""Checking decoded request values against the profile's feature schema.

Every protocol (v1 rows, MLflow frames, v2 tensors) ends up here, so every protocol rejects the
same things with the same messages. A message always names the offending field, because a stress
report that says "400 on 3% of malformed requests" is only useful if the 400s say *which* check
fired. Unseen categories are deliberately accepted: they are drift, which the model must cope
with, not malformed input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from locust_mlstress.domain.schema import Feature

INT64_LIMIT = 1 << 63


class InputError(Exception):
    """A request the server refuses; `status` is the HTTP status (4xx) it answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ValueProblem(Exception):
    """A bad value, before the caller (who knows where it sits) adds its location."""


def type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _check_range(feature: Feature, value: float) -> None:
    if feature.min is not None and value < feature.min:
        raise ValueProblem(f"{value!r} is below the minimum {feature.min!r}")
    if feature.max is not None and value > feature.max:
        raise ValueProblem(f"{value!r} is above the maximum {feature.max!r}")


def _check_float(feature: Feature, value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueProblem(f"expected a number, got {type_name(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueProblem("number is out of range for a float") from None
    if not math.isfinite(number):
        raise ValueProblem(f"expected a finite number, got {number!r}")
    _check_range(feature, number)
    return number


def _check_int(feature: Feature, value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 3.0 is an integer that went through a float column on its way here
    if isinstance(value, bool) or not isinstance(value, int):
        shown = f"float {value!r}" if isinstance(value, float) else type_name(value)
        raise ValueProblem(f"expected an integer, got {shown}")
    if not -INT64_LIMIT <= value < INT64_LIMIT:
        raise ValueProblem("integer is out of the 64-bit range")
    _check_range(feature, value)
    return value


def _check_bool(feature: Feature, value: object) -> object:
    if not isinstance(value, bool):
        raise ValueProblem(f"expected true or false, got {type_name(value)}")
    return value


def _check_string(feature: Feature, value: object) -> object:
    if not isinstance(value, str):
        raise ValueProblem(f"expected a string, got {type_name(value)}")
    return value


CHECKS: dict[str, Callable[[Feature, object], object]] = {
    "float": _check_float,
    "int": _check_int,
    "bool": _check_bool,
    "category": _check_string,
    "text": _check_string,
}


def check_value(feature: Feature, value: object) -> object:
    """The value as the featurizer wants it (None = missing), or `ValueProblem`."""
    if value is None:
        if feature.required:
            raise ValueProblem("null is not allowed for a required feature")
        return None
    return CHECKS[feature.type](feature, value)


def coerce_value(feature: Feature, value: object) -> object:
    """Lax "accept" mode: make what we can of a value, None (imputed) for the rest."""
    if value is None:
        return None
    if feature.type in ("category", "text"):
        return value if isinstance(value, str) else str(value)
    number: float | None = None
    if isinstance(value, (bool, int, float)):
        try:
            number = float(value)
        except OverflowError:
            return None
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value.strip().lower() in ("true", "yes") if feature.type == "bool" else None
    if number is None or not math.isfinite(number):
        return None
    return bool(number) if feature.type == "bool" else number


class Schema:
    """The profile's features, indexed for the per-request path.

    A request names features by their wire keys (`Feature.wire_name`, which a model may spell
    `mean radius`); the columns handed to the model are keyed by profile name, as training saw them.
    `by_name` and `names` are therefore by wire key.
    """

    def __init__(self, features: Sequence[Feature], max_instances: int, max_fields: int, strict: bool = True):
        self.features = tuple(features)
        self.by_name = {f.wire_name: f for f in self.features}
        self.names = tuple(f.wire_name for f in self.features)
        self.max_instances = max_instances
        self.max_fields = max_fields
        self.strict = strict

    def empty_columns(self) -> dict[str, list[object]]:
        return {f.name: [] for f in self.features}

    def check_batch_size(self, n: int, where: str) -> None:
        if self.strict and n > self.max_instances:
            raise InputError(413, f"{where}: {n} instances exceed the limit of {self.max_instances}")

    def check_field_count(self, n: int, where: str) -> None:
        if self.strict and n > self.max_fields:
            raise InputError(413, f"{where}: {n} fields exceed the limit of {self.max_fields}")

    def value(self, feature: Feature, value: object, where: Callable[[], str]) -> object:
        if not self.strict:
            return coerce_value(feature, value)
        try:
            return check_value(feature, value)
        except ValueProblem as problem:
            raise InputError(400, f"{where()}: {problem}") from None

    def rows(self, rows: object, where: str) -> dict[str, list[object]]:
        """Rows (objects keyed by feature, or lists in schema order) into columns."""
        if not isinstance(rows, list):
            if self.strict:
                raise InputError(400, f"{where}: expected a list of instances, got {type_name(rows)}")
            rows = [rows]
        self.check_batch_size(len(rows), where)
        if self.strict and not rows:
            raise InputError(400, f"{where}: no instances")
        columns = self.empty_columns()
        for i, row in enumerate(rows):
            self.add_row(columns, row, f"{where}[{i}]")
        return columns

    def add_row(self, columns: dict[str, list[object]], row: object, where: str) -> None:
        if isinstance(row, list):
            self.check_field_count(len(row), where)
            if self.strict and len(row) != len(self.features):
                raise InputError(
                    400,
                    f"{where}: expected {len(self.features)} values in schema order "
                    f"({', '.join(self.names)}), got {len(row)}",
                )
            row = dict(zip(self.names, row, strict=False))
        elif not isinstance(row, dict):
            if self.strict:
                raise InputError(400, f"{where}: expected an object or a list, got {type_name(row)}")
            row = {}
        self.check_field_count(len(row), where)
        if self.strict:
            for key in row:
                if key not in self.by_name:
                    raise InputError(400, f"{where}: unknown feature {key!r}")
        for feature in self.features:
            name = feature.wire_name
            if name in row:
                value = self.value(feature, row[name], lambda: f"{where}.{name}")  # noqa: B023
            elif feature.required and self.strict:
                raise InputError(400, f"{where}.{name}: missing required feature")
            else:
                value = None
            columns[feature.name].append(value)

    def columns(
        self, given: dict[str, list[object]], n: int, where: str, column_where: Callable[[str], str]
    ) -> dict[str, list[object]]:
        """Already-columnar input (v2 tensors, MLflow "inputs"), each column a list of length n."""
        self.check_field_count(len(given), where)
        self.check_batch_size(n, where)
        if self.strict:
            for name in given:
                if name not in self.by_name:
                    raise InputError(400, f"{column_where(name)}: unknown feature {name!r}")
        columns: dict[str, list[object]] = {}
        for feature in self.features:
            name = feature.wire_name
            values = given.get(name)
            if values is None:
                if feature.required and self.strict:
                    raise InputError(400, f"{column_where(name)}: missing required feature")
                columns[feature.name] = [None] * n
                continue
            columns[feature.name] = [
                self.value(feature, v, lambda: f"{column_where(name)}[{i}]")  # noqa: B023
                for i, v in enumerate(values)
            ]
        return columns
