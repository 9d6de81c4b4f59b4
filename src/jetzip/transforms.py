"""Invertible per-column transforms that bring jet variables to a scale a network learns well.

Each column gets a chain of simple steps (log, asinh, scale, shift, standardise). Chains are
fitted on the training split only, applied in float64, serialised to JSON with the model, and
inverted exactly (up to float64 rounding) when a model's output goes back to physical units.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from jetzip.errors import InputError, OptionError


class Step:
    """One invertible element-wise step; `fit` learns parameters (most steps have none)."""

    kind: ClassVar[str]

    def fit(self, values: np.ndarray) -> None:
        """Learn parameters from training values (steps without parameters do nothing)."""

    def forward(self, values: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def inverse(self, values: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """Parameters that recreate the step (fitted ones included)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.params()}


@dataclass
class Log(Step):
    """log_base(x + offset): relative precision everywhere for positive, wide-ranged variables."""

    kind: ClassVar[str] = "log"
    offset: float = 0.0
    base: float = float(np.e)

    def fit(self, values: np.ndarray) -> None:
        lowest = float(np.min(values)) + self.offset
        if lowest <= 0:
            raise InputError(
                f"log transform needs x + offset > 0, but min(x) + {self.offset} = {lowest:g}; "
                "use asinh or a larger offset for this column"
            )

    def forward(self, values: np.ndarray) -> np.ndarray:
        return np.log(values + self.offset) / np.log(self.base)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return np.exp(values * np.log(self.base)) - self.offset

    def params(self) -> dict[str, Any]:
        return {"offset": self.offset, "base": self.base}


@dataclass
class Asinh(Step):
    """asinh(x / scale): log-like for |x| >> scale, linear near 0, defined for any sign."""

    kind: ClassVar[str] = "asinh"
    scale: float = 1.0

    def forward(self, values: np.ndarray) -> np.ndarray:
        return np.arcsinh(values / self.scale)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return np.sinh(values) * self.scale

    def params(self) -> dict[str, Any]:
        return {"scale": self.scale}


@dataclass
class Scale(Step):
    """x * factor (the studies' eta/5 and phi/3)."""

    kind: ClassVar[str] = "scale"
    factor: float = 1.0

    def forward(self, values: np.ndarray) -> np.ndarray:
        return values * self.factor

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values / self.factor

    def params(self) -> dict[str, Any]:
        return {"factor": self.factor}


@dataclass
class Shift(Step):
    """x + offset."""

    kind: ClassVar[str] = "shift"
    offset: float = 0.0

    def forward(self, values: np.ndarray) -> np.ndarray:
        return values + self.offset

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values - self.offset

    def params(self) -> dict[str, Any]:
        return {"offset": self.offset}


@dataclass
class Standardise(Step):
    """(x - mean) / std with mean and std (ddof=0) fitted on the training split."""

    kind: ClassVar[str] = "standardise"
    mean: float | None = None
    std: float | None = None

    def fit(self, values: np.ndarray) -> None:
        self.mean = float(np.mean(values))
        std = float(np.std(values))
        self.std = std if std > 0 else 1.0

    def _fitted(self) -> tuple[float, float]:
        if self.mean is None or self.std is None:
            raise RuntimeError("standardise step used before it was fitted")
        return self.mean, self.std

    def forward(self, values: np.ndarray) -> np.ndarray:
        mean, std = self._fitted()
        return (values - mean) / std

    def inverse(self, values: np.ndarray) -> np.ndarray:
        mean, std = self._fitted()
        return values * std + mean

    def params(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std}


STEP_KINDS: dict[str, type[Step]] = {
    cls.kind: cls for cls in (Log, Asinh, Scale, Shift, Standardise)
}


def step_from_dict(spec: Mapping[str, Any]) -> Step:
    """Build a step from {"kind": ..., params...}; `log10` is a shorthand for base 10. Every
    parameter must be a finite number (a standardise step's mean and std may be None: unfitted),
    so that a bad config or model fails here, in one line, not in the middle of training."""
    if not isinstance(spec, Mapping):
        raise OptionError(f"a transform is text like 'log(offset=1)' or a table, not {spec!r:.40}")
    params = dict(spec)
    kind = str(params.pop("kind", ""))
    if kind == "log10":
        kind, params["base"] = "log", 10.0
    if kind not in STEP_KINDS:
        raise OptionError(f"unknown transform {kind!r}; choose from {', '.join(STEP_KINDS)}, log10")
    for key, value in params.items():
        unfitted = value is None and kind == "standardise"
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not (unfitted or (number and math.isfinite(value))):
            raise OptionError(
                f"transform parameter {key}={value!r:.40} of {kind!r} is not a finite number"
            )
    try:
        return STEP_KINDS[kind](**params)
    except TypeError as exc:
        raise OptionError(f"bad parameters for transform {kind!r}: {params}") from exc


