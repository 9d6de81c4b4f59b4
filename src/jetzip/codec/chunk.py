"""Encoding one chunk of rows into named byte parts, and back.

Each column gets one of four encodings: `lossless` (exact values), `quantised` (error-bounded
codes, see `quantize`, with or without the model's prediction), `latent` (what the decoder
gives back from the stored latent) and, for the event index, exact deltas. With a model, the
latent of the chunk is stored once (as float32, float16 or bfloat16) and its decoded output is
offered as a prediction to every bounded column; the chunk keeps the model only where it makes
the chunk smaller, latent bytes included, and records the choice per column. With an entropy
model (`jetzip.entropy`) instead, a column's codes may be coded with the probabilities the model
predicts from columns decoded before it (predictor or encoding `conditional`), where smaller.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import zstandard

from jetzip.codec.entropy import (
    decode_ints,
    decode_lossless,
    empirical_entropy_bits,
    encode_codes,
    encode_ints,
    encode_lossless,
    selection_rows,
    zstd_exact,
)
from jetzip.codec.quantize import (
    BLOCK_ROWS,
    GRID,
    QuantisedColumn,
    dequantise,
    grid_maths,
    quantise,
)
from jetzip.codec.tolerance import Tolerance
from jetzip.entropy.columns import (
    CONDITIONAL,
    column_event_tables,
    column_rows,
    decode_column,
    decode_column_events,
    encode_column,
    encode_column_events,
    has_event_form,
    is_entropy_model,
    plan_space,
    usable_context,
)
from jetzip.entropy.distributions import RowTables
from jetzip.entropy.events import EventRows
from jetzip.errors import CorruptFileError
from jetzip.validate import (
    LATENT_DTYPES,
    require_bool,
    require_dict,
    require_int,
    require_list,
    require_rows,
    require_str,
    terminal_safe,
)

if TYPE_CHECKING:  # (the model itself is imported only where a file uses one)
    from jetzip.entropy.model import EventTables

#: Part-name owner of the event index and of the model latent (not valid column names).
EVENT_OWNER = "(event)"
LATENT_OWNER = "(latent)"
#: Ratio predictors: rows sampled to rank columns, how many to try, least useful correlation.
RATIO_SAMPLE = 20_000
RATIO_CANDIDATES = 2
RATIO_MIN_CORRELATION = 0.3
#: Decoded columns screened per array operation: temporaries of at most 64 x RATIO_SAMPLE
#: float64 (10 MB), however wide the table.
_SCREEN_SOURCES = 64
#: Rows per model call: small enough that the layer activations stay in cache (AE_3D_200 runs
#: ~1.7x faster than in one call per chunk, with ~50x less memory), and fixed, so compression
#: and decompression hand the network exactly the same batches.
MODEL_BATCH_ROWS = 4096
#: zstd level of the packed sign bits: higher levels cost ~50 ms per million rows for ~0.001
#: bytes per row.
_SIGN_ZSTD_LEVEL = 3
#: Column description entries that only inform (kept out of the file's chunk descriptions).
STATISTICS = frozenset({"entropy_bits", "coded_bits", "max_abs_error", "max_rel_error"})


class Model(Protocol):
    """What the codec needs of a trained model (jetzip.models.TrainedModel provides it)."""

    columns: list[str]
    latent_dim: int

    def encode(self, x: np.ndarray) -> np.ndarray: ...

    def decode(self, z: np.ndarray) -> np.ndarray: ...


def _runs_batches_concurrently(model: Model) -> bool:
    """Whether the model's batches may run on the codec's threads at once (ONNX Runtime
    sessions may; PyTorch's thread setting is process-wide, so TrainedModel runs one at a time)."""
    return bool(getattr(model, "thread_safe", False))


@dataclass(frozen=True)
class ColumnPlan:
    """How a column is stored: `lossless`, `bounded` (with `tolerance`) or `latent`."""

    name: str
    dtype: str
    kind: str
    tolerance: Tolerance | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "kind": self.kind,
            "tolerance": None if self.tolerance is None else self.tolerance.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnPlan:
        tol = data.get("tolerance")
        return cls(
            data["name"],
            data["dtype"],
            data["kind"],
            None if tol is None else Tolerance.from_json(tol),
        )


# ---------------------------------------------------------------------- latent storage
def store_latent(z: np.ndarray, dtype: str) -> np.ndarray:
    """float32 latent -> storage array (float32, float16, or bfloat16 bits as uint16)."""
    z = np.ascontiguousarray(z, dtype=np.float32)
    if dtype == "float32":
        return z
    if dtype == "float16":
        return z.astype(np.float16)
    bits = z.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest, ties to even
    return rounded.astype(np.uint16)


def load_latent(stored: np.ndarray, dtype: str) -> np.ndarray:
    """Inverse of `store_latent`: the float32 latent the decoder is given."""
    if dtype == "bfloat16":
        return (stored.astype(np.uint32) << 16).view(np.float32)
    return stored.astype(np.float32)


def _latent_storage_dtype(dtype: str) -> str:
    return "uint16" if dtype == "bfloat16" else dtype


# ---------------------------------------------------------------------- error statistics
def error_stats(original: np.ndarray, restored: np.ndarray, tol: Tolerance | None) -> dict:
    """Largest absolute and relative error of a chunk column (finite values only) and, with a
    tolerance, how many values miss it. Computed in cache-sized blocks (see quantize)."""
    blocks = [
        _block_error_stats(
            original[start : start + BLOCK_ROWS], restored[start : start + BLOCK_ROWS], tol
        )
        for start in range(0, len(original), BLOCK_ROWS)
    ]
    stats = {
        "max_abs_error": max((b[0] for b in blocks), default=0.0),
        "max_rel_error": max((b[1] for b in blocks), default=0.0),
    }
    if tol is not None:
        stats["violations"] = sum(b[2] for b in blocks)
    return stats


def _block_error_stats(
    original: np.ndarray, restored: np.ndarray, tol: Tolerance | None
) -> tuple[float, float, int]:
    x = np.asarray(original, dtype=np.float64)
    y = np.asarray(restored, dtype=np.float64)
    finite = np.isfinite(x)
    violations = 0
    if not finite.all():
        if tol is not None:
            violations = int(np.count_nonzero(tol.violations(x[~finite], y[~finite])))
        x, y = x[finite], y[finite]
    if not x.size:
        return 0.0, 0.0, violations
    err = np.abs(y - x)
    magnitude = np.abs(x)
    rel = np.divide(err, magnitude, out=np.zeros_like(err), where=magnitude != 0)
    if tol is not None:
        allowed = tol.value * magnitude if tol.relative else tol.value
        violations += int(np.count_nonzero(~(err <= allowed)))
    return float(err.max()), float(rel.max()), violations


# ---------------------------------------------------------------------- quantised columns
def encode_quantised(
    name: str, column: QuantisedColumn
) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """A quantised column's description and coded streams (codes, signs, exceptions): the
    column part of a chunk, also the payload of the numcodecs codec."""
    desc, parts, _ = _encode_quantised_measured(name, column)
    return desc, parts


def _encode_quantised_measured(
    name: str, column: QuantisedColumn, events: EventRows | None = None
) -> tuple[dict[str, Any], list[tuple[str, bytes]], float]:
    """`encode_quantised` and the codes' order-0 entropy (bits), counted once, by the coder.
    With the chunk's `events`, codes that every event repeats on all its rows (a DarkMachines
    table's MET on each jet) are stored for its leading row alone where that is smaller."""
    desc, side = _encode_signs_and_exceptions(name, column)
    codes, entropy_bits = encode_codes(column.codes)
    leading = _leading_codes(column.codes, events)
    if leading is not None:
        once, bits = encode_codes(leading)
        if len(once) < len(codes):
            codes, entropy_bits, desc["events"] = once, bits, True
    return desc, [(f"{name}:codes", codes), *side], entropy_bits


def _leading_codes(codes: np.ndarray, events: EventRows | None) -> np.ndarray | None:
    """The codes of the events' leading rows, when every other row repeats its leader's."""
    if events is None or not events.repeats_at_start(codes) or not events.followers.size:
        return None
    leading = codes[events.leaders]
    if not np.array_equal(codes[events.followers], leading[events.follower_leader]):
        return None
    return leading


def _encode_signs_and_exceptions(
    name: str, column: QuantisedColumn
) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """Everything of a quantised column but its codes: the description, the packed sign bits
    (when some values are negative) and the exceptions' rows and exact values."""
    desc: dict[str, Any] = {
        "encoding": "quantised",
        "n_exceptions": int(column.exception_rows.size),
        "negative": column.negative is not None,
        "grid": GRID,
    }
    parts = []
    if column.negative is not None:
        packed = np.packbits(column.negative).tobytes()
        signs = zstandard.ZstdCompressor(level=_SIGN_ZSTD_LEVEL).compress(packed)
        parts.append((f"{name}:negative", signs))
    if column.exception_rows.size:
        parts.append(
            (f"{name}:exception_rows", encode_ints(np.diff(column.exception_rows, prepend=0)))
        )
        method, data = encode_lossless(column.exception_values)
        desc["exception_method"] = method
        parts.append((f"{name}:exception_values", data))
    return desc, parts


def _estimated_bytes(name: str, column: QuantisedColumn, events: EventRows | None = None) -> float:
    """What a quantised column would cost: its codes at their order-0 entropy (pcodec lands
    within 1-2 % of it, and coding the codes of every candidate would cost more than the rest
    of the choice), or those of its events' leading rows where the others repeat them, its
    signs and exceptions as coded."""
    _, side = _encode_signs_and_exceptions(name, column)
    leading = _leading_codes(column.codes, events)
    codes = column.codes if leading is None else leading
    return empirical_entropy_bits(codes) / 8 + _size(side)


def decode_quantised(
    plan: ColumnPlan,
    desc: dict[str, Any],
    parts: dict[str, bytes],
    n: int,
    prediction: np.ndarray | None,
    codes: np.ndarray | None = None,
    events: EventRows | None = None,
) -> np.ndarray:
    """A quantised column; `codes` when already decoded (by an entropy model); `events`: the
    chunk's, for codes stored once per event."""
    column = _quantised_streams(plan, desc, parts, n, codes, events)
    assert plan.tolerance is not None
    grid = desc.get("grid")  # absent in files written before it was recorded
    if grid is not None:
        grid = require_str(grid, f"the quantisation grid of column {plan.name!r}")
    return dequantise(column, plan.tolerance, np.dtype(plan.dtype), prediction, grid)


def _quantised_streams(
    plan: ColumnPlan,
    desc: dict[str, Any],
    parts: dict[str, bytes],
    n: int,
    codes: np.ndarray | None = None,
    events: EventRows | None = None,
) -> QuantisedColumn:
    """A quantised column's integer streams as stored: codes (those of the events' leading
    rows only, for the others to repeat, where the description says so), signs, exceptions."""
    name = plan.name
    if codes is None and require_bool(desc.get("events", False), f"the per-event flag of {name!r}"):
        if events is None:
            raise CorruptFileError(f"column {name!r} is stored per event in a chunk without events")
        leading = decode_ints(_part(parts, f"{name}:codes"), events.leaders.size)
        codes = np.empty(n, dtype=leading.dtype)
        codes[events.leaders] = leading
        codes[events.followers] = leading[events.follower_leader]
    elif codes is None:
        codes = decode_ints(_part(parts, f"{name}:codes"), n)
    negative = None
    if require_bool(desc.get("negative", False), f"the sign flag of column {name!r}"):
        size = (n + 7) // 8
        packed = zstd_exact(_part(parts, f"{name}:negative"), size, f"the signs of {name!r}")
        negative = np.unpackbits(np.frombuffer(packed, dtype=np.uint8), count=n).astype(bool)
    rows, values = _exceptions(plan, desc, parts, n)
    return QuantisedColumn(codes, negative, rows, values)


def _check_streams(
    plan: ColumnPlan,
    desc: dict[str, Any],
    parts: list[tuple[str, bytes]],
    column: QuantisedColumn,
    coder: Any = None,
    context: dict[str, np.ndarray] | None = None,
    tables: RowTables | EventTables | None = None,
    events: EventRows | None = None,
) -> None:
    """Decode a column's coded streams as decompression will and require exactly the codes,
    signs and exceptions quantisation checked (docs/codec.md, "Verification"): with the same
    prediction, decoding's grid function then gives back the checked values bit for bit.
    An entropy-coded column is range-decoded with the row `tables` it was coded with (or per
    event, as it was coded): the decoder computes the same ones from the same (checked)
    context, bit for bit."""
    n = column.codes.size
    stored = dict(parts)
    codes = None
    if desc["predictor"] == CONDITIONAL:
        assert context is not None and plan.tolerance is not None
        data = stored[f"{plan.name}:codes"]
        if desc.get("events"):
            assert not isinstance(tables, RowTables)
            codes = decode_column_events(coder, plan.name, data, context, plan.tolerance, events,
                                         tables)  # fmt: skip
        else:
            assert not isinstance(tables, tuple)
            codes = decode_column(coder, plan.name, data, context, n, plan.tolerance, rows=tables)
    decoded = _quantised_streams(plan, desc, stored, n, codes, events)
    same_signs = (decoded.negative is None) == (column.negative is None) and (
        column.negative is None or np.array_equal(decoded.negative, column.negative)
    )
    if not (
        same_signs
        and np.array_equal(decoded.codes, column.codes)
        and np.array_equal(decoded.exception_rows, column.exception_rows)
        and same_bits(decoded.exception_values, column.exception_values)
    ):
        raise AssertionError(
            f"column {plan.name!r} does not decode to the codes checked against its tolerance"
        )


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Identical arrays, bit for bit (NaN payloads and the sign of zero included)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return bool(np.array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}")))


def _exceptions(
    plan: ColumnPlan, desc: dict[str, Any], parts: dict[str, bytes], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """A column's exception rows (increasing, each below `n`) and their exact values."""
    name = plan.name
    n_exc = require_int(desc.get("n_exceptions", 0), f"the exceptions of {name!r}", 0, n)
    if not n_exc:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=plan.dtype)
    deltas = decode_ints(_part(parts, f"{name}:exception_rows"), n_exc)
    # checked before summing, so that the sum cannot wrap around into range
    if deltas[0] < 0 or (deltas[1:] < 1).any() or (deltas > n).any():
        raise CorruptFileError(f"exception rows of column {name!r} are out of order")
    rows = np.cumsum(deltas, dtype=np.int64)
    if rows[-1] >= n:
        raise CorruptFileError(f"exception rows of column {name!r} are out of range")
    method = require_str(desc.get("exception_method"), f"the exception method of {name!r}")
    values = decode_lossless(method, _part(parts, f"{name}:exception_values"), plan.dtype, n_exc)
    return rows, values


def _part(parts: dict[str, bytes], name: str) -> bytes:
    try:
        return parts[name]
    except KeyError:
        raise CorruptFileError(f"chunk lacks its {name!r} part") from None


# ---------------------------------------------------------------------- predictors
#: Kinematic predictors of an energy column from columns decoded before it (in physical units),
#: given the module whose cosh and hypot the column's grid uses (see `grid_maths`).
_KINEMATIC = {
    "E(pt,eta,m)": (("pt", "eta", "m"), lambda f, pt, eta, m: f.hypot(pt * f.cosh(eta), m)),
    "E(pt,eta)": (("pt", "eta"), lambda f, pt, eta: pt * f.cosh(eta)),
}


def coding_order(plans: list[ColumnPlan], coder: Any = None) -> list[ColumnPlan]:
    """Order in which columns are decoded: columns without a bound first (they read no other
    column but an entropy model's context), then bounded ones, absolute bounds (angles) first,
    then relative ones with E last, so that later columns can be predicted from earlier ones.
    In a chunk coded with an entropy model (`coder`), each group follows the model's order, and
    the columns the model holds one value per event of (MET on each jet) come after both
    groups, before E, in the model's order: they are coded from the event's rows."""
    bounded = [p for p in plans if p.kind == "bounded" and p.tolerance is not None]
    absolute = [p for p in bounded if not p.tolerance.relative]
    relative = [p for p in bounded if p.tolerance.relative]
    if coder is not None:
        position = {name: i for i, name in enumerate(coder.columns)}
        absolute.sort(key=lambda p: position.get(p.name, len(position)))
        relative.sort(key=lambda p: position.get(p.name, len(position)))
        late = {name for name, column in coder.models.items() if column.per_event_value}
        if late:  # after both groups, in the model's order (the sort is stable: the others
            # keep their places)
            relative = sorted(
                absolute + relative,
                key=lambda p: (p.name in late, position[p.name] if p.name in late else 0),
            )
            absolute = []
    relative.sort(key=lambda p: p.name == "E")
    # (not `p not in bounded`: comparing plans would make wide tables quadratic)
    return [p for p in plans if p.kind != "bounded" or p.tolerance is None] + absolute + relative


def candidate_predictors(
    plan: ColumnPlan,
    values: np.ndarray,
    restored: dict[str, np.ndarray],
    model_columns: set[str],
    magnitudes: LogMagnitudes | None = None,
) -> list[str]:
    """Predictors worth trying for a bounded column, given the columns decoded so far.

    Ratio predictors (log|x| - log|other|) are offered only for the few decoded columns whose
    log-magnitude correlates best with this column's, so wide tables stay cheap to encode;
    `magnitudes` keeps the decoded columns' log-magnitudes between calls (one per column)."""
    names = ["none"]
    if plan.name in model_columns:
        names.append("model")
    if plan.tolerance is not None and plan.tolerance.relative:
        magnitudes = magnitudes if magnitudes is not None else LogMagnitudes()
        magnitudes.update(restored)
        names += [f"ratio:{other}" for other in _correlated(values, magnitudes)]
        if plan.name == "E":
            names += [k for k, (needs, _) in _KINEMATIC.items() if set(needs) <= set(restored)]
    return names


def _log_magnitude(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.abs(np.asarray(values[:RATIO_SAMPLE], dtype=np.float64)))


class LogMagnitudes:
    """The sampled log-magnitudes of the decoded columns, each computed once and kept in blocks
    of _SCREEN_SOURCES rows, so that a column's ratio candidates are scored against all of them
    a block per array operation (per column and pair in Python, a table of 800 bounded columns
    took seconds); blocks are filled, never copied to grow."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._blocks: list[np.ndarray] = []

    def update(self, restored: dict[str, np.ndarray]) -> None:
        """Add the columns of `restored` not yet kept."""
        for name in list(restored)[len(self.names) :]:
            row = _log_magnitude(restored[name])
            slot = len(self.names) % _SCREEN_SOURCES
            if slot == 0:
                self._blocks.append(np.empty((_SCREEN_SOURCES, row.size)))
            self._blocks[-1][slot] = row
            self.names.append(name)

    def blocks(self) -> list[np.ndarray]:
        """The kept rows, in the order of `names`, a block at a time."""
        filled = len(self.names) - _SCREEN_SOURCES * (len(self._blocks) - 1)
        return [*self._blocks[:-1], self._blocks[-1][:filled]] if self._blocks else []

    def row(self, index: int) -> np.ndarray:
        return self._blocks[index // _SCREEN_SOURCES][index % _SCREEN_SOURCES]


#: How far the vectorised correlations may be from np.corrcoef's (they differ by ~1e-12 on
#: well-conditioned samples); pairs this close to a decision are decided by np.corrcoef.
_CORRELATION_SLACK = 1e-8


def _correlated(values: np.ndarray, magnitudes: LogMagnitudes) -> list[str]:
    """Up to RATIO_CANDIDATES decoded columns, best log-magnitude correlation first (ties by
    name), those above RATIO_MIN_CORRELATION only.

    The same choice as np.corrcoef per pair over the rows where both are finite, computed for
    all pairs at once (`_screen`); the pairs near the threshold or the cut, and ill-conditioned
    ones, are then scored by `_pair_correlation` itself (docs/codec.md, "How `bounded` keeps its
    promise")."""
    if not magnitudes.names:
        return []
    target = _log_magnitude(values)
    screened = [_screen(target, block) for block in magnitudes.blocks()]
    correlation, ill, scored = (np.concatenate(parts) for parts in zip(*screened, strict=True))
    ranked = np.where(scored & ~ill, correlation, -np.inf)
    cut = np.sort(ranked)[-RATIO_CANDIDATES] if ranked.size >= RATIO_CANDIDATES else -np.inf
    near = (ranked > RATIO_MIN_CORRELATION - _CORRELATION_SLACK) & (
        ranked >= cut - 2 * _CORRELATION_SLACK
    )
    scores = []
    for i in np.flatnonzero(near | ill):
        exact = _pair_correlation(target, magnitudes.row(i))
        if exact is not None and exact > RATIO_MIN_CORRELATION:
            scores.append((-exact, magnitudes.names[i]))
    return [other for _, other in sorted(scores)[:RATIO_CANDIDATES]]


def _screen(target: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per source row: the correlation of its log-magnitudes with `target`'s over the rows where
    both are finite (centred two-pass sums), whether that is ill-conditioned (a spread under
    1e-4 of the mean, nearly constant, or not finite) and whether it is scored at all (two such
    rows or more)."""
    usable = np.isfinite(sources) & np.isfinite(target)
    count = usable.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a = np.where(usable, target, 0.0)
        b = np.where(usable, sources, 0.0)
        mean_a = a.sum(axis=1) / count
        mean_b = b.sum(axis=1) / count
        a = np.where(usable, a - mean_a[:, None], 0.0)
        b = np.where(usable, b - mean_b[:, None], 0.0)
        saa, sbb, sab = (a * a).sum(axis=1), (b * b).sum(axis=1), (a * b).sum(axis=1)
        correlation = sab / np.sqrt(saa * sbb)
        ill = (saa * 1e8 <= mean_a**2 * count) | (sbb * 1e8 <= mean_b**2 * count)
    scored = count >= 2
    return correlation, (ill | ~np.isfinite(correlation)) & scored, scored


def _pair_correlation(target: np.ndarray, source: np.ndarray) -> float | None:
    """np.corrcoef of two log-magnitudes over the rows where both are finite (None: fewer than
    two such rows, or one of them constant there)."""
    usable = np.isfinite(target) & np.isfinite(source)
    if usable.sum() < 2:
        return None
    a, b = target[usable], source[usable]
    if a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def predict(
    predictor: str,
    column: str,
    restored: dict[str, np.ndarray],
    model_prediction: dict[str, np.ndarray],
    grid: str | None = GRID,
) -> np.ndarray | None:
    """The prediction a predictor gives; identical at compression and decompression (and on
    every CPU: a kinematic formula is computed with the column's `grid`)."""
    try:
        if predictor in ("none", CONDITIONAL):
            return None
        if predictor == "model":
            return model_prediction[column]
        if predictor.startswith("ratio:"):
            return restored[predictor.removeprefix("ratio:")]
        needs, formula = _KINEMATIC[predictor]
        with np.errstate(over="ignore", invalid="ignore"):
            inputs = (np.asarray(restored[c], dtype=np.float64) for c in needs)
            return formula(grid_maths(grid), *inputs)
    except KeyError:
        raise CorruptFileError(
            f"column {column!r} has an unusable predictor {predictor!r}"
        ) from None


def predictor_inputs(predictor: str) -> tuple[str, ...]:
    """The decoded columns a predictor reads (its column waits for them)."""
    if predictor.startswith("ratio:"):
        return (predictor.removeprefix("ratio:"),)
    return _KINEMATIC[predictor][0] if predictor in _KINEMATIC else ()


class InlineExecutor(Executor):
    """Runs each submitted call at once in the caller's thread (the single-threaded codec)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


# ---------------------------------------------------------------------- chunks
@dataclass
class EncodedChunk:
    """A chunk's description (with statistics) and its named byte parts.

    Attributes:
        checked: per bounded column, the values that quantisation checked against its
            tolerance (decoding must give back exactly these).
        decoded_latent: with a stored latent, that latent and the network's output for it,
            which verification may reuse.
    """

    description: dict[str, Any]
    parts: list[tuple[str, bytes]]
    checked: dict[str, np.ndarray]
    decoded_latent: tuple[np.ndarray, np.ndarray] | None = None

    def stored_description(self) -> dict[str, Any]:
        """The description as written to the file: statistics left out (the footer sums them)."""
        columns = {
            name: {k: v for k, v in desc.items() if k not in STATISTICS}
            for name, desc in self.description["columns"].items()
        }
        return dict(self.description, columns=columns)


Encoded = tuple[dict[str, Any], list[tuple[str, bytes]]]


def _bounded_in_order(plans: list[ColumnPlan], coder: Any = None) -> list[ColumnPlan]:
    order = coding_order(plans, coder)
    return [p for p in order if p.kind == "bounded" and p.tolerance is not None]


def _quantise_with(
    plan: ColumnPlan,
    values: np.ndarray,
    predictor: str,
    restored: dict[str, np.ndarray],
    model_prediction: dict[str, np.ndarray],
) -> QuantisedColumn:
    assert plan.tolerance is not None
    prediction = predict(predictor, plan.name, restored, model_prediction)
    return quantise(values, plan.tolerance, prediction)


def _encode_with(
    plan: ColumnPlan,
    predictor: str,
    quantised: QuantisedColumn,
    coder: Any = None,
    context: dict[str, np.ndarray] | None = None,
    tables: RowTables | EventTables | None = None,
    events: EventRows | None = None,
) -> Encoded:
    """A quantised column's description and parts, its codes first; with its codes' order-0
    entropy where the coder counted it. With the chunk's `events`, codes every event repeats
    are stored once per event where that is smaller; for the `conditional` predictor (codes
    coded by the entropy model `coder`, given the decoded `context` columns and their row
    `tables` when already computed), `events` asks for the model's per-event form, used unless
    the rows cannot be coded so."""
    if predictor != CONDITIONAL:
        desc, parts, entropy_bits = _encode_quantised_measured(plan.name, quantised, events)
        desc["predictor"] = predictor
        desc["entropy_bits"] = entropy_bits
        return desc, parts
    assert context is not None and plan.tolerance is not None
    desc, side = _encode_signs_and_exceptions(plan.name, quantised)
    desc["predictor"] = predictor
    codes = None
    if events is not None:
        codes = encode_column_events(coder, plan.name, quantised.codes, context, plan.tolerance,
                                     events, tables)  # fmt: skip
        desc["events"] = codes is not None
    if codes is None:
        flat = tables if isinstance(tables, RowTables) else None
        codes = encode_column(coder, plan.name, quantised.codes, context, plan.tolerance, flat)
        desc.pop("events", None)
    return desc, [(f"{plan.name}:codes", codes), *side]


def _conditional_context(
    coder: Any, plan: ColumnPlan, decoded_before: dict[str, np.ndarray]
) -> list[str] | None:
    """The columns an entropy model would code `plan` from (None: it cannot code it)."""
    if coder is None:
        return None
    space = plan_space(plan.kind, plan.dtype, plan.tolerance)
    return usable_context(coder, plan.name, space, decoded_before)


def _column_inputs(name: str, predictor: str, desc: dict[str, Any], coder: Any) -> tuple[str, ...]:
    """The decoded columns a column reads: its predictor's inputs or its entropy model's
    context (which the model says; files before format 7 also recorded it in the column's
    description)."""
    if predictor != CONDITIONAL and desc.get("encoding") != CONDITIONAL:
        return predictor_inputs(predictor)
    if "context" not in desc:
        column = coder.models.get(name) if coder is not None else None
        if column is None:
            raise CorruptFileError(f"column {name!r} names an entropy model that cannot decode it")
        return tuple(column.context)
    context = require_list(desc["context"], "an entropy-coded column's context")
    return tuple(require_str(c, "an entropy-coded column's context") for c in context)


def _choose_predictors(
    columns: dict[str, np.ndarray],
    plans: list[ColumnPlan],
    model_prediction: dict[str, np.ndarray],
    rows: np.ndarray | None,
    measure_all: bool = False,
    events: EventRows | None = None,
) -> tuple[dict[str, str], float]:
    """Per bounded column, the candidate predictor that makes the selection rows smallest (see
    `_estimated_bytes`), and the total bytes of those rows so estimated. Columns with a single
    candidate are counted only with `measure_all`: totals are compared when a model is on offer,
    and then they must cover the same columns. Trying every candidate on the whole chunk would
    cost a full quantise-and-code pass per candidate; the winner codes the chunk once."""
    chosen, total, _, _ = _choose_predictors_with(
        columns, plans, model_prediction, rows, measure_all, events=events
    )
    return chosen, total


def _choose_predictors_with(
    columns: dict[str, np.ndarray],
    plans: list[ColumnPlan],
    model_prediction: dict[str, np.ndarray],
    rows: np.ndarray | None,
    measure_all: bool = False,
    coder: Any = None,
    events: EventRows | None = None,
) -> tuple[dict[str, str], float, float, set[str]]:
    """`_choose_predictors`, with an entropy model (`coder`) on offer: `conditional` is a
    candidate where the model may code the column, every row alike or per event (with the
    selection rows' `events`), costed at the bytes it codes the rows to, against the bytes the
    best other candidate codes them to (its estimate leaves out the coder's tables, which on a
    chunk of a few thousand rows are several per cent). Also returns the total of each column's
    best other candidate, what the rows would cost without the model, measured in the same
    pass, and the columns the model codes smaller per event."""

    def take(array: np.ndarray) -> np.ndarray:
        return array if rows is None else array[rows]

    offered = {c: take(p) for c, p in model_prediction.items()}
    restored: dict[str, np.ndarray] = {}
    magnitudes = LogMagnitudes()
    exact = {p.name: take(columns[p.name]) for p in plans if p.kind == "lossless" and coder}
    chosen: dict[str, str] = {}
    per_event: set[str] = set()
    total = without = 0.0
    for plan in _bounded_in_order(plans, coder):
        values = take(columns[plan.name])
        candidates = candidate_predictors(plan, values, restored, set(offered), magnitudes)
        context = _conditional_context(coder, plan, {**exact, **restored})
        if candidates == ["none"] and context is None and not measure_all:  # nothing to compare
            assert plan.tolerance is not None
            chosen[plan.name] = "none"
            restored[plan.name] = quantise(values, plan.tolerance).restored
            continue
        best: tuple[float, str, np.ndarray] | None = None
        plain = best_codes = None  # the codes without a prediction, which `conditional` codes
        for name in candidates:
            quantised = _quantise_with(plan, values, name, restored, offered)
            plain = quantised if name == "none" else plain
            cost = _estimated_bytes(plan.name, quantised, events)
            if best is None or cost < best[0]:
                assert quantised.restored is not None
                best, best_codes = (cost, name, quantised.restored), quantised
        assert best is not None and plain is not None and best_codes is not None
        if context is not None:
            coded = _size(_encode_with(plan, best[1], best_codes, events=events)[1])
            best = (float(coded), best[1], best[2])
        without += best[0]
        if context is not None:
            inputs = {c: exact[c] if c in exact else restored[c] for c in context}
            forms = [None] + ([events] if events and has_event_form(coder, plan.name) else [])
            for form in forms:
                desc, parts = _encode_with(plan, CONDITIONAL, plain, coder, inputs, events=form)
                if _size(parts) < best[0]:
                    assert plain.restored is not None
                    best = (float(_size(parts)), CONDITIONAL, plain.restored)
                    if desc.get("events"):
                        per_event.add(plan.name)
                    else:
                        per_event.discard(plan.name)
        total += best[0]
        chosen[plan.name], restored[plan.name] = best[1], best[2]
    return chosen, total, without, per_event


def _encode_bounded_columns(
    columns: dict[str, np.ndarray],
    plans: list[ColumnPlan],
    predictors: dict[str, str],
    model_prediction: dict[str, np.ndarray],
    executor: Executor,
    coder: Any = None,
    events: EventRows | None = None,
    per_event: Collection[str] = (),
) -> tuple[dict[str, Future[Encoded]], dict[str, Future[np.ndarray]]]:
    """Quantise and code every bounded column with its chosen predictor, concurrently (those in
    `per_event` by the entropy model per event, with the chunk's `events`); returns the
    encodings (with their statistics) and the values quantisation checked.

    A column's task publishes its checked values as soon as it has quantised, so a column
    predicted from it need not wait for its entropy coding, and drops its codes once coded, so
    a chunk holds one column's codes at a time (less new memory to map). Each task waits only
    for values of earlier-submitted ones, so the pool cannot deadlock."""
    checked: dict[str, Future[np.ndarray]] = {}

    def code_column(plan: ColumnPlan, published: Future[np.ndarray]) -> Encoded:
        predictor = predictors[plan.name]
        try:
            context = None
            if predictor == CONDITIONAL:
                context = {
                    c: checked[c].result() if c in checked else columns[c]  # exact if unbounded
                    for c in coder.models[plan.name].context
                }
            inputs = {c: checked[c].result() for c in predictor_inputs(predictor)}
            column = _quantise_with(plan, columns[plan.name], predictor, inputs, model_prediction)
        except BaseException as exc:
            published.set_exception(exc)  # columns predicted from this one fail too
            raise
        published.set_result(column.restored)
        tables: RowTables | EventTables | None = None
        form = events if predictor != CONDITIONAL or plan.name in per_event else None
        if context is not None:  # the network's passes, once for coding and verification
            assert plan.tolerance is not None
            if form is not None:
                tables = column_event_tables(coder, plan.name, column.codes, context,
                                             plan.tolerance, form)  # fmt: skip
            else:
                tables = column_rows(coder, plan.name, context, column.codes.size, plan.tolerance)
        desc, parts = _encode_with(plan, predictor, column, coder, context, tables, form)
        if context is not None and form is not None and not desc.get("events"):
            tables = None  # coded every row alike: its rows did not repeat in this chunk
        _check_streams(plan, desc, parts, column, coder, context, tables, events)
        if "entropy_bits" not in desc:  # an entropy model's codes: not counted by the coder
            desc["entropy_bits"] = empirical_entropy_bits(column.codes)
        desc["coded_bits"] = 8 * len(parts[0][1])
        desc["max_abs_error"] = column.max_abs_error
        desc["max_rel_error"] = column.max_rel_error
        return desc, parts

    encoded: dict[str, Future[Encoded]] = {}
    for plan in _bounded_in_order(plans, coder):
        checked[plan.name] = Future()
        encoded[plan.name] = executor.submit(code_column, plan, checked[plan.name])
    return encoded, checked


def encode_chunk(
    columns: dict[str, np.ndarray],
    event: np.ndarray | None,
    plans: list[ColumnPlan],
    model: Model | None,
    latent_dtype: str,
    executor: Executor | None = None,
    model_cost: int = 0,
) -> EncodedChunk:
    """Encode one chunk; `columns` holds every planned column with the planned dtype.

    With a model in bounded mode, the predictors are chosen twice on the selection rows (with
    and without the model's prediction on offer, the network run on those rows only) and the
    model is kept, and run on the whole chunk, only where that makes the rows smaller, latent
    bytes included. Columns are coded concurrently on `executor` (inline without one); the
    bytes do not depend on it.

    An entropy model (`jetzip.entropy.EntropyModel` as `model`) is used where it codes a
    column smaller, and in a chunk only where the selection rows, scaled to the chunk, save
    more than `model_cost` bytes (the model's own bytes when the file embeds it).
    """
    executor = executor or InlineExecutor()
    coder, model = (model, None) if is_entropy_model(model) else (None, model)
    n = len(next(iter(columns.values())))
    description: dict[str, Any] = {"n_rows": n, "columns": {}}
    parts: list[tuple[str, bytes]] = []
    if event is not None:
        parts.append((f"{EVENT_OWNER}:deltas", encode_ints(np.diff(event, prepend=0))))

    rows = selection_rows(n)
    exact: dict[str, tuple[float, list[str]]] = {}  # integer columns the entropy model codes
    # the chunk's events (and the selection rows'), where columns may be coded per event
    events = sample_events = None
    if event is not None:
        events = EventRows(event)
        sample_events = events if rows is None else EventRows(event[rows])
    per_event: set[str] = set()  # the columns an entropy model codes per event
    if coder is not None:  # one pass measures the rows with and without the entropy model
        predictors, sample_bytes, bytes_without, per_event = _choose_predictors_with(
            columns, plans, {}, rows, True, coder, sample_events
        )
        exact = _conditional_integers(coder, columns, plans, rows)
        saved = bytes_without - sample_bytes + sum(max(s, 0.0) for s, _ in exact.values())
        if saved * n / (n if rows is None else rows.size) > model_cost:
            description["entropy_model"] = coder.content_hash()
        else:  # chosen again in the plain coding order, which the predictors must follow
            coder, exact, per_event = None, {}, set()
    if coder is None:
        predictors, sample_bytes = _choose_predictors(
            columns, plans, {}, rows, measure_all=model is not None, events=sample_events
        )
    run = None  # the stored latent of the chunk and the network's output for it
    keep_model = model is not None and any(p.kind == "latent" for p in plans)
    if model is not None and not keep_model:
        # whether the model pays for its latent is decided on the selection rows alone, so a
        # model that does not help costs a network pass over those rows, not over the chunk
        sample = columns if rows is None else {c: v[rows] for c, v in columns.items()}
        sample_run = _run_model(model, sample, latent_dtype, executor)
        with_model, bytes_with = _choose_predictors(
            sample, plans, _prediction_of(model, sample_run[1]), None, measure_all=True
        )
        bytes_with += sum(
            len(encode_lossless(sample_run[0][:, j])[1]) for j in range(model.latent_dim)
        )
        if bytes_with < sample_bytes:
            keep_model, predictors = True, with_model
            run = sample_run if rows is None else None
    offered: dict[str, np.ndarray] = {}
    if keep_model:
        assert model is not None
        run = run or _run_model(model, columns, latent_dtype, executor)
        stored, decoded = run
        latent = [executor.submit(encode_lossless, stored[:, j]) for j in range(stored.shape[1])]
        offered = _prediction_of(model, decoded)
        description["latent_dtype"] = latent_dtype
        description["latent_methods"] = [f.result()[0] for f in latent]
        parts.extend((f"{LATENT_OWNER}:z{j}", f.result()[1]) for j, f in enumerate(latent))

    bounded, checked = _encode_bounded_columns(
        columns, plans, predictors, offered, executor, coder, events, per_event
    )
    others = {
        plan.name: executor.submit(_encode_unbounded_column, plan, columns[plan.name])
        for plan in plans
        if plan.kind in ("lossless", "latent") and exact.get(plan.name, (0.0,))[0] <= 0
    }
    others.update(  # integer columns the entropy model codes smaller, from exact values
        {
            name: executor.submit(_encode_integer_column, coder, name, columns, context)
            for name, (gain, context) in exact.items()
            if gain > 0
        }
    )
    for plan in plans:
        desc, column_parts = (
            bounded[plan.name].result() if plan.name in bounded else others[plan.name].result()
        )
        desc.setdefault("predictor", "none")
        parts.extend(column_parts)
        description["columns"][plan.name] = desc
    return EncodedChunk(
        description, parts, {name: values.result() for name, values in checked.items()}, run
    )


def _run_model(
    model: Model, columns: dict[str, np.ndarray], latent_dtype: str, executor: Executor
) -> tuple[np.ndarray, np.ndarray]:
    """The stored latent of the rows and the network's output for it (what decoding gives)."""
    x = np.column_stack([np.asarray(columns[c], dtype=np.float64) for c in model.columns])
    stored = store_latent(_batched(model, "encode", _finite_filled(x), executor), latent_dtype)
    return stored, _batched(model, "decode", load_latent(stored, latent_dtype), executor)


def _prediction_of(model: Model, decoded: np.ndarray) -> dict[str, np.ndarray]:
    return {c: decoded[:, j] for j, c in enumerate(model.columns)}


def _conditional_integers(
    coder: Any, columns: dict[str, np.ndarray], plans: list[ColumnPlan], rows: np.ndarray | None
) -> dict[str, tuple[float, list[str]]]:
    """Exact integer columns an entropy model may code (from exact columns decoded before
    them): the bytes it saves on the selection rows (negative where it does not) and context."""
    found = {}
    before: dict[str, np.ndarray] = {}
    for plan in coding_order(plans):
        if plan.kind != "lossless":
            break
        values = columns[plan.name] if rows is None else columns[plan.name][rows]
        context = _conditional_context(coder, plan, before)
        before[plan.name] = values
        if context is None:
            continue
        inputs = {c: before[c] for c in context}
        coded = encode_column(coder, plan.name, values, inputs, None)
        found[plan.name] = (len(encode_lossless(values)[1]) - len(coded), context)
    return found


def _encode_integer_column(
    coder: Any, name: str, columns: dict[str, np.ndarray], context: list[str]
) -> Encoded:
    """An exact integer column coded by an entropy model."""
    data = encode_column(coder, name, columns[name], {c: columns[c] for c in context}, None)
    desc = {"encoding": CONDITIONAL}
    return desc, [(f"{name}:values", data)]


def _encode_unbounded_column(plan: ColumnPlan, values: np.ndarray) -> Encoded:
    if plan.kind == "latent":
        return _encode_latent_column(plan, values)
    return encode_lossless_column(plan.name, values)


def encode_lossless_column(name: str, values: np.ndarray) -> Encoded:
    """A column's exact encoding as a chunk stores it (description and parts)."""
    method, data = encode_lossless(values)
    return {"encoding": "lossless", "method": method}, [(f"{name}:values", data)]


def _batched(model: Model, method: str, rows: np.ndarray, executor: Executor) -> np.ndarray:
    """`model.encode` or `model.decode` applied to consecutive MODEL_BATCH_ROWS-row slices,
    results stacked; the slices run on `executor` where the model allows it."""
    function = getattr(model, method)
    batches = [rows[i : i + MODEL_BATCH_ROWS] for i in range(0, len(rows), MODEL_BATCH_ROWS)]
    if _runs_batches_concurrently(model):
        return np.concatenate(list(executor.map(function, batches)))
    return np.concatenate([function(batch) for batch in batches])


def _finite_filled(x: np.ndarray) -> np.ndarray:
    """NaN/inf replaced by the column's median finite value, so the encoder sees typical input
    (those rows are stored exactly anyway)."""
    finite = np.isfinite(x)
    if finite.all():
        return x
    filled = x.copy()
    for j in range(x.shape[1]):
        good = finite[:, j]
        filled[~good, j] = np.median(x[good, j]) if good.any() else 1.0
    return filled


def _encode_latent_column(
    plan: ColumnPlan, values: np.ndarray
) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """Latent-only column: nothing stored but the non-finite values (kept exactly)."""
    nonfinite = np.flatnonzero(~np.isfinite(values)).astype(np.int64)
    desc: dict[str, Any] = {"encoding": "latent", "n_exceptions": int(nonfinite.size)}
    parts = []
    if nonfinite.size:
        parts.append((f"{plan.name}:exception_rows", encode_ints(np.diff(nonfinite, prepend=0))))
        method, data = encode_lossless(values[nonfinite])
        desc["exception_method"] = method
        parts.append((f"{plan.name}:exception_values", data))
    return desc, parts


def _size(parts: list[tuple[str, bytes]]) -> int:
    return sum(len(data) for _, data in parts)


def decode_chunk(
    description: dict[str, Any],
    parts: dict[str, bytes],
    plans: list[ColumnPlan],
    has_event: bool,
    model: Model | None,
    executor: Executor | None = None,
    decoded_latent: tuple[np.ndarray, np.ndarray] | None = None,
    known: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Inverse of `encode_chunk`: the chunk's columns (in plan order) and event index.

    Every entry of the description is checked before it is used; every array is allocated at
    the size the chunk declares, and only once a stream has shown it can hold that many values,
    so a hostile chunk costs no more memory than the output it really decodes to.
    `decoded_latent` (compression's verification): a latent and the model's output for it,
    used instead of running the network again when the stored latent decodes to exactly that
    latent (the network is deterministic, so its output would be the same). `known`
    (compression's verification): bounded columns whose streams `encode_chunk` already decoded
    and compared, given back as they are instead of reconstructed again."""
    executor = executor or InlineExecutor()
    known = known or {}
    coder, model = (model, None) if is_entropy_model(model) else (None, model)
    if "entropy_model" not in description:
        coder = None  # (a chunk coded without it follows the plain coding order)
    n = require_rows(description.get("n_rows"), "a chunk's row count")
    column_descs = require_dict(description.get("columns"), "a chunk's column descriptions")
    event = events = None
    if has_event:
        event = np.cumsum(decode_ints(_part(parts, f"{EVENT_OWNER}:deltas"), n), dtype=np.int64)
        events = EventRows(event)  # (its rows are found only if a column needs them)

    prediction: dict[str, np.ndarray] = {}
    if description.get("latent_dtype") is not None:
        if model is None:
            raise CorruptFileError("chunk stores a latent but the file names no model")
        stored = _decode_latent(description, parts, model.latent_dim, n)
        if decoded_latent is not None and np.array_equal(stored, decoded_latent[0]):
            decoded = decoded_latent[1]
        else:
            latent = load_latent(stored, description["latent_dtype"])
            decoded = _batched(model, "decode", latent, executor)
        prediction = {c: decoded[:, j] for j, c in enumerate(model.columns)}

    def decode(
        plan: ColumnPlan, desc: dict[str, Any], inputs: dict[str, Future[np.ndarray]]
    ) -> np.ndarray:
        if plan.name in known:
            return known[plan.name]
        restored = {c: future.result() for c, future in inputs.items()}
        return _decode_column(plan, desc, parts, n, restored, prediction, coder, events)

    # columns decode concurrently; each may read only columns submitted before it, whose
    # futures it is handed at submission (so a damaged file cannot make two columns wait on
    # each other), and only those its predictor reads (so the work is linear in the columns)
    futures: dict[str, Future[np.ndarray]] = {}
    for plan in coding_order(plans, coder):
        desc = column_descs.get(plan.name)
        if not isinstance(desc, dict):
            raise CorruptFileError(f"chunk lacks column {plan.name!r}")
        predictor = require_str(desc.get("predictor", "none"), f"the predictor of {plan.name!r}")
        reads = _column_inputs(plan.name, predictor, desc, coder)
        inputs = {c: futures[c] for c in reads if c in futures}
        futures[plan.name] = executor.submit(decode, plan, desc, inputs)
    return {p.name: futures[p.name].result() for p in plans}, event


def _decode_latent(
    description: dict[str, Any], parts: dict[str, bytes], latent_dim: int, n: int
) -> np.ndarray:
    """The chunk's stored latent (n x latent_dim, in its storage dtype)."""
    dtype = require_str(description["latent_dtype"], "a chunk's latent dtype", LATENT_DTYPES)
    methods = require_list(
        description.get("latent_methods"), "a chunk's latent methods", length=latent_dim
    )
    stored = np.empty((n, latent_dim), dtype=_latent_storage_dtype(dtype))
    for j, method in enumerate(methods):
        method = require_str(method, "a chunk's latent method")
        part = _part(parts, f"{LATENT_OWNER}:z{j}")
        stored[:, j] = decode_lossless(method, part, stored.dtype.name, n)
    return stored


def _decode_column(
    plan: ColumnPlan,
    desc: dict[str, Any],
    parts: dict[str, bytes],
    n: int,
    restored: dict[str, np.ndarray],
    model_prediction: dict[str, np.ndarray],
    coder: Any = None,
    events: EventRows | None = None,
) -> np.ndarray:
    encoding = desc.get("encoding")
    if encoding == CONDITIONAL:
        data = _part(parts, f"{plan.name}:values")
        return decode_column(coder, plan.name, data, restored, n, None, plan.dtype)
    if encoding == "lossless":
        method = require_str(desc.get("method"), f"the method of column {plan.name!r}")
        return decode_lossless(method, _part(parts, f"{plan.name}:values"), plan.dtype, n)
    if encoding == "quantised" and plan.tolerance is not None:
        predictor = str(desc.get("predictor", "none"))
        prediction = predict(predictor, plan.name, restored, model_prediction, desc.get("grid"))
        codes = None
        if predictor == CONDITIONAL:
            data = _part(parts, f"{plan.name}:codes")
            if require_bool(desc.get("events", False), f"the per-event flag of {plan.name!r}"):
                codes = decode_column_events(coder, plan.name, data, restored, plan.tolerance,
                                             events)  # fmt: skip
            else:
                codes = decode_column(coder, plan.name, data, restored, n, plan.tolerance)
        return decode_quantised(plan, desc, parts, n, prediction, codes, events)
    if encoding == "latent" and plan.name in model_prediction:
        values = model_prediction[plan.name].astype(plan.dtype)
        rows, exact = _exceptions(plan, desc, parts, n)
        values[rows] = exact
        return values
    raise CorruptFileError(
        f"column {plan.name!r} has an unknown encoding {terminal_safe(str(encoding))!r}"
    )
