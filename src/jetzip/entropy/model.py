"""The entropy model: per column, an integer network that predicts the distribution of the
column's grid codes from columns decoded before it, and its learned shape.

Inputs are integer features of decoded values taken from their bits (see `features`), so the
encoder, which sees the values quantisation checked, and the decoder, which rebuilds exactly
those values, give the network the same integers. The network (`jetzip.models.integer`) is
exact, and the distribution and coder use only exact operations (see `distributions`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import struct
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from jetzip.entropy import _condkernel
from jetzip.entropy.coder import Tables, decode_codes, encode_codes
from jetzip.entropy.distributions import N_TABLES, RowTables, Shape, log2_fixed
from jetzip.entropy.events import EventRows, transverse_sum
from jetzip.errors import CorruptFileError, InputError
from jetzip.models.integer import IntegerMLP, LookupActivation

MAGIC = b"JZENTROPY\x01"
MODEL_FILE = "entropy.jzem"
#: Spaces a column is modelled in: log|x| (relative tolerances), x (absolute), exact integers.
SPACES = ("log", "linear", "integer")
#: Fraction bits of the network's input features and outputs (mu: 1/2**16, log2 sigma: 1/256).
FEATURE_BITS = 12
OUTPUT_BITS = 16
FEATURE_LIMIT = 2**24
#: The network's second output is log2 sigma with OUTPUT_BITS fraction bits; the distribution
#: takes it with 8 (1/LOG2_ONE octave).
SIGMA_SHIFT = OUTPUT_BITS - 8
#: A column's rows are split into at most PARTS ranges of at least SPLIT_ROWS rows, computed
#: at once (`ColumnModel.row_tables`).
PARTS = min(os.cpu_count() or 1, 4)
SPLIT_ROWS = 65_536
_HELPERS: ThreadPoolExecutor | None = None
#: Largest model body accepted when reading (a damaged or hostile length cannot exhaust memory).
MAX_MODEL_BYTES = 64 << 20


def features(values: np.ndarray, space: str) -> np.ndarray:
    """Integer features (FEATURE_BITS fraction bits) of decoded values, from their bits alone.

    log space: log2|x| by Mitchell's approximation (exponent plus mantissa read as a fraction),
    a shift of the bit pattern; linear and integer spaces: x scaled by a power of two and
    floored. Zeros, NaN and inf give fixed clipped values. Exact integer or power-of-two
    operations only, so the same on every machine. Integers in int32/int64 (log space) or
    float64 (the others: they feed a float64 product), with as few passes as possible."""
    values = np.asarray(values)
    if space == "log" and values.dtype in (np.float32, np.float64):
        if values.dtype == np.float32:  # in int32: always within +-2**20, no clip needed
            bits = values.view(np.int32) & 0x7FFFFFFF
            bits -= 127 << 23
            bits >>= 23 - FEATURE_BITS
            return bits
        bits = values.view(np.int64) & 0x7FFFFFFFFFFFFFFF
        out = (bits - (1023 << 52)) >> (52 - FEATURE_BITS)
        return np.clip(out, -FEATURE_LIMIT, FEATURE_LIMIT)
    scaled = values.astype(np.float64)  # a copy, worked on in place
    scaled *= float(2**FEATURE_BITS)
    np.clip(scaled, -FEATURE_LIMIT, FEATURE_LIMIT, out=scaled)  # inf too; NaN stays NaN
    np.floor(scaled, out=scaled)
    scaled[np.isnan(scaled)] = 0.0
    return scaled


def _helpers() -> ThreadPoolExecutor:
    """The threads that compute parts of a column's rows (created once, on first use)."""
    global _HELPERS
    if _HELPERS is None:
        _HELPERS = ThreadPoolExecutor(PARTS, thread_name_prefix="jetzip-rows")
    return _HELPERS


