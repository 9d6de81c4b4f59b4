"""Per-variable error bounds: parsing `pt=0.1%,eta=0.001` and checking them value by value.

A tolerance ending in ``%`` is relative (|x' - x| <= r |x|), a plain number is absolute
(|x' - x| <= a). The check is done in float64 on the values exactly as they will be handed
back, so a float32 column must be cast to float32 *before* it is checked.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from jetzip.errors import OptionError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:\-\[\]]*$")


@dataclass(frozen=True)
class Tolerance:
    """One error bound: `value` is a fraction (0.001 for 0.1 %) when `relative`, else absolute."""

    value: float
    relative: bool

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and self.value > 0):
            raise OptionError(f"a tolerance must be a positive finite number, got {self.value!r}")

    def allowed(self, original: np.ndarray) -> np.ndarray:
        """The largest permitted |x' - x| for each original value (float64)."""
        original = np.asarray(original, dtype=np.float64)
        if self.relative:
            return self.value * np.abs(original)
        return np.full(original.shape, self.value)

    def violations(self, original: np.ndarray, reconstructed: np.ndarray) -> np.ndarray:
        """Boolean mask, True where `reconstructed` misses the bound (NaN/inf must match exactly).

        Non-finite originals count as met only when reproduced identically (same NaN-ness, same
        infinity), since no finite error bound can describe them.
        """
        original = np.asarray(original, dtype=np.float64)
        reconstructed = np.asarray(reconstructed, dtype=np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            error = np.abs(reconstructed - original)
            # an infinite error misses even a bound that overflowed to infinity itself
            bad = ~(error <= self.allowed(original)) | np.isinf(error)
        nonfinite = ~np.isfinite(original)
        if nonfinite.any():
            same = (original == reconstructed) | (np.isnan(original) & np.isnan(reconstructed))
            bad[nonfinite] = ~same[nonfinite]
        return bad

    def to_text(self) -> str:
        """The tolerance as the user would write it (`0.1%` or `0.001`)."""
        return f"{self.value * 100:g}%" if self.relative else f"{self.value:g}"

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "relative": self.relative}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tolerance:
        return cls(float(data["value"]), bool(data["relative"]))

    @classmethod
    def parse(cls, text: str) -> Tolerance:
        """Parse `0.1%` (relative) or `0.001` / `1e-3` (absolute)."""
        text = text.strip()
        relative = text.endswith("%")
        number = text[:-1].strip() if relative else text
        try:
            value = float(number)
        except ValueError:
            raise OptionError(
                f"malformed tolerance value {text!r}: expected a number like 0.001 or 0.1%"
            ) from None
        if not (math.isfinite(value) and value > 0):
            raise OptionError(f"tolerance {text!r} must be a positive finite number")
        return cls(value / 100.0 if relative else value, relative)


def parse_tolerances(text: str, name_pattern: re.Pattern[str] = _NAME) -> dict[str, Tolerance]:
    """Parse `pt=0.1%,m=0.1%,eta=0.001,phi=0.001` into {column: Tolerance}, in the given order.

    `name_pattern` says which names are valid (whole-file policies accept globs, `*_pt`)."""
    if not text or not text.strip():
        raise OptionError("empty tolerance string: expected e.g. pt=0.1%,eta=0.001")
    result: dict[str, Tolerance] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name or not value.strip():
            raise OptionError(f"malformed tolerance {item.strip()!r}: expected NAME=VALUE")
        if not name_pattern.match(name):
            raise OptionError(f"malformed column name {name!r} in tolerance {item.strip()!r}")
        if name in result:
            raise OptionError(f"tolerance for column {name!r} given twice")
        result[name] = Tolerance.parse(value)
    return result


def check_tolerance_columns(
    tolerances: dict[str, Tolerance], float_columns: list[str], all_columns: list[str]
) -> None:
    """Refuse tolerances for columns that do not exist or are not floating point."""
    for name in tolerances:
        if name not in all_columns:
            raise OptionError(
                f"tolerance given for column {name!r}, which the data do not have "
                f"(columns: {', '.join(all_columns)})"
            )
        if name not in float_columns:
            raise OptionError(
                f"tolerance given for integer column {name!r}: integer columns are always "
                "stored losslessly"
            )