def step_from_text(text: str) -> Step:
    """Parse the compact form used in configs: `asinh`, `log(offset=1)`, `scale(factor=0.2)`."""
    match = re.fullmatch(r"\s*(\w+)\s*(?:\((.*)\))?\s*", text)
    if not match:
        raise OptionError(f"cannot parse transform {text!r}; expected e.g. 'log(offset=1)'")
    spec: dict[str, Any] = {"kind": match.group(1)}
    for item in filter(None, (p.strip() for p in (match.group(2) or "").split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise OptionError(f"transform parameter {item!r} in {text!r} is not key=value")
        try:
            spec[key.strip()] = float(value)
        except ValueError:
            raise OptionError(f"transform parameter {item!r} in {text!r} is not a number") from None
    return step_from_dict(spec)


@dataclass
class Chain:
    """Steps applied in order to one column; the inverse runs them backwards."""

    steps: list[Step] = field(default_factory=list)

    def fit(self, values: np.ndarray) -> None:
        for step in self.steps:
            step.fit(values)
            values = step.forward(values)

    def forward(self, values: np.ndarray) -> np.ndarray:
        for step in self.steps:
            values = step.forward(values)
        return values

    def inverse(self, values: np.ndarray) -> np.ndarray:
        for step in reversed(self.steps):
            values = step.inverse(values)
        return values

    def to_list(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.steps]


class Normaliser:
    """Per-column chains for a fixed list of columns, acting on (n, k) float64 matrices."""

    def __init__(self, chains: Mapping[str, Chain]) -> None:
        self.chains = dict(chains)

    @property
    def columns(self) -> list[str]:
        return list(self.chains)

    def fit(self, matrix: np.ndarray) -> Normaliser:
        """Fit every chain on its column of the training matrix; returns self."""
        for j, chain in enumerate(self.chains.values()):
            chain.fit(np.asarray(matrix[:, j], dtype=np.float64))
        return self

    def _apply(self, matrix: np.ndarray, inverse: bool) -> np.ndarray:
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(self.chains):
            raise InputError(
                f"expected an (n, {len(self.chains)}) matrix for columns {self.columns}, "
                f"got shape {matrix.shape}"
            )
        out = np.empty_like(matrix)
        for j, chain in enumerate(self.chains.values()):
            out[:, j] = chain.inverse(matrix[:, j]) if inverse else chain.forward(matrix[:, j])
        return out

    def transform(self, matrix: np.ndarray) -> np.ndarray:
        """Physical units -> network space."""
        return self._apply(matrix, inverse=False)

    def inverse(self, matrix: np.ndarray) -> np.ndarray:
        """Network space -> physical units."""
        return self._apply(matrix, inverse=True)

    def to_json_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {name: chain.to_list() for name, chain in self.chains.items()}

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict())

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Sequence[Mapping[str, Any]]]) -> Normaliser:
        return cls(
            {name: Chain([step_from_dict(s) for s in steps]) for name, steps in data.items()}
        )

    @classmethod
    def from_json(cls, text: str) -> Normaliser:
        return cls.from_json_dict(json.loads(text))


SCHEMES = ("standard", "custom", "none")


def physics_role(column: str) -> str | None:
    """Recognise m/E, pt, eta, phi in names like `pt`, `Jet_pt`, `AnalysisJetsAuxDyn.eta`."""
    base = re.split(r"[._]", column)[-1].lower()
    roles = {"m": "mass", "mass": "mass", "e": "mass", "pt": "pt", "eta": "eta", "phi": "phi"}
    return roles.get(base)


def custom_steps(column: str) -> list[Step]:
    """The ATLAS studies' normalisation: log-like for m/E and pt, eta/5, phi/3, then z-score.

    Masses use asinh rather than log(m + 1) so that zero and slightly negative masses (present
    in real data) and any unit are handled; for m >> 1 it equals log(2m).
    """
    role = physics_role(column)
    lead: list[Step] = {
        "mass": [Asinh(1.0)],
        "pt": [Log()],
        "eta": [Scale(0.2)],
        "phi": [Scale(1.0 / 3.0)],
    }.get(role or "", [])
    return [*lead, Standardise()]


def build_normaliser(
    columns: Sequence[str],
    scheme: str = "custom",
    overrides: Mapping[str, Sequence[str | Mapping[str, Any]]] | None = None,
) -> Normaliser:
    """An unfitted normaliser for `columns` from a named scheme plus per-column overrides.

    Overrides map a column to its full chain, each step a dict ({"kind": "log", "offset": 1})
    or compact text ("log(offset=1)").
    """
    if scheme not in SCHEMES:
        raise OptionError(f"unknown normalisation scheme {scheme!r}; choose from {SCHEMES}")
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(columns)
    if unknown:
        raise OptionError(
            f"transform overrides for unknown column(s): {', '.join(sorted(unknown))}"
        )
    chains = {}
    for name in columns:
        if name in overrides:
            chain = overrides[name]
            if isinstance(chain, str | Mapping) or not isinstance(chain, Sequence):
                raise OptionError(
                    f"the transforms of {name!r} are a list, e.g. ['log(offset=1)', "
                    f"'standardise'], not {chain!r:.40}"
                )
            steps = [step_from_text(s) if isinstance(s, str) else step_from_dict(s) for s in chain]
        elif scheme == "custom":
            steps = custom_steps(name)
        elif scheme == "standard":
            steps = [Standardise()]
        else:
            steps = []
        chains[name] = Chain(steps)
    return Normaliser(chains)
