"""What the chunk codec asks of an entropy model: may it code this column, and the bytes.

A bounded column is coded in the model's log space under a relative tolerance and in its
linear space under an absolute one (grid step from `quantisation_step`); an integer column
stored exactly is coded with step 1. The model conditions a column on decoded columns; the
codec offers it only where all of them are decoded before the column.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

import numpy as np

from jetzip.errors import CorruptFileError

if TYPE_CHECKING:  # the codec imports this module: it may import no codec module itself
    from jetzip.codec.tolerance import Tolerance
    from jetzip.entropy.distributions import RowTables
    from jetzip.entropy.events import EventRows
    from jetzip.entropy.model import ColumnModel, EntropyModel, EventTables

#: The predictor name (bounded columns) and encoding name (integer columns) of this coder.
CONDITIONAL = "conditional"


def is_entropy_model(model: object) -> bool:
    """Whether `model` is an entropy model (not an autoencoder)."""
    return getattr(model, "kind", None) == "entropy"


def plan_space(kind: str, dtype: str, tolerance: Tolerance | None) -> str | None:
    """The model space a planned column is coded in, or None when this coder cannot code it."""
    if kind == "bounded" and tolerance is not None:
        return "log" if tolerance.relative else "linear"
    if kind == "lossless" and np.dtype(dtype).kind in "iu":
        return "integer"
    return None


def usable_context(
    model: EntropyModel, name: str, space: str | None, decoded_before: Collection[str]
) -> list[str] | None:
    """The columns `model` conditions `name` on, when it models the column in `space` and
    every one of them is decoded before it; None otherwise."""
    column = model.models.get(name)
    if column is None or space is None or column.space != space:
        return None
    if any(c not in decoded_before for c in column.context):
        return None
    return column.context


def _step(space: str, tolerance: Tolerance | None) -> float:
    from jetzip.codec.quantize import quantisation_step

    if space == "integer":
        return 1.0
    assert tolerance is not None
    return quantisation_step(tolerance)


def column_rows(
    model: EntropyModel,
    name: str,
    context: Mapping[str, np.ndarray],
    n: int,
    tolerance: Tolerance | None,
) -> RowTables:
    """The coding table of each of the column's `n` rows, from its decoded `context` columns
    (the network's pass: the expensive part, so compression computes it once per column and
    its verification decode reuses it)."""
    column = model.models[name]
    return column.row_tables(dict(context), n, _step(column.space, tolerance))


def encode_column(
    model: EntropyModel,
    name: str,
    codes: np.ndarray,
    context: Mapping[str, np.ndarray],
    tolerance: Tolerance | None,
    rows: RowTables | None = None,
) -> bytes:
    """The codes (grid indices, or the integers of an exact integer column) as bytes; `rows`:
    the tables `column_rows` gave for this context, when already computed."""
    if rows is None:
        rows = column_rows(model, name, context, codes.size, tolerance)
    return model.models[name].encode(codes, rows)


def has_event_form(model: EntropyModel, name: str) -> bool:
    """Whether the model can code column `name` per event (`jetzip.entropy.events`)."""
    column = model.models.get(name)
    return column is not None and column.events is not None


def column_event_tables(
    model: EntropyModel,
    name: str,
    codes: np.ndarray,
    context: Mapping[str, np.ndarray],
    tolerance: Tolerance,
    events: EventRows,
) -> EventTables:
    """`column_rows` for a column coded per event: its leaders' and followers' tables."""
    column = model.models[name]
    return column.event_tables(codes, context, events, _step(column.space, tolerance))


def encode_column_events(
    model: EntropyModel,
    name: str,
    codes: np.ndarray,
    context: Mapping[str, np.ndarray],
    tolerance: Tolerance,
    events: EventRows,
    tables: EventTables | None = None,
) -> bytes | None:
    """The codes of a bounded column coded per event (leaders, then followers given them: see
    `jetzip.entropy.events`), or None where the model has no such form for it or cannot code
    these rows so; `tables` as `column_event_tables` gave them, when already computed."""
    column = model.models[name]
    return column.encode_events(codes, context, events, _step(column.space, tolerance), tables)


def decode_column_events(
    model: EntropyModel | None,
    name: str,
    data: bytes,
    context: Mapping[str, np.ndarray],
    tolerance: Tolerance,
    events: EventRows | None,
    tables: EventTables | None = None,
) -> np.ndarray:
    """Inverse of `encode_column_events`; one-line CorruptFileError when the file cannot hold
    such a column (no model, no event index, a model without the form)."""
    column = _decodable(model, name, context)
    if events is None:
        raise CorruptFileError(f"column {name!r} is coded per event in a chunk without events")
    return column.decode_events(data, context, events, _step(column.space, tolerance), tables)


def _decodable(
    model: EntropyModel | None, name: str, context: Mapping[str, np.ndarray]
) -> ColumnModel:
    """The model's column `name`, which must read only the decoded `context` columns."""
    if model is None:
        raise CorruptFileError(f"column {name!r} is coded with an entropy model the file lacks")
    column = model.models.get(name)
    missing = [c for c in (column.context if column else ()) if c not in context]
    if column is None or missing:
        raise CorruptFileError(f"column {name!r} names an entropy model that cannot decode it")
    return column


def decode_column(
    model: EntropyModel | None,
    name: str,
    data: bytes,
    context: Mapping[str, np.ndarray],
    n: int,
    tolerance: Tolerance | None,
    dtype: str | None = None,
    rows: RowTables | None = None,
) -> np.ndarray:
    """Inverse of `encode_column`; with `dtype` (integer columns) the values in that dtype,
    checked to fit it; `rows` as for `encode_column`."""
    column = _decodable(model, name, context)
    if rows is None:
        rows = column_rows(model, name, context, n, tolerance)
    codes = column.decode(data, rows)
    if dtype is None:
        return codes
    info = np.iinfo(np.dtype(dtype))
    if codes.size and (codes.min() < info.min or codes.max() > info.max):
        raise CorruptFileError(f"column {name!r} decodes to values beyond {dtype}")
    return codes.astype(dtype)
