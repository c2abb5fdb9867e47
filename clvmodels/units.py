"""Time units and durations.

A fitted model measures time in one unit (days ``D``, weeks ``W`` or months ``M``), fixed by the
summary it was fitted on. Every horizon a user passes says its unit (``"52W"``, ``(52, "W")`` or
:class:`Duration`), and a horizon in another unit is an error, never a silent rescale: a model fitted
in weeks asked for "12M" answers with the conversion the user should make.

A month is a twelfth of a Julian year (30.4375 days), so ``M`` is continuous like ``D`` and ``W``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UnitError

#: days in one period of each unit
DAYS_PER_UNIT = {"D": 1.0, "W": 7.0, "M": 365.25 / 12.0}
#: periods of each unit in one (Julian) year
PERIODS_PER_YEAR = {u: 365.25 / d for u, d in DAYS_PER_UNIT.items()}
UNIT_NAMES = {"D": "days", "W": "weeks", "M": "months"}

_ALIASES = {
    "d": "D", "day": "D", "days": "D",
    "w": "W", "week": "W", "weeks": "W", "wk": "W", "wks": "W",
    "m": "M", "month": "M", "months": "M", "mo": "M",
}


def check_unit(unit: str) -> str:
    """Normalise a unit name ('W', 'weeks', ...) to 'D', 'W' or 'M'."""
    key = str(unit).strip()
    if key in DAYS_PER_UNIT:
        return key
    norm = _ALIASES.get(key.lower())
    if norm is None:
        raise UnitError(f"unknown time unit {unit!r}: use 'D' (days), 'W' (weeks) or 'M' (months)")
    return norm


@dataclass(frozen=True)
class Duration:
    """A length of time: ``value`` periods of ``unit`` ('D', 'W' or 'M')."""

    value: float
    unit: str

    def __post_init__(self):
        object.__setattr__(self, "unit", check_unit(self.unit))
        if not (self.value >= 0):
            raise UnitError(f"a duration must be non-negative, got {self.value}")

    @classmethod
    def parse(cls, spec: "Duration | str | tuple") -> "Duration":
        """Read ``Duration``, ``"52W"``, ``"52 weeks"``, ``"12M"`` or ``(52, "W")``.

        A bare number is refused: the unit must be said, so a horizon can never be read in the wrong unit.
        """
        if isinstance(spec, Duration):
            return spec
        if isinstance(spec, tuple) and len(spec) == 2:
            return cls(float(spec[0]), spec[1])
        if isinstance(spec, str):
            m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]+)\s*", spec)
            if m:
                return cls(float(m.group(1)), m.group(2))
        raise UnitError(
            f"a horizon must say its unit, e.g. '52W', '12M', '365D' or (52, 'W'); got {spec!r}"
        )

    def in_unit(self, unit: str) -> float:
        """The value in ``unit``; raises :class:`UnitError` if the units differ (no silent rescale)."""
        unit = check_unit(unit)
        if unit != self.unit:
            converted = self.value * DAYS_PER_UNIT[self.unit] / DAYS_PER_UNIT[unit]
            raise UnitError(
                f"the model measures time in {UNIT_NAMES[unit]} ('{unit}') but the horizon is "
                f"{self.value:g} {UNIT_NAMES[self.unit]}; pass it in {UNIT_NAMES[unit]}, "
                f"e.g. '{converted:.4g}{unit}'"
            )
        return float(self.value)

    def __str__(self) -> str:
        return f"{self.value:g}{self.unit}"


def discount_rate_per_period(annual_rate: float, unit: str) -> float:
    """Convert an annual discount rate to the rate per period of ``unit`` (compounding, not dividing)."""
    if annual_rate <= -1:
        raise ValueError(f"annual discount rate must be > -1, got {annual_rate}")
    return (1.0 + annual_rate) ** (1.0 / PERIODS_PER_YEAR[check_unit(unit)]) - 1.0
