"""The one in-memory table type that every reader produces and every later stage consumes.

A `Table` is an ordered set of named, equal-length, 1-D numeric columns (one row per object,
e.g. per jet) plus an optional event index that says which event each row belongs to. Event-level
quantities (MET, event weight) are repeated on every row of their event, so that every column
has the same length and a row can be processed on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jetzip.errors import InputError
from jetzip.lazy import lazy_module

pd = lazy_module("pandas")  # for to_pandas / from_pandas only (jetzip.lazy)

#: Name used for the event index when a table is turned into a DataFrame or a flat file.
EVENT_COLUMN = "event"


@dataclass
class Table:
    """Named numeric columns of equal length, an optional event index, units and metadata.

    Attributes:
        columns: column name -> 1-D numpy array (float or integer), in the user's order.
        event: optional int64 array, the event each row belongs to (non-decreasing when the
            source is event-ordered). None when the source has no notion of events.
        units: column name -> unit string ("MeV", "GeV", "" for dimensionless) where known.
        meta: free-form details about the source (format, tree, original names, ...); must be
            JSON-serialisable so that it can travel in file headers.
    """

    columns: dict[str, np.ndarray]
    event: np.ndarray | None = None
    units: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.columns = {str(name): np.asarray(values) for name, values in self.columns.items()}
        lengths = {name: values.shape for name, values in self.columns.items()}
        for name, values in self.columns.items():
            if values.ndim != 1:
                raise InputError(f"column {name!r} is not one-dimensional (shape {values.shape})")
            if values.dtype.kind not in "fiub":
                raise InputError(f"column {name!r} is not numeric (dtype {values.dtype})")
        if len({shape[0] for shape in lengths.values()}) > 1:
            raise InputError(f"columns have different lengths: {lengths}")
        if self.event is not None:
            self.event = np.asarray(self.event, dtype=np.int64)
            if self.event.shape != (self.n_rows,):
                raise InputError(
                    f"event index has {self.event.shape[0]} entries for {self.n_rows} rows"
                )
        unknown_units = set(self.units) - set(self.columns)
        if unknown_units:
            self.units = {k: v for k, v in self.units.items() if k in self.columns}

    # ------------------------------------------------------------------ shape and access
    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return list(self.columns)

    @property
    def n_rows(self) -> int:
        """Number of rows (objects)."""
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __len__(self) -> int:
        return self.n_rows

    @property
    def n_events(self) -> int | None:
        """Number of distinct events, or None when the table has no event index."""
        if self.event is None:
            return None
        return int(self.meta.get("n_events", len(np.unique(self.event))))

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.columns[name]
        except KeyError:
            raise InputError(
                f"no column {name!r}; the table has: {', '.join(self.names)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def require(self, names: Iterable[str]) -> None:
        """Raise a clear error naming every requested column that is missing."""
        missing = [n for n in names if n not in self.columns]
        if missing:
            raise InputError(
                f"missing column(s) {', '.join(missing)}; the table has: {', '.join(self.names)}"
            )

    def select(self, names: Sequence[str]) -> Table:
        """A table with only `names`, in that order (event index and metadata kept)."""
        self.require(names)
        return Table(
            {n: self.columns[n] for n in names},
            event=self.event,
            units={n: u for n, u in self.units.items() if n in names},
            meta=dict(self.meta),
        )

    def slice(self, start: int, stop: int) -> Table:
        """Rows [start, stop) as a new table sharing memory with this one."""
        return self.take(slice(start, stop))

    def take(self, rows: slice | np.ndarray) -> Table:
        """Rows selected by a slice, an index array or a boolean mask."""
        return Table(
            {n: v[rows] for n, v in self.columns.items()},
            event=None if self.event is None else self.event[rows],
            units=dict(self.units),
            meta={k: v for k, v in self.meta.items() if k != "n_events"},
        )

    def matrix(self, names: Sequence[str] | None = None, dtype: Any = np.float64) -> np.ndarray:
        """Columns stacked into an (n_rows, n_columns) array, for models and codecs."""
        names = self.names if names is None else list(names)
        self.require(names)
        out = np.empty((self.n_rows, len(names)), dtype=dtype)
        for j, n in enumerate(names):
            out[:, j] = self.columns[n]
        return out

    @property
    def float_names(self) -> list[str]:
        """Names of the floating-point columns (the ones lossy compression applies to)."""
        return [n for n, v in self.columns.items() if v.dtype.kind == "f"]

    # ------------------------------------------------------------------ value checks
    def nonfinite_counts(self) -> dict[str, int]:
        """Per float column, how many values are NaN or +-inf (only columns with any)."""
        counts = {}
        for name in self.float_names:
            bad = int(np.count_nonzero(~np.isfinite(self.columns[name])))
            if bad:
                counts[name] = bad
        return counts

    def check_usable(self, *, drop_nonfinite: bool = False) -> Table:
        """Refuse empty tables and NaN/inf values, or drop the offending rows on request.

        Returns the table itself, or a copy without the rows holding NaN/inf when
        ``drop_nonfinite`` is set.
        """
        if not self.columns:
            raise InputError("the table has no columns")
        if self.n_rows == 0:
            raise InputError("the table is empty (0 rows)")
        counts = self.nonfinite_counts()
        if not counts:
            return self
        if not drop_nonfinite:
            detail = ", ".join(f"{n}: {c}" for n, c in counts.items())
            raise InputError(
                f"non-finite values (NaN/inf) found ({detail}); use --drop-nonfinite to drop "
                "those rows"
            )
        good = np.ones(self.n_rows, dtype=bool)
        for name in counts:
            good &= np.isfinite(self.columns[name])
        kept = self.take(good)
        if kept.n_rows == 0:
            raise InputError("no rows left after dropping non-finite values")
        return kept

    # ------------------------------------------------------------------ conversions
    def to_pandas(self, *, event_column: bool = True) -> pd.DataFrame:
        """A DataFrame with the columns (and the event index as a first column, if any)."""
        data: dict[str, np.ndarray] = {}
        if event_column and self.event is not None:
            data[EVENT_COLUMN] = self.event
        data.update(self.columns)
        return pd.DataFrame(data)

    @classmethod
    def from_pandas(
        cls,
        frame: pd.DataFrame,
        *,
        units: Mapping[str, str] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Table:
        """Build a table from a DataFrame; an `event` column becomes the event index."""
        columns = {}
        event = None
        for name in frame.columns:
            values = frame[name].to_numpy()
            if str(name) == EVENT_COLUMN and values.dtype.kind in "iu":
                event = values
                continue
            if values.dtype.kind not in "fiub":
                raise InputError(f"column {name!r} is not numeric (dtype {values.dtype})")
            columns[str(name)] = values
        return cls(columns, event=event, units=dict(units or {}), meta=dict(meta or {}))

    @classmethod
    def concat(cls, tables: Sequence[Table]) -> Table:
        """Stack tables with the same columns row-wise (e.g. the chunks of one file)."""
        if not tables:
            raise InputError("nothing to concatenate: no tables given")
        names = tables[0].names
        for t in tables[1:]:
            if t.names != names:
                raise InputError(f"cannot concatenate tables with columns {names} and {t.names}")
        has_event = tables[0].event is not None
        return cls(
            {n: np.concatenate([t.columns[n] for t in tables]) for n in names},
            event=np.concatenate([t.event for t in tables]) if has_event else None,
            units=dict(tables[0].units),
            meta={k: v for k, v in tables[0].meta.items() if k != "n_events"},
        )

    def equals(self, other: Table) -> bool:
        """True when names, dtypes, values (NaN == NaN) and event index are identical."""
        if self.names != other.names:
            return False
        for n in self.names:
            a, b = self.columns[n], other.columns[n]
            if a.dtype != b.dtype or not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
                return False
        if (self.event is None) != (other.event is None):
            return False
        return self.event is None or np.array_equal(self.event, other.event)
