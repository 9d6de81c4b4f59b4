"""The events of a chunk's rows, as an entropy model conditions on them.

A chunk's event index (one id per row) splits its rows into runs of equal ids: the events. The
first row of each run is its event's *leader* (a jet table sorted by pt: the leading jet), the
others its *followers*. A column coded per event codes the leaders first, then each follower
given its rank in the event, the event's multiplicity and its leader's value, so a value that an
event repeats on every row (a DarkMachines table's MET on each jet) costs nothing after its
first row, and a falling spectrum (the second jet below the first) is coded from what came
before. Everything here is integer bookkeeping of the event index: encoder and decoder, which
both have it, find the same rows. A run cut by a chunk boundary is an event of its own here.
"""

from __future__ import annotations

import functools
import math

import numpy as np

#: Ranks and multiplicities are inputs capped here (beyond them rows are alike enough).
RANK_LIMIT = 3
MULTIPLICITY_LIMIT = 8
#: Rows `EventRows.repeats_at_start` looks at.
HEAD_ROWS = 64


class EventRows:
    """Leaders and followers of a chunk's rows, with what the model reads of each. Built
    lazily: a chunk whose columns do not repeat per event needs only `repeats_at_start`."""

    def __init__(self, event: np.ndarray) -> None:
        self.event = np.asarray(event).reshape(-1)
        self.n_rows = self.event.size
        self._taken: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}

    @functools.cached_property
    def leaders(self) -> np.ndarray:
        """The first row of each event (rows, ascending)."""
        event = self.event
        if not self.n_rows:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(np.r_[True, event[1:] != event[:-1]]).astype(np.int64)

    @functools.cached_property
    def _sizes(self) -> np.ndarray:
        return np.diff(np.r_[self.leaders, self.n_rows])

    @functools.cached_property
    def _group(self) -> np.ndarray:
        """Per row, the index of its event (into `leaders`; `transverse_sum` sums by it)."""
        return np.repeat(np.arange(self.leaders.size), self._sizes)

    @functools.cached_property
    def _rank(self) -> np.ndarray:
        return np.arange(self.n_rows) - self.leaders[self._group]

    @functools.cached_property
    def followers(self) -> np.ndarray:
        """The other rows, ascending."""
        return np.flatnonzero(self._rank > 0)

    @functools.cached_property
    def follower_leader(self) -> np.ndarray:
        """Per follower, the index (into `leaders`) of its leader."""
        return self._group[self.followers]

    @functools.cached_property
    def leader_multiplicity(self) -> np.ndarray:
        """Per leader, its event's rows (capped)."""
        return np.minimum(self._sizes, MULTIPLICITY_LIMIT).astype(np.int64)

    @functools.cached_property
    def follower_rank(self) -> np.ndarray:
        """Per follower, its place in the event (1, 2, ..., capped)."""
        return np.minimum(self._rank[self.followers], RANK_LIMIT).astype(np.int64)

    @functools.cached_property
    def follower_multiplicity(self) -> np.ndarray:
        return self.leader_multiplicity[self.follower_leader]

    def at_leaders(self, values: np.ndarray) -> np.ndarray:
        """`values` at the leading rows. Kept for the chunk: the columns a chunk's model columns
        read are each read by many of them (gathering them again took a quarter of decoding)."""
        return self._take(values, "leaders")

    def at_followers(self, values: np.ndarray) -> np.ndarray:
        """`values` at the other rows, kept as `at_leaders` keeps them."""
        return self._take(values, "followers")

    def _take(self, values: np.ndarray, rows: str) -> np.ndarray:
        key = (id(values), rows)
        kept = self._taken.get(key)
        if kept is None or kept[0] is not values:  # (the array is held: its id stays its own)
            kept = (values, values[getattr(self, rows)])
            self._taken[key] = kept
        return kept[1]

    @property
    def share_of_followers(self) -> float:
        return self.followers.size / self.n_rows if self.n_rows else 0.0

    def repeats_at_start(self, values: np.ndarray) -> bool:
        """Whether the followers among the first HEAD_ROWS rows hold their leader's value: a
        cheap test that rejects almost every column that does not repeat per event."""
        followers, leaders = self._head
        return bool(np.array_equal(values[followers], values[leaders]))

    @functools.cached_property
    def _head(self) -> tuple[np.ndarray, np.ndarray]:
        """The followers among the first HEAD_ROWS rows and their leaders' rows (found once:
        a chunk asks for every candidate coding of every column)."""
        head = EventRows(self.event[:HEAD_ROWS])
        return head.followers, head.leaders[head.follower_leader]


