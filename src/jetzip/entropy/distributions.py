"""The distribution family: a location-scale family with a learned shape, discretised on the
codec's grid, and the finite set of coding tables it is coded with.

A column's network gives, per row, a centre mu (in the transformed space y: log|x| or x) and a
scale sigma (as log2 sigma). With the codec's grid step s, a code q stands for the cell
[(q - 1/2) s, (q + 1/2) s), so its probability is a difference of the shape's CDF F:

    P(q) = F(((q + 1/2) s - mu) / sigma) - F(((q - 1/2) s - mu) / sigma)

F is stored as integers (`SHAPE_POINTS` values on a grid of standardised residuals) and
interpolated linearly. Coding per-row tables of hundreds of symbols would cost more than the
coding, so rows share tables: in code units the centre is c = mu / s and the ratio rho = sigma
/ s; a row codes r = q - round(c), and its table is picked by rho in quarter octaves and, when
rho < 8, by the fraction c - round(c) in eighths. When rho >= 8, r is split into a high part h
= r >> j, coded with a table for the cell groups of width 2**j (rho / 2**j in [4, 8)), and j
low bits, nearly uniform within so narrow a group and coded as uniform. Rows whose h lies
beyond +-HALF_WIDTH take an escape symbol and store r exactly elsewhere.

Everything here uses integers and IEEE-754 basic operations (+ - * /, floor, comparisons)
element by element, which are correctly rounded and so give the same bits on every CPU, SIMD
width and thread count; no exp/log and no reductions (whose order could vary) are used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Standardised residuals at which the shape's CDF is stored: SHAPE_LO + k / SHAPE_RES.
SHAPE_LO = -16.0
SHAPE_RES = 8
SHAPE_POINTS = 2 * 16 * SHAPE_RES + 1
#: The stored CDF runs from 0 to SHAPE_ONE.
SHAPE_ONE = 2**30
#: Symbols per table: h in [-HALF_WIDTH, HALF_WIDTH), then the escape symbol.
HALF_WIDTH = 64
ESCAPE = 2 * HALF_WIDTH
#: Fixed-point scale of log2 sigma and log2 rho (1/256 octave).
LOG2_ONE = 256
#: Small tables: rho from 2**-4 to 2**3 in quarter octaves, the centre's fraction in eighths.
SMALL_OCTAVES = (-4, 3)
FRACTIONS = 8
N_SMALL = (SMALL_OCTAVES[1] - SMALL_OCTAVES[0]) * 4 * FRACTIONS
#: Large tables: low-bit count j in 1..MAX_LOW_BITS (rho = 2**(j + 2) .. 2**(j + 3)), quarters.
MAX_LOW_BITS = 22
N_TABLES = N_SMALL + MAX_LOW_BITS * 4
#: 2**((i + 1/2) / 4): the representative ratio of each quarter octave (literal constants, so
#: no machine's pow() is involved).
QUARTERS = (1.0905077326652577, 1.2968395546510096, 1.5422108254079407, 1.8340080864093424)


def log2_fixed(value: float) -> int:
    """floor(LOG2_ONE * log2 value) for a positive float, by exact exponent extraction and
    repeated squaring (correctly rounded products), so the same integer on every machine."""
    mantissa, exponent = np.frexp(float(value))  # value = mantissa * 2**exponent, exactly
    m = float(mantissa) * 2.0  # in [1, 2)
    result = int(exponent) - 1
    fraction = 0
    for _ in range(8):  # LOG2_ONE = 2**8
        m = m * m
        fraction <<= 1
        if m >= 2.0:
            m /= 2.0
            fraction |= 1
    return result * LOG2_ONE + fraction


@dataclass(frozen=True)
class Shape:
    """A standardised distribution's CDF at SHAPE_POINTS points, in integer units of
    1/SHAPE_ONE, non-decreasing from 0 to SHAPE_ONE."""

    cdf: np.ndarray  # int64

    def __post_init__(self) -> None:
        cdf = self.cdf
        if (
            cdf.shape != (SHAPE_POINTS,)
            or cdf[0] != 0
            or cdf[-1] != SHAPE_ONE
            or np.any(np.diff(cdf) < 0)
        ):
            raise ValueError("a shape CDF must rise from 0 to SHAPE_ONE at SHAPE_POINTS points")

    @classmethod
    def from_samples(cls, residuals: np.ndarray, floor: float = 0.01) -> Shape:
        """The empirical CDF of standardised residuals, mixed with a logistic of weight
        `floor` so that no cell of the grid gets zero probability (done once, in training)."""
        t = SHAPE_LO + np.arange(SHAPE_POINTS) / SHAPE_RES
        finite = np.sort(residuals[np.isfinite(residuals)])
        empirical = np.searchsorted(finite, t, side="right") / max(finite.size, 1)
        logistic = 1.0 / (1.0 + np.exp(-t * 1.8))
        cdf = (1.0 - floor) * empirical + floor * logistic
        cdf = np.maximum.accumulate(np.rint(cdf * SHAPE_ONE).astype(np.int64))
        cdf[0], cdf[-1] = 0, SHAPE_ONE
        return cls(np.clip(cdf, 0, SHAPE_ONE))

    def at(self, t: np.ndarray) -> np.ndarray:
        """F(t) as a float in units of SHAPE_ONE, linearly interpolated (basic operations)."""
        position = (t - SHAPE_LO) * float(SHAPE_RES)
        np.clip(position, 0.0, float(SHAPE_POINTS - 1), out=position)
        index = np.minimum(np.floor(position), SHAPE_POINTS - 2)
        frac = position - index
        k = index.astype(np.int64)
        low = self.cdf[k].astype(np.float64)
        high = self.cdf[k + 1].astype(np.float64)
        return low + frac * (high - low)

    def tables(self) -> np.ndarray:
        """The probabilities (N_TABLES, ESCAPE + 1) of every coding table, as floats of
        integers (exact, so the coder quantises the same numbers everywhere). One array
        expression over all tables: the same element-wise operations as table by table."""
        h = np.arange(-HALF_WIDTH, HALF_WIDTH + 1, dtype=np.float64)  # cell edges
        rho, shift = [], []
        for octave in range(*SMALL_OCTAVES):
            for quarter in QUARTERS:
                for f in range(FRACTIONS):
                    rho.append(quarter * 2.0**octave)
                    shift.append(0.5 + ((f + 0.5) / FRACTIONS - 0.5))
        for j in range(1, MAX_LOW_BITS + 1):
            for quarter in QUARTERS:  # rho / 2**j in [4, 8): quarter * 4
                rho.append(quarter * 4.0)
                shift.append(0.5 / 2.0**j)
        edges = (h - np.array(shift)[:, None]) / np.array(rho)[:, None]
        cdf = self.at(edges)
        table = np.empty((N_TABLES, ESCAPE + 1), dtype=np.float64)
        table[:, :ESCAPE] = cdf[:, 1:] - cdf[:, :-1]
        table[:, ESCAPE] = cdf[:, 0] + (float(SHAPE_ONE) - cdf[:, -1])
        return np.floor(table) + 1.0  # integers, none zero


@dataclass(frozen=True)
class RowTables:
    """Per row: the centre round(c) in code units, the coding table and the low-bit count, as
    the module's text says (chosen by `jetzip.entropy._condkernel`); and the rows grouped by
    table, which coding and its verification decode share."""

    centre: np.ndarray  # int64
    table: np.ndarray  # int64 in [0, N_TABLES)
    low_bits: np.ndarray  # int64, 0 below rho = 8
    order: np.ndarray  # rows stably sorted by table
    present: np.ndarray  # the tables present, ascending
    starts: np.ndarray  # where each present table's rows start in `order`, then the row count