def _kernel_input(values: np.ndarray, space: str) -> tuple[np.ndarray, bool]:
    """A context column as the kernel reads it, and whether its features come from its bit
    pattern (`features`' log path). Other dtypes are widened exactly, as `features` widens
    them (to float64, or to int64, which the kernel converts to float64 as numpy's cast does)."""
    values = np.asarray(values)
    if space == "log" and values.dtype in (np.float32, np.float64):
        return np.ascontiguousarray(values), True
    if values.dtype in (np.float32, np.float64, np.int32, np.int64):
        return np.ascontiguousarray(values), False
    if (values.dtype.kind in "ub" and values.dtype.itemsize < 8) or values.dtype.kind == "i":
        return values.astype(np.int64), False
    return values.astype(np.float64), False


def transformed(values: np.ndarray, space: str) -> np.ndarray:
    """The space the column's codes live in (training only): ln|x| or x, float64."""
    x = np.asarray(values, dtype=np.float64)
    if space == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.abs(x))
    return x


class Conditional:
    """A network and its learned shape: the coding table of each row of a group of rows, from
    the row's inputs, and the codes of those rows to bytes and back."""

    def __init__(self, network: IntegerMLP, shape: Shape) -> None:
        self.network, self.shape = network, shape
        self._tables: Tables | None = None

    @property
    def tables(self) -> Tables:
        if self._tables is None:
            self._tables = Tables(self.shape.tables())
        return self._tables

    def row_tables(
        self, inputs: list[tuple[np.ndarray, bool]], n: int, step: float, parts: int | None = None
    ) -> RowTables:
        """Each row's coding table on a grid of `step`, from its inputs (`_kernel_input`: the
        values and whether their features come from their bits): the features, the network
        and the table choice in one compiled pass over blocks of rows
        (`jetzip.entropy._condkernel`, the same integers as `features`, `IntegerMLP` and the
        table choice described in `distributions`), with the rows grouped by table.

        Rows are independent, so a long column is split into `parts` (default PARTS) ranges
        computed on helper threads (the kernel releases the GIL): a chunk's model columns decode
        one after another, each needing the ones before it, and this is what lets decoding use
        more than a core."""
        for values, _ in inputs:
            if values.shape != (n,):
                raise ValueError(f"a context column does not have {n} rows")
        log = bytes(is_log for _, is_log in inputs)
        centre, table, low_bits, order = (np.empty(n, dtype=np.int64) for _ in range(4))
        settings = (log, self._kernel_layers, float(self.network.input_limit),
                    float(step), log2_fixed(step))  # fmt: skip

        def part(start: int, stop: int) -> None:
            sliced = tuple(values[start:stop] for values, _ in inputs)
            span = slice(start, stop)
            _condkernel.rows(sliced, *settings, centre[span], table[span], low_bits[span])

        parts = max(1, min(PARTS if parts is None else parts, n // SPLIT_ROWS))
        bounds = [n * k // parts for k in range(parts + 1)]
        if parts == 1:
            part(0, n)
        else:
            list(_helpers().map(part, bounds[:-1], bounds[1:]))
        counts = np.empty(N_TABLES, dtype=np.int64)
        _condkernel.group(table, order, counts)
        present = np.flatnonzero(counts)
        starts = np.concatenate([[0], np.cumsum(counts[present])])
        return RowTables(centre, table, low_bits, order, present, starts)

    @functools.cached_property
    def _kernel_layers(self) -> tuple[tuple[Any, ...], ...]:
        """The network's layers as the kernel takes them: pre-scaled W.T and b (see
        `IntegerLinear.scaled`), limit, activation and its lookup table."""
        layers = []
        for layer in self.network.layers:
            weight, bias = layer.scaled
            activation = layer.activation
            if isinstance(activation, LookupActivation):
                lookup = (2, np.ascontiguousarray(activation.values, dtype=np.int64))
                origin = (activation.lo, activation.step_shift)
            else:
                lookup = (0 if activation == "relu" else 1, np.empty(0, dtype=np.int64))
                origin = (0, 0)
            layers.append((weight, bias, float(layer.limit), *lookup, *origin))
        return tuple(layers)

    def encode(self, codes: np.ndarray, rows: RowTables) -> bytes:
        """The codes of these rows, given their tables (`row_tables`)."""
        return encode_codes(codes, rows, self.tables)

    def decode(self, data: bytes, rows: RowTables) -> np.ndarray:
        return decode_codes(data, rows, self.tables)


@dataclass
class EventForm:
    """A column coded per event (`jetzip.entropy.events`): the leading rows by `leader`, with
    the event's multiplicity as one more input, then the other rows by `follower`, with their
    rank, the multiplicity and their leader's value (its code times the grid step) as three
    more. A follower of None: the other rows repeat their leader's code (a value stored once
    per event, such as a DarkMachines table's MET on each jet), and cost nothing. With
    `balance` (the names of two context columns, pt and phi), leaders also read the magnitude
    and the opposite direction of their event's vector sum of (pt, phi)
    (`events.transverse_sum`): the missing transverse momentum balances it."""

    leader: Conditional
    follower: Conditional | None
    balance: tuple[str, str] | None = None


#: Bytes of the leading rows' stream length at the head of a column coded per event.
_EVENT_HEAD = struct.Struct("<I")
#: A column's row tables coded per event: the leaders', the followers' (None: they repeat).
EventTables = tuple[RowTables, RowTables | None]


@dataclass
class ColumnModel:
    """One column: its space, the columns it is conditioned on, network and shape (every row
    alike), and optionally its per-event form."""

    name: str
    space: str
    context: list[str]
    network: IntegerMLP
    shape: Shape
    events: EventForm | None = None
    #: space of each context column (set by EntropyModel)
    context_spaces: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def _rows(self) -> Conditional:
        return Conditional(self.network, self.shape)

    @property
    def per_event_value(self) -> bool:
        """Whether the column holds one value per event, repeated on each of its rows (coded
        once per event, after the rows' own columns: `jetzip.codec.chunk.coding_order`)."""
        return self.events is not None and self.events.follower is None

    @property
    def conditionals(self) -> list[Conditional]:
        """Every network of the column with its shape: every row alike, then per event."""
        found = [self._rows]
        if self.events is not None:
            found.append(self.events.leader)
            found += [self.events.follower] if self.events.follower is not None else []
        return found

    def _inputs(
        self,
        context: Mapping[str, np.ndarray],
        take: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> list[tuple[np.ndarray, bool]]:
        """The context columns as the kernel reads them, at the rows `take` picks (all rows:
        None)."""
        found = []
        for name in self.context:
            values = np.asarray(context[name])
            found.append(_kernel_input(values if take is None else take(values),
                                       self.context_spaces[name]))  # fmt: skip
        return found

    def row_tables(
        self, context: dict[str, np.ndarray], n: int, step: float, parts: int | None = None
    ) -> RowTables:
        """Each row's coding table on a grid of `step`, from its decoded context columns (see
        `Conditional.row_tables`)."""
        return self._rows.row_tables(self._inputs(context), n, step, parts)

    def encode(self, codes: np.ndarray, rows: RowTables) -> bytes:
        """The codes of this column, given its rows' tables (`row_tables`)."""
        return self._rows.encode(codes, rows)

    def decode(self, data: bytes, rows: RowTables) -> np.ndarray:
        return self._rows.decode(data, rows)

    # ------------------------------------------------------------ per event
    def _leader_tables(
        self, context: Mapping[str, np.ndarray], events: EventRows, step: float
    ) -> RowTables:
        assert self.events is not None
        inputs = self._inputs(context, events.at_leaders)
        inputs.append(_kernel_input(events.leader_multiplicity, "integer"))
        if self.events.balance is not None:
            pt, phi = (np.asarray(context[name]) for name in self.events.balance)
            magnitude, direction = transverse_sum(pt, phi, events)
            inputs += [(magnitude, True), (direction, False)]  # log features (from bits), linear
        return self.events.leader.row_tables(inputs, events.leaders.size, step)

    def _follower_tables(
        self,
        context: Mapping[str, np.ndarray],
        events: EventRows,
        leader_codes: np.ndarray,
        step: float,
    ) -> RowTables:
        assert self.events is not None and self.events.follower is not None
        inputs = self._inputs(context, events.at_followers)
        inputs.append(_kernel_input(events.follower_rank, "integer"))
        inputs.append(_kernel_input(events.follower_multiplicity, "integer"))
        inputs.append((leader_codes[events.follower_leader].astype(np.float64) * step, False))
        return self.events.follower.row_tables(inputs, events.followers.size, step)

    def event_tables(
        self, codes: np.ndarray, context: Mapping[str, np.ndarray], events: EventRows, step: float
    ) -> EventTables:
        """The leaders' and the followers' row tables for these codes (the network's passes:
        compression computes them once for coding and its verification decode)."""
        assert self.events is not None
        leader = self._leader_tables(context, events, step)
        follower = None
        if self.events.follower is not None and events.followers.size:
            leader_codes = np.asarray(codes, dtype=np.int64)[events.leaders]
            follower = self._follower_tables(context, events, leader_codes, step)
        return leader, follower

    def encode_events(
        self,
        codes: np.ndarray,
        context: Mapping[str, np.ndarray],
        events: EventRows,
        step: float,
        tables: EventTables | None = None,
    ) -> bytes | None:
        """The codes coded per event (`EventForm`), or None where this form cannot code them
        (no such form, or a repeating column whose rows do not repeat here); `tables`: what
        `event_tables` gave for these codes, when already computed."""
        form = self.events
        if form is None or not events.leaders.size:
            return None
        codes = np.asarray(codes, dtype=np.int64)
        leader_codes, follower_codes = codes[events.leaders], codes[events.followers]
        if form.follower is None and not np.array_equal(
            follower_codes, leader_codes[events.follower_leader]
        ):  # a value per event that these rows do not repeat
            return None
        leader_tables, follower_tables = tables or self.event_tables(codes, context, events, step)
        head = form.leader.encode(leader_codes, leader_tables)
        tail = b""
        if form.follower is not None and follower_tables is not None:
            tail = form.follower.encode(follower_codes, follower_tables)
        return _EVENT_HEAD.pack(len(head)) + head + tail

    def decode_events(
        self,
        data: bytes,
        context: Mapping[str, np.ndarray],
        events: EventRows,
        step: float,
        tables: EventTables | None = None,
    ) -> np.ndarray:
        """Inverse of `encode_events`: int64 codes of every row; CorruptFileError (one line)
        when the stream does not fit the chunk's events. `tables` (compression's verification
        only): the tables the codes were coded with."""
        form = self.events
        if form is None:
            raise CorruptFileError(f"column {self.name!r} names a per-event form its model lacks")
        if len(data) < _EVENT_HEAD.size or not events.leaders.size:
            raise CorruptFileError(f"column {self.name!r}: per-event stream is damaged")
        (length,), start = _EVENT_HEAD.unpack_from(data), _EVENT_HEAD.size
        head, tail = data[start : start + length], data[start + length :]
        if len(head) != length:
            raise CorruptFileError(f"column {self.name!r}: per-event stream is truncated")
        leader_tables = tables[0] if tables else self._leader_tables(context, events, step)
        leader_codes = form.leader.decode(head, leader_tables)
        codes = np.empty(events.n_rows, dtype=np.int64)
        codes[events.leaders] = leader_codes
        if form.follower is None or not events.followers.size:
            if tail:
                raise CorruptFileError(f"column {self.name!r}: per-event stream is too long")
            codes[events.followers] = leader_codes[events.follower_leader]
            return codes
        follower_tables = tables[1] if tables else None
        if follower_tables is None:
            follower_tables = self._follower_tables(context, events, leader_codes, step)
        codes[events.followers] = form.follower.decode(tail, follower_tables)
        return codes


class EntropyModel:
    """Column models in coding order, with the bytes that identify them."""

    kind = "entropy"
    latent_dim = 0

    def __init__(self, columns: list[ColumnModel], meta: dict[str, Any] | None = None) -> None:
        self.models = {c.name: c for c in columns}
        self.columns = [c.name for c in columns]
        self.meta = dict(meta or {})
        self._hash: str | None = None
        spaces = {c.name: c.space for c in columns}
        for i, c in enumerate(columns):
            unknown = [n for n in c.context if n not in self.columns[:i]]  # earlier ones only
            inputs = not _fits(c.network, len(c.context))
            if c.events is not None:  # leaders read the multiplicity (and balance); followers
                follower, balance = c.events.follower, c.events.balance  # 3 inputs more
                leader_inputs = len(c.context) + 1 + 2 * (balance is not None)
                inputs |= c.space == "integer" or not _fits(c.events.leader.network, leader_inputs)
                inputs |= balance is not None and not set(balance) <= set(c.context)
                inputs |= follower is not None and not _fits(follower.network, len(c.context) + 3)
            if c.space not in SPACES or unknown or inputs or c.name in c.context:
                raise CorruptFileError(f"damaged entropy model: column {c.name!r} is inconsistent")
            c.context_spaces = {n: spaces[n] for n in c.context}

    @property
    def n_parameters(self) -> int:
        return sum(
            part.network.n_parameters + part.shape.cdf.size
            for c in self.models.values()
            for part in c.conditionals
        )

    @property
    def spec(self) -> dict[str, Any]:
        """What file headers and `jetzip info` show besides the columns (kept short: it is in
        every file's header); each column is conditioned on the columns before it."""
        return {"kind": "entropy", **self.meta}

    # ------------------------------------------------------------------ bytes
    def to_bytes(self) -> bytes:
        """MAGIC, then zlib of: header length, JSON header (columns, arrays), array bytes.

        Deterministic (sorted JSON, no timestamps), so `content_hash` names the model."""
        arrays: dict[str, np.ndarray] = {}
        columns = []
        for i, c in enumerate(self.models.values()):
            entry: dict[str, Any] = {"name": c.name, "space": c.space, "context": c.context}
            arrays.update(_conditional_arrays(c._rows, f"c{i}/"))
            if c.events is not None:
                entry["events"] = {"follower": c.events.follower is not None}
                if c.events.balance is not None:
                    entry["events"]["balance"] = list(c.events.balance)
                arrays.update(_conditional_arrays(c.events.leader, f"c{i}/lead/"))
                if c.events.follower is not None:
                    arrays.update(_conditional_arrays(c.events.follower, f"c{i}/follow/"))
            columns.append(entry)
        entries, blobs, offset = [], [], 0
        for name, array in sorted(arrays.items()):
            array = _smallest(np.asarray(array))
            blob = array.tobytes()
            entries.append([name, array.dtype.str, list(array.shape), offset])
            blobs.append(blob)
            offset += len(blob)
        header = json.dumps(
            {"meta": self.meta, "columns": columns, "arrays": entries}, sort_keys=True
        ).encode()
        body = struct.pack("<Q", len(header)) + header + b"".join(blobs)
        return MAGIC + zlib.compress(body, 9)

    @classmethod
    def from_bytes(cls, data: bytes) -> EntropyModel:
        """Rebuild from `to_bytes()`; CorruptFileError (one line) when damaged."""
        data = bytes(data)
        if not data.startswith(MAGIC):
            raise CorruptFileError("not a jetzip entropy model (bad magic bytes)")
        try:
            inflater = zlib.decompressobj()
            body = inflater.decompress(data[len(MAGIC) :], MAX_MODEL_BYTES)
            if inflater.unconsumed_tail or not inflater.eof:
                raise ValueError("truncated or larger than allowed")
            (length,) = struct.unpack_from("<Q", body)
            header = json.loads(body[8 : 8 + length])
            blob = memoryview(body)[8 + length :]
            arrays = {}
            for name, dtype, shape, offset in header["arrays"]:
                kind = np.dtype(dtype)
                if kind.kind not in "iuU":
                    raise ValueError(f"array {name!r} has dtype {dtype}")
                count = int(np.prod(shape, dtype=np.int64))
                array = np.frombuffer(blob, dtype=kind, count=count, offset=int(offset))
                arrays[str(name)] = array.reshape(shape)
            columns = []
            for i, entry in enumerate(header["columns"]):
                events = None
                if "events" in entry:
                    follower = entry["events"]["follower"]
                    balance = entry["events"].get("balance")
                    if not isinstance(follower, bool) or not (
                        balance is None
                        or (isinstance(balance, list) and len(balance) == 2
                            and all(isinstance(n, str) for n in balance))
                    ):  # fmt: skip
                        raise ValueError("a per-event form is damaged")
                    events = EventForm(
                        _conditional(arrays, f"c{i}/lead/"),
                        _conditional(arrays, f"c{i}/follow/") if follower else None,
                        None if balance is None else (balance[0], balance[1]),
                    )
                flat = _conditional(arrays, f"c{i}/")
                columns.append(
                    ColumnModel(
                        str(entry["name"]),
                        str(entry["space"]),
                        [str(n) for n in entry["context"]],
                        flat.network,
                        flat.shape,
                        events,
                    )
                )
            return cls(columns, header.get("meta"))
        except (KeyError, ValueError, TypeError, struct.error, zlib.error) as exc:
            raise CorruptFileError(f"damaged jetzip entropy model: {exc}") from None

    def renamed(self, names: Mapping[str, str]) -> EntropyModel:
        """The model under the codec's column names (`names`: the codec's name -> this model's
        column), e.g. a whole-file section's buffer ids for a collection's members: the same
        networks and shapes, keeping the columns named and those whose whole context is kept.
        Its hash stays this model's, the trained model that chunks record and files embed."""
        codec_name = {model: codec for codec, model in names.items()}
        kept: list[ColumnModel] = []
        for column in self.models.values():
            if column.name in codec_name and all(c in codec_name for c in column.context):
                context = [codec_name[c] for c in column.context]
                events = column.events
                if events is not None and events.balance is not None:
                    pt, phi = events.balance
                    events = replace(events, balance=(codec_name[pt], codec_name[phi]))
                kept.append(
                    replace(column, name=codec_name[column.name], context=context, events=events)
                )
            else:
                codec_name.pop(column.name, None)  # nothing kept reads a column not kept
        view = EntropyModel(kept, self.meta)
        view._hash = self.content_hash()
        return view

    def content_hash(self) -> str:
        if self._hash is None:
            self._hash = hashlib.sha256(self.to_bytes()).hexdigest()
        return self._hash

    def save(self, model_dir: str | os.PathLike[str]) -> Path:
        from jetzip.fileutil import atomic_output

        path = Path(model_dir) / MODEL_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            tmp.write_bytes(self.to_bytes())
        return path

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str]) -> EntropyModel:
        path = Path(model_dir) / MODEL_FILE
        if not path.is_file():
            raise InputError(
                f"{model_dir} is not a jetzip entropy model directory (no {MODEL_FILE})"
            )
        return cls.from_bytes(path.read_bytes())


def _fits(network: IntegerMLP, n_inputs: int) -> bool:
    """Whether `network` reads `n_inputs` inputs and gives a centre and a scale."""
    return network.n_inputs == n_inputs and network.n_outputs == 2


def _conditional_arrays(conditional: Conditional, prefix: str) -> dict[str, np.ndarray]:
    """A network and its shape as named arrays under `prefix` (read back by `_conditional`)."""
    arrays = conditional.network.to_arrays(prefix)
    arrays[f"{prefix}shape"] = np.diff(conditional.shape.cdf)
    return arrays


def _conditional(arrays: dict[str, np.ndarray], prefix: str) -> Conditional:
    """The network and shape stored under `prefix` (`_conditional_arrays`)."""
    cdf = np.concatenate([[0], np.cumsum(arrays[f"{prefix}shape"].astype(np.int64))])
    return Conditional(IntegerMLP.from_arrays(arrays, prefix), Shape(cdf))


def _smallest(array: np.ndarray) -> np.ndarray:
    """Integers in the narrowest little-endian dtype that holds them (smaller models)."""
    if array.dtype.kind not in "iu" or array.size == 0:
        return array
    for dtype in ("<i1", "<i2", "<i4", "<i8"):
        info = np.iinfo(dtype)
        if info.min <= array.min() and array.max() <= info.max:
            return array.astype(dtype)
    return array.astype("<i8")


def is_entropy_model_dir(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / MODEL_FILE).is_file()


def is_entropy_model_bytes(data: bytes) -> bool:
    return bytes(data[: len(MAGIC)]) == MAGIC
