"""Jet substructure variables, vectorised over all constituents of all jets at once.

Constituents are given flat (one entry per constituent, jets one after the other) with the
number of constituents per jet; per-jet sums are segment sums over that layout, so a whole
block of jets costs a handful of numpy calls instead of a Python loop per jet.
Angular distances use (rapidity, phi), the metric anti-kt itself uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Exponent kappa of the pt-weighted jet charge, the value used in the ATLAS and CMS measurements.
JET_CHARGE_KAPPA = 0.5


@dataclass(frozen=True)
class Constituents:
    """Flat constituent arrays of many jets; `counts[j]` constituents belong to jet j."""

    counts: np.ndarray
    pt: np.ndarray
    rapidity: np.ndarray
    phi: np.ndarray
    charge: np.ndarray

    def __post_init__(self) -> None:
        if np.any(self.counts < 1):
            raise ValueError("every jet needs at least one constituent")
        if int(self.counts.sum()) != self.pt.shape[0]:
            raise ValueError("constituent counts do not add up to the number of constituents")

    @property
    def jet_of(self) -> np.ndarray:
        """For every constituent, the index of its jet."""
        return np.repeat(np.arange(self.counts.shape[0]), self.counts)

    def per_jet_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum of `values` (one per constituent) over the constituents of each jet."""
        starts = np.concatenate(([0], np.cumsum(self.counts)[:-1]))
        return np.add.reduceat(values, starts) if values.shape[0] else np.zeros(0)

    def per_jet_max(self, values: np.ndarray) -> np.ndarray:
        starts = np.concatenate(([0], np.cumsum(self.counts)[:-1]))
        return np.maximum.reduceat(values, starts) if values.shape[0] else np.zeros(0)


def delta_phi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a - b wrapped into [-pi, pi)."""
    return (a - b + np.pi) % (2 * np.pi) - np.pi


def delta_r(y1: np.ndarray, phi1: np.ndarray, y2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    return np.hypot(y1 - y2, delta_phi(phi1, phi2))


def jet_shapes(
    constituents: Constituents, jet_pt: np.ndarray, jet_rapidity: np.ndarray, jet_phi: np.ndarray
) -> dict[str, np.ndarray]:
    """Multiplicities, width, pT_D, leading and charged pt fractions and the jet charge.

    Fractions are taken of the scalar constituent pt sum, so they lie in [0, 1] by
    construction (the vector sum, the jet pt, can be slightly smaller than one constituent's
    pt when that constituent sits at the edge of the jet); width and jet charge are
    normalised to the jet pt as in their usual definitions.
    """
    c = constituents
    jet = c.jet_of
    charged = c.charge != 0
    scalar_pt = c.per_jet_sum(c.pt)
    distance = delta_r(c.rapidity, c.phi, jet_rapidity[jet], jet_phi[jet])
    return {
        "n_constituents": c.counts.astype(np.int32),
        "n_charged": c.per_jet_sum(charged.astype(np.int64)).astype(np.int32),
        "width": c.per_jet_sum(c.pt * distance) / jet_pt,
        "ptd": np.sqrt(c.per_jet_sum(c.pt**2)) / scalar_pt,
        "lead_pt_frac": c.per_jet_max(c.pt) / scalar_pt,
        "charged_pt_frac": c.per_jet_sum(np.where(charged, c.pt, 0.0)) / scalar_pt,
        "jet_charge": c.per_jet_sum(c.charge * c.pt**JET_CHARGE_KAPPA) / jet_pt**JET_CHARGE_KAPPA,
    }


def nsubjettiness(
    constituents: Constituents,
    axes_rapidity: np.ndarray,
    axes_phi: np.ndarray,
    radius: float,
) -> np.ndarray:
    """tau_N = sum_k pt_k min_a dR(k, axis_a) / (R sum_k pt_k) for every jet.

    `axes_rapidity` and `axes_phi` have shape (n_jets, N); rows of jets with at most N
    constituents are ignored and give tau_N = 0 (every constituent is its own axis).
    """
    c = constituents
    n_axes = axes_rapidity.shape[1]
    jet = c.jet_of
    distances = delta_r(
        c.rapidity[:, None], c.phi[:, None], axes_rapidity[jet], axes_phi[jet]
    )  # (n_constituents, N)
    nearest = np.min(distances, axis=1)
    tau = c.per_jet_sum(c.pt * nearest) / (radius * c.per_jet_sum(c.pt))
    return np.where(c.counts > n_axes, tau, 0.0)