def transverse_sum(
    pt: np.ndarray, phi: np.ndarray, events: EventRows
) -> tuple[np.ndarray, np.ndarray]:
    """Per event, the magnitude of the vector sum of its rows' transverse momenta (pt, phi)
    and the direction opposite to it: what the event's missing momentum balances, and where
    it points. Only exact IEEE operations in a fixed order (`_cos_sin`, a sequential sum per
    event, a square root, `_atan2`), so the same bits on every CPU and numpy build, which the
    decoder needs: they are inputs of the network."""
    pt = np.asarray(pt, dtype=np.float64)
    cos, sin = _cos_sin(np.asarray(phi, dtype=np.float64))
    group, size = events._group, events.leaders.size
    # bincount adds in row order, one row at a time (numpy's sum may reorder with SIMD width)
    x = np.bincount(group, weights=pt * cos, minlength=size)
    y = np.bincount(group, weights=pt * sin, minlength=size)
    return np.sqrt(x * x + y * y), _atan2(-y, -x)


#: Taylor coefficients of cos and sin on [-pi, pi] (terms to x**26: error below 1e-14).
#: (Python's int division rounds correctly: the same coefficients everywhere.)
_COS = [(-1) ** k / math.factorial(2 * k) for k in range(14)]
_SIN = [(-1) ** k / math.factorial(2 * k + 1) for k in range(14)]


def _cos_sin(phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin by range reduction to [-pi, pi] and Horner's rule: numpy's own are
    vectorised differently per CPU and differ in their last bits. Non-finite angles give 0."""
    phi = np.where(np.isfinite(phi), phi, 0.0)
    turn = 2.0 * np.pi
    x = phi - turn * np.round(phi / turn)
    x2 = x * x
    cos, sin = np.full_like(x, _COS[-1]), np.full_like(x, _SIN[-1])
    for c, s in zip(_COS[-2::-1], _SIN[-2::-1], strict=True):
        cos = cos * x2 + c
        sin = sin * x2 + s
    return cos, sin * x


#: Taylor coefficients of atan on [-tan(pi/16), tan(pi/16)] (terms to x**31: error below 1e-22).
_ATAN = [(-1) ** k / (2 * k + 1) for k in range(16)]


def _atan2(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """atan2 by exact operations: the ratio of the smaller to the larger magnitude, halved in
    angle twice (atan t = 2 atan(t / (1 + sqrt(1 + t**2)))), a Taylor series, then the
    octant. Within 1e-15 of numpy's; non-finite or zero vectors give 0."""
    ax, ay = np.abs(x), np.abs(y)
    big, small = np.maximum(ax, ay), np.minimum(ax, ay)
    usable = np.isfinite(big) & (big > 0)
    t = np.where(usable, small / np.where(usable, big, 1.0), 0.0)
    for _ in range(2):
        t = t / (1.0 + np.sqrt(1.0 + t * t))
    t2 = t * t
    series = np.full_like(t, _ATAN[-1])
    for c in _ATAN[-2::-1]:
        series = series * t2 + c
    angle = 4.0 * (series * t)
    angle = np.where(ay > ax, np.pi / 2 - angle, angle)
    angle = np.where(x < 0, np.pi - angle, angle)
    angle = np.where(y < 0, -angle, angle)
    return np.where(usable, angle, 0.0)
