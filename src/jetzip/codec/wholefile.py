"""Whole analysis files in a `.jz`: every branch of a tree, chunk by chunk of events.

Chunk k holds every stored branch of events [a, b). Each branch of the chunk is decomposed with
`ak.to_buffers` (after `ak.to_packed`) into flat buffers: list offsets become counts (exact),
data, index and mask buffers become columns. Integer columns equal to one already stored in
the chunk (every `Jet_*` offsets, and the `nJet` branch itself) are stored once and referenced.
The remaining columns are grouped by collection and length (the jets, their per-event counts,
the event-level scalars, ...), groups under SMALL_GROUP_BYTES merged per length, and each
group is coded by `jetzip.codec.chunk.encode_chunk`,
so quantisation, predictors, lossless coders and the decode-and-check verification are the jets
codec's. A bounded column whose coding came out larger than its lossless coding is stored
losslessly in that chunk (the bound then holds trivially).

Every group is its own container chunk section whose description names its events and
columns, and the footer indexes which sections hold which events and columns, so a reader
seeks and decodes only the sections, and inside them only the columns (and the columns their
predictors read), that a request needs.
"""

from __future__ import annotations

import base64
import functools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import xxhash
import zstandard

from jetzip import __version__
from jetzip.codec.chunk import (
    ColumnPlan,
    Encoded,
    EncodedChunk,
    decode_chunk,
    encode_chunk,
    encode_lossless_column,
    same_bits,
)
from jetzip.codec.entropy import decode_lossless
from jetzip.codec.pipeline import (
    codec_executor,
    model_for_header,
    ordered_map,
    thread_count,
    verify_chunk,
)
from jetzip.codec.policy import Policy, parse_policy
from jetzip.container import (
    BOUND_CHUNKS_VERSION,
    ContainerReader,
    ContainerWriter,
    open_reader,
)
from jetzip.entropy.columns import CONDITIONAL, is_entropy_model
from jetzip.errors import CorruptFileError, InputError, OptionError
from jetzip.events import DEFAULT_STEP_EVENTS, EventChunk, TreeInfo
from jetzip.fileutil import atomic_output
from jetzip.io.names import canonical_name
from jetzip.lazy import lazy_module
from jetzip.table import Table

ak = lazy_module("awkward")  # a flat Parquet file asks `is_whole_file_source`, needing none

#: Header `layout` of whole-file .jz files (flat jets files have none).
LAYOUT = "events"
#: Float dtypes the quantiser bounds (float16 is stored exactly).
_BOUNDED_DTYPES = ("float32", "float64")
_LATENT_DTYPE = "float16"  # encode_chunk's latent storage; unused without a model
#: Raw bytes under which a collection's columns share a section with others of their length.
SMALL_GROUP_BYTES = 16_384
#: Rows up to which a section's exact columns of one dtype are coded as one stack.
STACK_MAX_ROWS = 256
#: The one container part of a section: the codec's parts joined (their list is packed).
_JOINED_PART = "parts"


# ---------------------------------------------------------------------- decomposition
@dataclass(frozen=True)
class _Buffer:
    """One buffer of a branch: its `ak.to_buffers` key, column id, stored dtype and role."""

    key: str
    id: str
    dtype: str
    role: str  # "counts" (list offsets, stored as differences) or to_buffers' role


def _branch_layouts(arrays: ak.Array) -> dict[str, ak.contents.Content]:
    """Each branch's layout: taken from the record directly (a high-level `arrays[name]` per
    branch costs ~1 ms, a second per NanoAOD chunk)."""
    layout = arrays.layout
    if not isinstance(layout, ak.contents.RecordArray):  # e.g. an IndexedArray of records
        layout = ak.to_packed(arrays).layout
    return {name: layout.content(name) for name in arrays.fields}


def _decompose(
    values: ak.contents.Content,
) -> tuple[dict[str, Any], int, dict[str, np.ndarray]]:
    """A branch's form (as a dict without awkward's defaults, ~40 % of a NanoAOD catalogue),
    length and buffers, offsets turned into counts."""
    simple = _simple_buffers(values)
    if simple is not None:
        return simple
    # the layout's own to_packed: the high-level ak.to_packed costs ~0.2 ms more per branch
    form, length, buffers = ak.to_buffers(values.to_packed())
    columns = {}
    for key, buffer in buffers.items():
        array = np.asarray(buffer)
        if key.endswith("-offsets"):
            if array.size and array[0] != 0:
                raise AssertionError(f"packed offsets of {key} do not start at 0")
            array = np.diff(array)
        columns[key] = np.ascontiguousarray(array)
    return form.to_dict(verbose=False), length, columns


def _simple_buffers(
    values: ak.contents.Content,
) -> tuple[dict[str, Any], int, dict[str, np.ndarray]] | None:
    """`_decompose` of a flat or jagged branch of numbers (most branches), taken from the
    layout directly: what `to_packed` and `ak.to_buffers` give for it (a test compares them),
    at a tenth of their ~0.2 ms per branch. None for any other layout."""
    if values.parameters or not isinstance(
        values, ak.contents.ListOffsetArray | ak.contents.NumpyArray
    ):
        return None
    offsets = None
    if isinstance(values, ak.contents.ListOffsetArray):
        offsets = np.asarray(values.offsets.data)
        values = values.content
        if values.parameters or not isinstance(values, ak.contents.NumpyArray):
            return None
    data = np.asarray(values.data)
    if data.ndim != 1 or not data.dtype.isnative:
        return None
    leaf = {"class": "NumpyArray", "primitive": values.form.primitive}
    if offsets is None:
        return dict(leaf, form_key="node0"), len(data), {"node0-data": np.ascontiguousarray(data)}
    form = {"class": "ListOffsetArray", "offsets": "i64", "content": dict(leaf, form_key="node1")}
    counts = np.diff(offsets.astype(np.int64, copy=False))
    buffers = {
        "node0-offsets": counts,
        "node1-data": np.ascontiguousarray(data[offsets[0] : offsets[-1]]),
    }
    return dict(form, form_key="node0"), len(counts), buffers


def _role(key: str) -> str:
    role = key.rsplit("-", 1)[-1]
    return "counts" if role == "offsets" else role


def _collection_of(info: TreeInfo) -> dict[str, str]:
    return {m: name for name, members in info.collections.items() for m in members}


def _branch_catalogue(
    chunk: EventChunk, policy: Policy
) -> tuple[list[dict[str, Any]], dict[str, tuple[dict[str, Any], int, dict[str, np.ndarray]]]]:
    """Header entries of every branch (form, rule, columns) and the first chunk's buffers;
    the policy is resolved on the branches that hold float data."""
    collection = _collection_of(chunk.info)
    layouts = _branch_layouts(chunk.arrays)
    decomposed = {name: _decompose(layouts[name]) for name in chunk.arrays.fields}
    rules = policy.resolve(
        {
            name: any(
                k.endswith("-data") and b.dtype.name in _BOUNDED_DTYPES for k, b in d[2].items()
            )
            for name, d in decomposed.items()
        }
    )
    entries = []
    for name, (form, _, buffers) in decomposed.items():
        rule = rules.get(name)
        spec = chunk.info.branches.get(name, {})
        # only what a reader cannot derive: a column's id and role follow from the branch's
        # place and the buffer key, and absent collection, unit and rule mean none
        entry = {
            "name": name,
            "form": form,
            "type": str(layouts[name].form.type),
            "collection": collection.get(name),
            "unit": spec.get("unit"),
            "rule": None if rule is None else rule.describe(),
            "tolerance": None if rule is None else rule.tolerance.to_json(),
            "buffers": [{"key": key, "dtype": array.dtype.name} for key, array in buffers.items()],
        }
        entries.append({k: v for k, v in entry.items() if v is not None})
    return entries, decomposed


def _derived_tree(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """What the catalogue's entries say of the `TreeInfo` branch table and collections."""
    branches, collections = {}, {}
    for entry in entries:
        data = [b["dtype"] for b in entry["buffers"] if b["key"].endswith("-data")]
        branches[entry["name"]] = {
            "type": entry["type"],
            "dtype": data[0] if len(data) == 1 else None,
            "counts": None,
            "unit": entry.get("unit"),
            "collection": entry.get("collection"),
        }
        if entry.get("collection"):
            collections.setdefault(entry["collection"], []).append(entry["name"])
    return {"branches": branches, "collections": collections}


def _compact_tree(info: TreeInfo, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """`info.to_json()` without what the catalogue's entries already say (its per-branch table
    and collections were ~60 % of a NanoAOD header: 14.8 of 20.5 kB packed): per branch only
    the keys that differ, in the entries' order, and the collections only if they differ."""
    tree = info.to_json()
    derived = _derived_tree(entries)
    if list(tree["branches"]) != list(derived["branches"]):
        return tree  # another set or order of branches: kept whole
    tree["branches"] = [
        _differences(spec, derived["branches"][name]) for name, spec in tree["branches"].items()
    ]
    if tree["collections"] == derived["collections"]:
        del tree["collections"]
    return tree


def _expanded_tree(tree: Any, entries: list[dict[str, Any]]) -> Any:
    """Inverse of `_compact_tree` (a tree kept whole, or of files before it, as it is)."""
    if not isinstance(tree, dict) or not isinstance(tree.get("branches"), list):
        return tree
    derived = _derived_tree(entries)
    if len(tree["branches"]) != len(derived["branches"]):
        raise ValueError("the branch table and the catalogue disagree")
    branches = {}
    for (name, spec), differs in zip(derived["branches"].items(), tree["branches"], strict=True):
        full = {**spec, **dict(differs)}
        for key in full.pop(_ABSENT, []):
            full.pop(key)
        branches[name] = full
    return {"collections": derived["collections"], **tree, "branches": branches}


#: Key of a compact branch spec listing the derived keys its spec does not have.
_ABSENT = "~absent"


def _differences(spec: dict[str, Any], derived: dict[str, Any]) -> dict[str, Any]:
    differs = {k: v for k, v in spec.items() if k not in derived or derived[k] != v}
    absent = [k for k in derived if k not in spec]
    return {**differs, _ABSENT: absent} if absent else differs


#: Short role letters of column ids (ids appear in every section description).
_ROLE_LETTERS = {"offsets": "o", "data": "d", "index": "i", "mask": "m", "tags": "t"}


def _buffers(branch_index: int, entry: dict[str, Any]) -> list[_Buffer]:
    """A catalogue entry's buffers (older files also list each id and role)."""
    return [
        _Buffer(
            spec["key"],
            spec.get("id") or _column_id(branch_index, spec["key"]),
            spec["dtype"],
            spec.get("role") or _role(spec["key"]),
        )
        for spec in entry["buffers"]
    ]


def _column_id(branch_index: int, key: str) -> str:
    """`12.1d` for buffer `node1-data` of the 13th branch (no `:`, which part names use)."""
    node, _, role = key.rpartition("-")
    return f"{branch_index}.{node.removeprefix('node')}{_ROLE_LETTERS.get(role, role)}"


def _pack_json(obj: Any) -> str:
    """JSON, zstd-compressed, base64: the branch catalogue of a NanoAOD file is ~340 kB of
    JSON (a form and a description per branch) and ~15 kB packed; section descriptions and
    the footer's index pack the same way. Level 17, not 19: on that catalogue 0.04 s instead
    of 0.13 s (a fifth of compressing a 200-event NanoAOD file) for 1.2 kB more."""
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.b64encode(zstandard.ZstdCompressor(level=17).compress(raw)).decode()


def _unpack_json(text: str) -> Any:
    try:
        return json.loads(zstandard.ZstdDecompressor().decompress(base64.b64decode(text)))
    except (ValueError, zstandard.ZstdError):
        raise CorruptFileError("a packed description in the file is damaged") from None


def _plan(buffer: _Buffer, tolerance: dict[str, Any] | None) -> ColumnPlan:
    """Data buffers of a float dtype follow their branch's rule; everything else is exact."""
    if tolerance is not None and buffer.role == "data" and buffer.dtype in _BOUNDED_DTYPES:
        return ColumnPlan.from_json(
            {"name": buffer.id, "dtype": buffer.dtype, "kind": "bounded", "tolerance": tolerance}
        )
    return ColumnPlan(buffer.id, buffer.dtype, "lossless")


# ---------------------------------------------------------------------- entropy model
def load_entropy_model(model: Any) -> Any:
    """An entropy model, or a MODEL_DIR holding one, as whole files take it (None stays None);
    an autoencoder codes one collection as a flat table, so it is refused in one line."""
    from jetzip.entropy.model import EntropyModel, is_entropy_model_dir

    if model is None or is_entropy_model(model):
        return model
    if isinstance(model, str | os.PathLike) and is_entropy_model_dir(model):
        return EntropyModel.load(model)
    raise OptionError(
        "whole files take an entropy model (jetzip train --kind entropy); an autoencoder "
        "codes one collection: add --collection NAME to compress it as a flat table"
    )


def member_key(name: str) -> str:
    """A member's name as the jets reader names its column: `mass`, `_mass` (read with the
    prefix `Jet`) and `m` are all `m` (`jetzip.io.names.canonical_name`)."""
    return canonical_name(name.lstrip("_.:"))


def model_columns(
    model: Any, entries: list[dict[str, Any]], info: TreeInfo, source: str = "the input"
) -> tuple[str, dict[str, str]]:
    """The collection an entropy model codes and its column ids -> the model's column names.

    A model trained on one collection (`jetzip train FILE --kind entropy --collection Jet`)
    names its columns by the collection's members and records the collection: in a file that
    has it, that collection is chosen. Otherwise (a model trained before this was recorded, or
    a file without it) each collection's members whose data buffer (a list of numbers has one)
    has such a name are matched, and the collection with the most matches is chosen, the
    standard jets among equals. None matching is one line."""
    from jetzip.io.collections import pick_jets

    recorded = model.meta.get("collection")
    if not isinstance(recorded, str) or recorded not in info.collections:
        recorded = None
    by_key = {member_key(c): c for c in model.columns}
    matches: dict[str, dict[str, str]] = {}
    for index, entry in enumerate(entries):
        collection = entry.get("collection")
        data = [b for b in _buffers(index, entry) if b.role == "data"]
        if collection is None or len(data) != 1:
            continue
        column = by_key.get(member_key(member_field(collection, entry["name"])))
        if column is not None and recorded in (None, collection):
            matches.setdefault(collection, {})[data[0].id] = column
    shown = ", ".join(model.columns[:6]) + (", ..." if len(model.columns) > 6 else "")
    if recorded is not None and not matches:
        raise InputError(
            f"the entropy model was trained on collection {recorded}, whose members in {source} "
            f"match none of its columns ({shown})"
        )
    if not matches:
        known = ", ".join(info.collections) or "none"
        raise InputError(
            f"the entropy model's columns ({shown}) match no collection of {source} "
            f"(collections: {known})"
        )
    most = max(len(m) for m in matches.values())
    tied = {c: info.collections.get(c, []) for c, m in matches.items() if len(m) == most}
    jets = pick_jets(tied, set(tied)) if len(tied) > 1 else None
    chosen = jets.collection if jets is not None else next(iter(tied))
    return chosen, matches[chosen]


def _reads(desc: dict[str, Any]) -> list[str]:
    """The columns a coded column's decoding reads: its ratio predictor's source or the
    entropy model's context (in a coded description; the file leaves it to the model)."""
    predictor = str(desc.get("predictor", "none"))
    context = desc.get("context") if _conditional(desc) else []
    context = context if isinstance(context, list) else []  # decode_chunk refuses the others
    ratio = [predictor.removeprefix("ratio:")] if predictor.startswith("ratio:") else []
    return ratio + [str(c) for c in context]


# ---------------------------------------------------------------------- compression
@dataclass
class _Group:
    """Columns of one chunk that share a length and a collection, coded as one section."""

    key: str
    columns: dict[str, np.ndarray]
    plans: list[ColumnPlan]
    aliases: dict[str, str]


def _chunk_groups(
    chunk: EventChunk,
    entries: list[dict[str, Any]],
    decomposed: dict[str, tuple[dict[str, Any], int, dict[str, np.ndarray]]] | None,
) -> tuple[list[_Group], dict[str, dict[str, Any]]]:
    """The chunk's columns grouped for coding, and forms that differ from the header's."""
    forms: dict[str, dict[str, Any]] = {}
    stored: dict[tuple[int, int], list[str]] = {}  # (length, hash) -> ids of integer columns
    columns: dict[str, np.ndarray] = {}
    aliases: dict[str, str] = {}
    groups: dict[tuple[str, int], _Group] = {}
    layouts = _branch_layouts(chunk.arrays) if decomposed is None else {}
    for index, entry in enumerate(entries):
        name = entry["name"]
        if decomposed is not None:
            form, _, buffers = decomposed[name]
        else:
            form, _, buffers = _decompose(layouts[name])
        if form != entry["form"]:
            forms[name] = form
        for buffer in _buffers(index, entry):
            values = buffers.get(buffer.key)
            if values is None or values.dtype.name != buffer.dtype:
                raise InputError(
                    f"branch {name!r} changes type between chunks of events "
                    f"(from {entry['type']} to {chunk.arrays[name].type.content})"
                )
            if values.dtype.kind in "iu" and values.size:
                target = _same_integers(buffer.id, values, stored, columns)
                if target is not None:
                    aliases[buffer.id] = target
                    continue
            columns[buffer.id] = values
            key = (entry.get("collection") or "", len(values))
            group = groups.setdefault(key, _Group(f"{key[0]}[{key[1]}]", {}, [], {}))
            group.columns[buffer.id] = values
            group.plans.append(_plan(buffer, entry.get("tolerance")))
    merged = _small_groups_merged({k: g for k, g in groups.items() if k[1]})
    owner = {cid: g for g in merged for cid in g.columns}
    for alias, target in aliases.items():
        owner[target].aliases[alias] = target
    return merged, forms


def _small_groups_merged(groups: dict[tuple[str, int], _Group]) -> list[_Group]:
    """Groups of collections of under SMALL_GROUP_BYTES merged per length (`*[n]`): each
    section costs ~400 B of framing, index and description, more than the data of a small
    collection (a 10-event NanoAOD chunk has ~50 groups); big collections keep their sections
    (their values and their counts), so a reader of one reads only its bytes."""
    sizes: dict[str, int] = {}
    for (collection, _), group in groups.items():
        sizes[collection] = sizes.get(collection, 0) + sum(v.nbytes for v in group.columns.values())
    out: list[_Group] = []
    shared: dict[int, _Group] = {}
    for (collection, length), group in groups.items():
        if sizes[collection] >= SMALL_GROUP_BYTES:
            out.append(group)
            continue
        if length not in shared:
            shared[length] = _Group(f"*[{length}]", {}, [], {})
            out.append(shared[length])
        shared[length].columns.update(group.columns)
        shared[length].plans.extend(group.plans)
    return out


def _same_integers(
    cid: str,
    values: np.ndarray,
    stored: dict[tuple[int, int], list[str]],
    columns: dict[str, np.ndarray],
) -> str | None:
    """An already stored integer column with the same values (any integer dtype), else None,
    in which case `cid` is registered as stored."""
    as_int64 = values.astype(np.int64, copy=False)
    key = (len(values), xxhash.xxh64_intdigest(as_int64.tobytes()))
    for other in stored.get(key, []):
        if np.array_equal(columns[other].astype(np.int64, copy=False), as_int64):
            return other
    stored.setdefault(key, []).append(cid)
    return None


def _encode_group(
    group: _Group, executor: Executor, coder: Any = None, model_cost: int = 0
) -> tuple[EncodedChunk, list[ColumnPlan]]:
    """encode_chunk on the group, no bounded column stored larger than its lossless coding;
    the entropy model `coder` (under the group's column ids) on offer as encode_chunk offers it.

    A column whose values sit on a mantissa grid too coarse for its bound to merge two of them
    (NanoAOD's rounded floats under the preset) is coded losslessly at once: quantisation
    could not lower its entropy. Every other bounded column is also coded losslessly and the
    smaller kept: a larger one's lossless coding is swapped in, or, when another column's
    predictor reads its decoded values, the group is coded again with it lossless."""
    plans = [_on_coarse_grid(p, group.columns[p.name]) for p in group.plans]
    exact: dict[str, Future[Encoded]] = {}
    while True:
        chunk = encode_chunk(group.columns, None, plans, coder, _LATENT_DTYPE, executor, model_cost)
        bounded = [p.name for p in plans if p.kind == "bounded"]
        for name in bounded:
            if name not in exact:
                exact[name] = executor.submit(encode_lossless_column, name, group.columns[name])
        sizes = _part_sizes(chunk.parts)
        worse = {n for n in bounded if sizes.get(n, 0) > _part_sizes(exact[n].result()[1])[n]}
        if not worse:
            return chunk, plans
        plans = [_lossless(p) if p.name in worse else p for p in plans]
        columns = chunk.description["columns"]
        read = {c for n in bounded if n not in worse for c in _reads(columns[n])}
        if not read & worse:
            return _swapped(chunk, {n: exact[n].result() for n in worse}), plans


def _lossless(plan: ColumnPlan) -> ColumnPlan:
    return replace(plan, kind="lossless", tolerance=None)


def _on_coarse_grid(plan: ColumnPlan, values: np.ndarray) -> ColumnPlan:
    """`plan`, made lossless when its relative bound r is at most 2^-(m+2) for values of m
    significant mantissa bits: neighbours x < y on that grid are at least 2^-(m+1) |y| apart,
    more than the r (|x| + |y|) that one quantised value can be from both, so quantising maps
    distinct values to distinct codes with the same frequencies (no fewer bits)."""
    tolerance = plan.tolerance
    if plan.kind != "bounded" or tolerance is None or not tolerance.relative or not values.size:
        return plan
    width = np.finfo(values.dtype).nmant
    unsigned = np.dtype(f"u{values.dtype.itemsize}")
    mantissas = int(np.bitwise_or.reduce(values.view(unsigned) & ((1 << width) - 1)))
    significant = width - ((mantissas & -mantissas).bit_length() - 1) if mantissas else 0
    return _lossless(plan) if tolerance.value <= 2.0 ** -(significant + 2) else plan


def _part_sizes(parts: list[tuple[str, bytes]]) -> dict[str, int]:
    """Bytes per column of coded parts (`column:stream` names)."""
    sizes: dict[str, int] = {}
    for name, data in parts:
        owner = name.split(":", 1)[0]
        sizes[owner] = sizes.get(owner, 0) + len(data)
    return sizes


def _swapped(chunk: EncodedChunk, exact: dict[str, Encoded]) -> EncodedChunk:
    """The chunk with the columns of `exact` stored by those lossless encodings instead (no
    other column reads their decoded values); the parts keep the columns' order."""
    description = dict(chunk.description)
    description["columns"] = {
        name: dict(exact[name][0], predictor="none") if name in exact else desc
        for name, desc in chunk.description["columns"].items()
    }
    parts: list[tuple[str, bytes]] = []
    for name, data in chunk.parts:
        owner = name.split(":", 1)[0]
        if owner not in exact:
            parts.append((name, data))
        elif not parts or parts[-1][0].split(":", 1)[0] != owner:
            parts.extend(exact[owner][1])
    checked = {name: values for name, values in chunk.checked.items() if name not in exact}
    return replace(chunk, description=description, parts=parts, checked=checked)


def _verified(
    group: _Group, executor: Executor, coder: Any = None, model_cost: int = 0
) -> tuple[EncodedChunk, list[Any], dict[str, Any]]:
    """The group coded, decoded again as decompression will, and checked (see verify_chunk);
    the statistics per column (a stack's bytes shared among its members) and the stacks. The
    entropy model `coder` is offered to a group longer than STACK_MAX_ROWS that holds a column
    it codes.

    A group of at most STACK_MAX_ROWS rows codes its exact columns, and the bounded ones that
    came out no smaller than their lossless coding, joined end to end per dtype (stack
    `s.DTYPE`): a coded stream has a frame of its own, more than a tiny column's data
    (NanoAOD's 441 HLT bools of 200 events: 10.1 kB as columns, 1.2 kB stacked). Longer
    columns code better alone, and a reader of one of them decodes only it."""
    length = len(next(iter(group.columns.values())))
    if length > STACK_MAX_ROWS:
        if coder is not None and not coder.models.keys() & group.columns.keys():
            coder = None
        chunk, plans = _encode_group(group, executor, coder, model_cost)
        if "entropy_model" not in chunk.description:
            coder = None
        return chunk, verify_chunk(chunk, Table(group.columns), plans, coder, executor), {}
    bounded = [p for p in group.plans if p.kind == "bounded"]
    exact = {p.name for p in group.plans if p.kind != "bounded"}
    chunk, results = EncodedChunk({"n_rows": length, "columns": {}}, [], {}), []
    if bounded:
        columns = {p.name: group.columns[p.name] for p in bounded}
        chunk, plans = _encode_group(_Group(group.key, columns, bounded, {}), executor)
        kept = [q for q in plans if q.kind == "bounded"]
        exact |= {q.name for q in plans if q.kind != "bounded"}  # exact or never smaller
        chunk = _without(chunk, exact)
        if kept:
            results = verify_chunk(chunk, Table(columns), kept, None, executor)
    joined: dict[str, list[str]] = {}
    for plan in group.plans:  # in the group's order
        if plan.name in exact:
            joined.setdefault(f"s.{group.columns[plan.name].dtype.name}", []).append(plan.name)
    stacks = {
        sid: np.concatenate([group.columns[m] for m in members]) for sid, members in joined.items()
    }
    coded = {sid: executor.submit(encode_lossless_column, sid, v) for sid, v in stacks.items()}
    described = {}
    for sid, values in stacks.items():
        desc, parts = coded[sid].result()
        restored = decode_lossless(desc["method"], parts[0][1], values.dtype.name, values.size)
        if not same_bits(values, restored):
            raise AssertionError(f"stacked column {sid!r} did not round-trip")
        chunk.parts.extend(parts)
        described[sid] = {"members": joined[sid], "method": desc["method"]}
        share, rest = divmod(len(parts[0][1]), len(joined[sid]))
        results += [(m, desc, share + (i < rest), {}) for i, m in enumerate(joined[sid])]
    return chunk, results, described


def _without(chunk: EncodedChunk, names: set[str]) -> EncodedChunk:
    """The chunk without the columns `names` (none of which another column's predictor reads:
    predictors read bounded columns only)."""
    description = dict(chunk.description)
    description["columns"] = {
        n: d for n, d in chunk.description["columns"].items() if n not in names
    }
    parts = [(n, data) for n, data in chunk.parts if n.split(":", 1)[0] not in names]
    checked = {n: v for n, v in chunk.checked.items() if n not in names}
    return replace(chunk, description=description, parts=parts, checked=checked)


class _Totals:
    """Per-column statistics summed over sections, for the footer and `jetzip info`."""

    def __init__(self) -> None:
        self.columns: dict[str, dict[str, Any]] = {}

    def add(self, name: str, desc: dict[str, Any], n_bytes: int, errors: dict[str, Any]) -> None:
        t = self.columns.setdefault(name, {})  # a reference in earlier chunks has only some
        t["bytes"] = t.get("bytes", 0) + n_bytes
        t["n_exceptions"] = t.get("n_exceptions", 0) + int(desc.get("n_exceptions", 0))
        for key in ("max_abs_error", "max_rel_error"):
            t[key] = max(t.get(key, 0.0), float(errors.get(key, 0.0)))
        encoding = str(desc.get("encoding"))
        t[encoding] = t.get(encoding, 0) + 1

    def to_json(self) -> dict[str, dict[str, Any]]:
        """The statistics without their zeros (readers default to 0): a NanoAOD footer's
        ~1,000 columns are mostly exact, with no errors or exceptions to record."""
        return {name: {k: v for k, v in t.items() if v} for name, t in self.columns.items()}


def compress_events(
    chunks: Iterable[EventChunk],
    path: str | os.PathLike[str],
    *,
    policy: Policy | None = None,
    source: dict[str, Any] | None = None,
    threads: int | None = None,
    model: Any = None,
    model_ref: bool = False,
) -> dict[str, Any]:
    """Compress consecutive event chunks (`jetzip.events.iter_events`) into one `.jz` file.

    The policy is resolved once, on the first chunk's branches, into a branch -> rule map that
    the header records. Sections (one per group of a chunk) are coded on `threads` threads;
    the bytes do not depend on it. An entropy model (or its MODEL_DIR) is offered to the
    collection it was trained on (`model_columns`), in each section only where it makes the
    section smaller by more than its own bytes (nothing charged with `model_ref`, which
    stores only its hash). Returns `describe_events(path)`."""
    policy = policy or parse_policy()
    model = load_entropy_model(model)
    iterator = iter(chunks)
    first = next(iterator, None)
    if first is None:
        raise InputError("the input holds no events")
    entries, decomposed = _branch_catalogue(first, policy)
    coder, model_bytes, model_cost, renamed = None, None, 0, []
    if model is not None:
        where = (source or {}).get("path") or "the input"
        collection, matched = model_columns(model, entries, first.info, where)
        coder = model.renamed(matched)
        ids = {name: cid for cid, name in matched.items() if cid in coder.models}
        renamed = [ids.get(name) for name in model.columns]
        model_bytes = model.to_bytes()
        model_cost = 0 if model_ref else len(model_bytes)
    header = {
        "jetzip_version": __version__,
        "layout": LAYOUT,
        "mode": "lossless" if all("rule" not in e for e in entries) else "bounded",
        "policy": policy.describe(),
        "catalogue": _pack_json({"tree": _compact_tree(first.info, entries), "branches": entries}),
        "source": dict(source) if source else None,
        "model": None
        if model is None
        else {
            "kind": "entropy",
            "sha256": model.content_hash(),
            "embedded": not model_ref,
            "bytes": len(model_bytes),
            "n_parameters": int(model.n_parameters),
            "spec": model.spec,
            "collection": collection,
        },
    }
    totals = _Totals()
    event_chunks: list[dict[str, Any]] = []
    group_index: dict[tuple[str, ...], int] = {}
    described: list[dict[str, Any]] = []  # each section's codec description, in file order
    expected = first.first_event
    n_sections = 0
    model_used = False

    def sections() -> Iterator[tuple[dict[str, Any], _Group]]:
        nonlocal expected
        for k, chunk in enumerate(_chain(first, iterator)):
            if chunk.first_event != expected:
                raise InputError(
                    f"event chunks are not consecutive: expected event {expected}, "
                    f"got {chunk.first_event}"
                )
            if list(chunk.arrays.fields) != [e["name"] for e in entries]:
                raise InputError("a chunk of events has other branches than the first")
            groups, forms = _chunk_groups(chunk, entries, decomposed if k == 0 else None)
            start, stop = (
                expected - first.first_event,
                expected - first.first_event + chunk.n_events,
            )
            expected += chunk.n_events
            record = {"start": start, "stop": stop, "sections": [], "forms": forms}
            event_chunks.append(record)
            for group in groups:
                yield record, group

    executor = codec_executor(1)
    with atomic_output(path) as tmp, tmp.open("wb") as stream:
        writer = ContainerWriter(stream, header, None if model_ref else model_bytes)

        def code(item: tuple[dict[str, Any], _Group]) -> tuple[Any, ...]:
            return (*item, *_verified(item[1], executor, coder, model_cost))

        coded = ordered_map(code, sections(), thread_count(threads))
        for record, group, encoded, results, stacked in coded:
            # the codec's description and part list (~110 B of JSON per column) go to the
            # footer, packed once for the whole file (~2.5x smaller than packed per section)
            stored = _without_default_predictors(encoded.stored_description())
            described.append(
                dict(
                    stored,
                    aliases=group.aliases,
                    split=[[name, len(data)] for name, data in encoded.parts],
                    **({"stacked": stacked} if stacked else {}),
                )
            )
            description = {
                "n_rows": stored["n_rows"],
                "events": [record["start"], record["stop"]],
                "group": group.key,
            }
            joined = [(_JOINED_PART, b"".join(data for _, data in encoded.parts))]
            uses_model = "entropy_model" in stored
            writer.write_chunk(description, joined, uses_model)
            model_used = model_used or uses_model
            ids = (*group.columns, *group.aliases)  # a reader seeks the sections it needs
            record["sections"].append(group_index.setdefault(ids, len(group_index)))
            n_sections += 1
            for result in results:
                totals.add(*result)
            for alias in group.aliases:
                totals.columns.setdefault(alias, {"bytes": 0, "alias": 0})["alias"] = 1
        n_events = expected - first.first_event
        writer.finish(
            {
                "n_rows": n_events,
                "n_events": n_events,
                "n_chunks": n_sections,
                "index": _pack_json(
                    {
                        "event_chunks": event_chunks,
                        "groups": [list(ids) for ids in group_index],
                        "columns": totals.to_json(),
                        "sections": described,
                        # if a section uses the model: the id of each of its columns (None:
                        # not coded), in its order (half the bytes of an id -> name map)
                        **({"model_columns": renamed} if model_used else {}),
                    }
                ),
            }
        )
    return describe_events(path)


def _without_default_predictors(description: dict[str, Any]) -> dict[str, Any]:
    """A section description without `"predictor": "none"` entries, which decoding assumes,
    nor the context lists of model-coded columns, which the model says (`_context`) (a NanoAOD
    file has ~1,200 columns, so every byte per column description counts)."""
    columns = {
        name: {
            k: v
            for k, v in desc.items()
            if not (k == "predictor" and v == "none") and k != "context"
        }
        for name, desc in description["columns"].items()
    }
    return dict(description, columns=columns)


def _conditional(desc: dict[str, Any]) -> bool:
    return CONDITIONAL in (desc.get("predictor"), desc.get("encoding"))


def _chain(first: EventChunk, rest: Iterator[EventChunk]) -> Iterator[EventChunk]:
    yield first
    yield from rest


def compress_source(
    input_path: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    tolerance: str | None = None,
    precision: str | None = None,
    tree: str | None = None,
    branches: str | Sequence[str] | None = None,
    step_events: int = DEFAULT_STEP_EVENTS,
    skip_unsupported: bool = False,
    threads: int | None = None,
    model: Any = None,
    model_ref: bool = False,
) -> dict[str, Any]:
    """Compress a whole ROOT tree or event Parquet file (every branch, or `branches` globs);
    `model`, `model_ref` as for `compress_events`."""
    from jetzip.events import iter_events

    policy = parse_policy(tolerance, precision)  # option errors before any reading
    model = load_entropy_model(model)
    input_path = Path(input_path)
    chunks = iter_events(
        input_path,
        tree=tree,
        branches=branches,
        step_events=step_events,
        skip_unsupported=skip_unsupported,
        measure_input=True,
    )
    source = {
        "path": input_path.name,
        "bytes": input_path.stat().st_size if input_path.is_file() else None,
    }
    first = next(chunks, None)
    if first is not None:
        source.update(_stored_share(input_path, first, every_branch=branches is None))
        chunks = _chain(first, chunks)
    return compress_events(
        chunks,
        path,
        policy=policy,
        source=source,
        threads=threads,
        model=model,
        model_ref=model_ref,
    )


def _stored_share(input_path: Path, first: EventChunk, every_branch: bool) -> dict[str, Any]:
    """How much of the input a file stores, for honest ratios: `whole` when it is every
    branch of the input's only tree; `stored_bytes`, the input's own compressed bytes of the
    stored branches (None where the metadata cannot tell; see `jetzip.input_sizes`). A ROOT
    reader measured them while it read (`EventChunk.input_share`); Parquet metadata is read."""
    from jetzip.input_sizes import stored_input_bytes, trees_in

    skipped = any(note.startswith("left out (--skip-unsupported)") for note in first.info.notes)
    if first.input_share is not None:
        share, trees = first.input_share["stored"], first.input_share["trees"]
    else:
        names = list(first.arrays.fields)
        share = stored_input_bytes(input_path, first.info.tree, first.info.kind, names)
        trees = trees_in(input_path)
    return {
        "whole": every_branch and not skipped and trees == 1,
        "stored_bytes": None if share is None else share["bytes"],
        "stored_bytes_estimated": bool(share and share["estimated"]),
    }


def is_whole_file_source(path: str | os.PathLike[str]) -> bool:
    """Whether an input is compressed as a whole file by default: ROOT files, and Parquet
    files with list columns (one row per event); flat tables keep the jets workflow."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".root":
        return True
    if suffix not in (".parquet", ".pq") or not path.is_file():
        return False
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read {path} as parquet: {exc}") from None
    return any(pa.types.is_list(f.type) or pa.types.is_large_list(f.type) for f in schema)


# ---------------------------------------------------------------------- reading
def is_events_file(header: dict[str, Any]) -> bool:
    """Whether a .jz header is a whole-file one (else a flat jets table)."""
    return header.get("layout") == LAYOUT


def is_whole_file_jz(path: str | os.PathLike[str]) -> bool:
    """Whether the `.jz` file at `path` holds whole events (else a flat jets table)."""
    stream, reader = open_reader(path)
    with stream:
        return is_events_file(reader.header)


class EventsReader:
    """Reads the branches and events asked for from a whole-file `.jz`, decoding nothing else.

    A request for part of the file seeks the sections holding it (footer indexes) and reads
    nothing else; a request for everything reads in file order with the whole-file checks.
    Every section read is verified, and inside one only the requested columns and those their
    predictors (or the entropy model) read are decoded."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        reader: ContainerReader | None = None,
        model: Any = None,
    ) -> None:
        """`reader`: the file's container reader when the caller has opened it already (its
        header is not read again); `model`: the entropy model (or MODEL_DIR) of a file written
        with `model_ref`, which holds only its hash."""
        self.path = Path(path)
        self._model = model
        self._coder: Any = None
        if reader is None:
            stream, reader = open_reader(self.path)
            stream.close()
        self.header = reader.header
        self.version = reader.version
        self.header_size = reader.header_size
        if not is_events_file(self.header):
            raise InputError(f"{self.path} holds a flat table, not whole events")
        try:
            catalogue = _unpack_json(self.header["catalogue"])
            self.info = TreeInfo.from_json(_expanded_tree(catalogue["tree"], catalogue["branches"]))
            self.branches = {e["name"]: e for e in catalogue["branches"]}
            self.buffers = {
                e["name"]: _buffers(index, e) for index, e in enumerate(catalogue["branches"])
            }
            self.plans = {
                b.id: _plan(b, e.get("tolerance"))
                for name, e in self.branches.items()
                for b in self.buffers[name]
            }
        except (KeyError, TypeError, ValueError):
            raise CorruptFileError(f"{self.path} has an incomplete header") from None
        self._footer: dict[str, Any] | None = None
        self._index: dict[str, Any] | None = None

    @property
    def footer(self) -> dict[str, Any]:
        """The footer (event count, chunk index, statistics), sought from the trailer (files
        before format 4: the whole file read once)."""
        if self._footer is None:
            stream, reader = open_reader(self.path)
            with stream:
                if self.version >= BOUND_CHUNKS_VERSION:
                    self._footer = reader.read_footer()  # sought: no chunk is read
                else:
                    for _ in reader.chunks():
                        pass
                    self._footer = reader.footer or {}
        return self._footer

    @property
    def num_entries(self) -> int:
        return int(self.footer.get("n_events", 0))

    @property
    def index(self) -> dict[str, Any]:
        """The footer's packed index: event chunks, section groups, column statistics and
        (files since the descriptions moved there) each section's codec description."""
        if self._index is None:
            index = _unpack_json(self.footer.get("index", ""))
            if not isinstance(index, dict):
                raise CorruptFileError(f"{self.path} has a damaged chunk index")
            self._index = index
        return self._index

    def iter_chunks(
        self,
        names: Sequence[str] | None = None,
        entry_start: int = 0,
        entry_stop: int | None = None,
        threads: int | None = None,
    ) -> Iterator[EventChunk]:
        """The stored chunks restricted to `names` (default all) and events [start, stop)."""
        names = list(self.branches) if names is None else list(names)
        unknown = [n for n in names if n not in self.branches]
        if unknown:
            raise InputError(f"no branch {', '.join(map(repr, unknown))} in {self.path.name}")
        needed = {b.id for n in names for b in self.buffers[n]}
        stop = float("inf") if entry_stop is None else entry_stop
        info = self.info.select(names)
        with codec_executor(threads) as executor:
            sections = self._sections_to_seek(needed, entry_start, stop)
            chunks = (
                self._read_in_order(needed, entry_start, stop, executor)
                if sections is None
                else self._read_sought(sections, needed, executor)
            )
            for events, decoded in chunks:
                yield self._assemble(names, events, decoded, info, entry_start, stop)

    def _read_in_order(
        self, needed: set[str], entry_start: int, stop: float, executor: Executor
    ) -> Iterator[tuple[tuple[int, int], dict[str, np.ndarray]]]:
        """Every section in file order (each checksum, the chunk index and the footer checked
        against what was read), decoding those of the events [entry_start, stop)."""
        stream, reader = open_reader(self.path)
        with stream:
            current: tuple[int, int] | None = None
            decoded: dict[str, np.ndarray] = {}
            for position, (description, parts, _size) in enumerate(reader.chunks()):
                events = self._events_of(description)
                if events != current:
                    if current is not None and current[1] > entry_start and current[0] < stop:
                        yield current, decoded
                    current, decoded = events, {}
                if events[1] <= entry_start or events[0] >= stop:
                    continue
                description = self._described(description, position)
                decoded.update(
                    self._decode_section(
                        description,
                        parts,
                        needed,
                        executor,
                        functools.partial(self._coder_for, description, lambda: reader.model_bytes),
                    )
                )
            if current is not None and current[1] > entry_start and current[0] < stop:
                yield current, decoded
            self._footer = reader.footer or {}

    def _events_of(self, description: dict[str, Any]) -> tuple[int, int]:
        events = tuple(description.get("events", ()))
        if len(events) != 2:
            raise CorruptFileError(f"{self.path} has a section without its events")
        return events

    def _sections_to_seek(
        self, needed: set[str], entry_start: int, stop: float
    ) -> list[tuple[tuple[int, int], list[tuple[int, dict[str, Any], int]]]] | None:
        """Per event chunk of [entry_start, stop): its events and the (position, index entry,
        first row) of the sections holding a needed column; None when the request is the whole
        file or the file cannot be sought (read in order then, with the whole-file checks)."""
        whole = needed == set(self.plans) and entry_start <= 0 and stop >= self.num_entries
        if whole or self.version < BOUND_CHUNKS_VERSION:
            return None
        try:
            index = self.index
            groups = [set(ids) for ids in index["groups"]]
            listed = self.footer["chunk_index"]
            first_rows = np.cumsum([0] + [int(c["n_rows"]) for c in listed]).tolist()
            plan, position = [], 0
            for record in index["event_chunks"]:
                events = (int(record["start"]), int(record["stop"]))
                positions = range(position, position + len(record["sections"]))
                position += len(record["sections"])
                if events[1] <= entry_start or events[0] >= stop:
                    continue
                held = [groups[g] for g in record["sections"]]
                # files before aliases were listed with their groups: every section
                everywhere = not needed <= set().union(*held)
                plan.append(
                    (
                        events,
                        [
                            (p, listed[p], first_rows[p])
                            for p, ids in zip(positions, held, strict=True)
                            if everywhere or needed & ids
                        ],
                    )
                )
            if position != len(listed):
                raise ValueError("the event chunks and the chunk index disagree")
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            raise CorruptFileError(f"{self.path} has a damaged chunk index") from None
        return plan

    def _read_sought(
        self,
        sections: list[tuple[tuple[int, int], list[tuple[int, dict[str, Any], int]]]],
        needed: set[str],
        executor: Executor,
    ) -> Iterator[tuple[tuple[int, int], dict[str, np.ndarray]]]:
        """The planned sections only, each sought and checked (checksum, index entry, place)."""
        stream, reader = open_reader(self.path)
        with stream:
            for events, places in sections:
                decoded: dict[str, np.ndarray] = {}
                for position, entry, first_row in places:
                    description, parts = reader.read_chunk(position, entry, first_row)
                    if self._events_of(description) != events:
                        raise CorruptFileError(
                            f"{self.path} is damaged (section {position} holds other events "
                            "than its index says)"
                        )
                    description = self._described(description, position)
                    coder_of = functools.partial(self._coder_for, description, self._embedded_model)
                    decoded.update(
                        self._decode_section(description, parts, needed, executor, coder_of)
                    )
                yield events, decoded

    def _described(self, description: dict[str, Any], position: int) -> dict[str, Any]:
        """Section `position`'s description with its codec description: from the footer's
        index, or packed in the section itself (files before)."""
        if "packed" in description:
            return dict(_unpack_json(description["packed"]), **description)
        sections = self.index.get("sections")
        if sections is None:
            return description
        if not (isinstance(sections, list) and position < len(sections)) or not isinstance(
            sections[position], dict
        ):
            raise CorruptFileError(f"{self.path} has no description of section {position}")
        return dict(sections[position], **description)

    def _coder_for(self, description: dict[str, Any], embedded: Callable[[], bytes | None]) -> Any:
        """The entropy model under this file's column ids for a section coded with it (None
        for the others), loaded at the first such section: the embedded one (`embedded` gives
        its bytes), or the one given for a file that references it; its hash must be the
        header's, and the section's."""
        digest = description.get("entropy_model")
        if digest is None:
            return None
        if self._coder is None:
            info = self.header.get("model")
            if not isinstance(info, dict) or info.get("sha256") != digest:
                raise CorruptFileError(f"{self.path} has a section coded with a model it lacks")
            if not isinstance(info.get("embedded"), bool):
                raise CorruptFileError(f"{self.path} has a damaged model entry")
            trained = model_for_header(
                self.header, embedded() if info["embedded"] else None, self._model
            )
            ids = self.index.get("model_columns")
            if (
                not is_entropy_model(trained)
                or not isinstance(ids, list)
                or len(ids) != len(trained.columns)
                or any(i is not None and (type(i) is not str or i not in self.plans) for i in ids)
                or len({i for i in ids if i is not None}) != len(ids) - ids.count(None)
            ):
                raise CorruptFileError(f"{self.path} names its entropy model's columns wrongly")
            named = zip(ids, trained.columns, strict=True)
            self._coder = trained.renamed({i: name for i, name in named if i is not None})
        elif digest != self._coder.content_hash():
            raise CorruptFileError(f"{self.path} has a section coded with a model it lacks")
        return self._coder

    def _embedded_model(self) -> bytes | None:
        """The embedded model's bytes, read in file order up to the first section that needs
        it (a reader that seeks does not pass the model's place otherwise)."""
        stream, reader = open_reader(self.path)
        with stream:
            for _ in reader.chunks():
                if reader.model_bytes is not None:
                    break
            return reader.model_bytes

    def _decode_section(
        self,
        description: dict[str, Any],
        parts: dict[str, bytes],
        needed: set[str],
        executor: Executor,
        coder_of: Callable[[], Any] = lambda: None,
    ) -> dict[str, np.ndarray]:
        """The `needed` columns a section holds; `coder_of` gives the entropy model (under the
        file's column ids) of a section coded with it, called only when a column to decode
        was coded in its order."""
        if "split" in description:
            parts = self._split(description["split"], parts.get(_JOINED_PART, b""))
        columns = dict(description.get("columns", {}))
        aliases = {a: t for a, t in dict(description.get("aliases", {})).items() if a in needed}
        stacks = self._stacks(description.get("stacked", {}))
        member_of = {m: sid for sid, (members, _) in stacks.items() for m in members}
        wanted = {c for c in columns if c in needed} | set(aliases.values())
        out = self._unstacked(
            stacks, {member_of[c] for c in wanted | needed if c in member_of}, description, parts
        )
        wanted -= out.keys()
        if not wanted:
            return self._with_aliases({c: v for c, v in out.items() if c in needed}, aliases, out)
        closure, todo = set(), list(wanted)
        while todo:  # the columns the wanted ones' predictors read
            name = todo.pop()
            if name in closure:
                continue
            if name not in columns or name not in self.plans:
                raise CorruptFileError(f"{self.path} has a section lacking column {name!r}")
            closure.add(name)
            if _conditional(columns[name]) and "context" not in columns[name]:
                columns[name] = dict(columns[name], context=self._context(name, coder_of))
            todo.extend(_reads(columns[name]))
        # a section coded with the model decodes in its order, but columns stored exactly
        # read no other column: the model is loaded only for the others
        coded = [c for c in closure if columns[c].get("encoding") != "lossless"]
        coder = coder_of() if coded and "entropy_model" in description else None
        # in coding order (the header's; descriptions are stored with sorted keys), each
        # column as this chunk stored it (a bounded one may have fallen back to lossless)
        plans = [
            replace(plan, kind="lossless", tolerance=None)
            if columns[c].get("encoding") == "lossless"
            else plan
            for c, plan in self.plans.items()
            if c in closure
        ]
        description = dict(description, columns=columns)
        values, _ = decode_chunk(description, parts, plans, False, coder, executor)
        values.update(out)
        return self._with_aliases({c: v for c, v in values.items() if c in needed}, aliases, values)

    def _context(self, name: str, coder_of: Callable[[], Any]) -> list[str]:
        """The columns the entropy model codes column `name` from (the file leaves them out)."""
        coder = coder_of()
        column = None if coder is None else coder.models.get(name)
        if column is None:
            raise CorruptFileError(
                f"{self.path} has column {name!r} coded by a model that cannot decode it"
            )
        return list(column.context)

    def _with_aliases(
        self, out: dict[str, np.ndarray], aliases: dict[str, str], values: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        for alias, target in aliases.items():
            out[alias] = values[target].astype(self.plans[alias].dtype)
        return out

    def _unstacked(
        self,
        stacks: dict[str, tuple[list[str], str]],
        wanted: set[str],
        description: dict[str, Any],
        parts: dict[str, bytes],
    ) -> dict[str, np.ndarray]:
        """The members of the `wanted` stacks of a section, decoded and split."""
        out: dict[str, np.ndarray] = {}
        rows = description.get("n_rows")
        for sid in wanted:
            members, method = stacks[sid]
            if type(rows) is not int or rows < 0:
                raise CorruptFileError(f"{self.path} has a section without its row count")
            dtype = self.plans[members[0]].dtype
            data = parts.get(f"{sid}:values")
            if data is None:
                raise CorruptFileError(f"{self.path} has a section lacking column {sid!r}")
            values = decode_lossless(method, data, dtype, rows * len(members))
            out.update(zip(members, np.split(values, len(members)), strict=True))
        return out

    def _stacks(self, stacked: Any) -> dict[str, tuple[list[str], str]]:
        """A section's stacks (`s.DTYPE` -> its members and lossless method), checked: members
        are columns of the catalogue (stored exactly, whatever their rule), of the stack's
        dtype, each in one stack."""
        try:
            stacks = {
                str(sid): (list(spec["members"]), str(spec["method"]))
                for sid, spec in dict(stacked).items()
            }
            seen: set[str] = set()
            for sid, (members, _) in stacks.items():
                plans = [self.plans[m] for m in members]
                if not plans or any(f"s.{p.dtype}" != sid for p in plans):
                    raise ValueError(sid)
                if seen & set(members) or len(set(members)) != len(members):
                    raise ValueError(sid)
                seen.update(members)
        except (TypeError, ValueError, KeyError):
            raise CorruptFileError(f"{self.path} has a damaged list of stacked columns") from None
        return stacks

    def _split(self, split: Any, joined: bytes) -> dict[str, bytes]:
        """The codec's parts of a section stored joined (`split`: [[name, bytes], ...])."""
        parts, position = {}, 0
        try:
            for name, length in split:
                if not isinstance(name, str) or type(length) is not int or length < 0:
                    raise ValueError(name)
                parts[name] = joined[position : position + length]
                position += length
        except (TypeError, ValueError):
            raise CorruptFileError(f"{self.path} has a damaged part list") from None
        if position != len(joined) or len(parts) != len(split):
            raise CorruptFileError(f"{self.path} is damaged (a section's parts do not add up)")
        return parts

    def _assemble(
        self,
        names: list[str],
        events: tuple[int, int],
        decoded: dict[str, np.ndarray],
        info: TreeInfo,
        entry_start: int,
        entry_stop: float,
    ) -> EventChunk:
        length = events[1] - events[0]
        if names:
            array = self._events_array(names, length, decoded)
        else:
            array = ak.Array(np.zeros((length, 0)))
        lo = max(entry_start - events[0], 0)
        hi = min(entry_stop - events[0], length)
        if lo or hi < length:
            array = array[int(lo) : int(hi)]
        return EventChunk(array, events[0] + int(lo), info)

    def _events_array(
        self, names: list[str], length: int, decoded: dict[str, np.ndarray]
    ) -> ak.Array:
        """The branches as one record array per event. Flat and jagged numbers (most branches)
        are built as layouts directly, other forms by `ak.from_buffers`: a call per branch
        and `ak.zip` cost ~0.4 ms per branch, and a NanoAOD file has ~950."""
        contents = []
        for name in names:
            container = {}
            for buffer in self.buffers[name]:
                values = decoded.get(buffer.id, np.zeros(0, dtype=buffer.dtype))
                if buffer.role == "counts":
                    offsets = np.zeros(len(values) + 1, dtype=buffer.dtype)
                    np.cumsum(values, out=offsets[1:])
                    values = offsets
                container[buffer.key] = values
            contents.append(self._layout(name, length, container))
        return ak.Array(ak.contents.RecordArray(contents, names, length))

    def _layout(self, name: str, length: int, buffers: dict[str, np.ndarray]) -> Any:
        form = self.branches[name]["form"]
        try:
            layout = _simple_layout(form, buffers)
            if layout is None:
                form = ak.forms.from_dict(form)
                layout = ak.from_buffers(form, length, buffers, highlevel=False)
            if layout.length != length:
                raise ValueError(f"{layout.length} entries instead of {length}")
        except (ValueError, TypeError, KeyError) as exc:
            raise CorruptFileError(
                f"{self.path} is damaged: branch {name!r} does not rebuild ({exc})"
            ) from None
        return layout


#: Index classes of list offsets by dtype.
_INDEX = {"int32": "Index32", "uint32": "IndexU32", "int64": "Index64"}


def _simple_layout(form: dict[str, Any], buffers: dict[str, np.ndarray]) -> Any:
    """The layout of a flat (NumpyArray) or jagged (ListOffsetArray of NumpyArray) branch of
    numbers built from its buffers directly, else None (`ak.from_buffers` builds it)."""
    if form.get("inner_shape") or form.get("parameters"):
        return None
    if form["class"] == "NumpyArray":
        data = buffers[f"{form['form_key']}-data"]
        if data.dtype.name != ak.types.numpytype.primitive_to_dtype(form["primitive"]).name:
            raise ValueError(f"data of dtype {data.dtype} for {form['primitive']}")
        return ak.contents.NumpyArray(data)
    if form["class"] != "ListOffsetArray" or form["content"]["class"] != "NumpyArray":
        return None
    content = _simple_layout(form["content"], buffers)
    if content is None:
        return None
    offsets = buffers[f"{form['form_key']}-offsets"]
    index = getattr(ak.index, _INDEX.get(offsets.dtype.name, ""), None)
    if index is None or offsets[-1] > content.length or np.any(offsets[1:] < offsets[:-1]):
        raise ValueError("damaged list offsets")
    return ak.contents.ListOffsetArray(index(offsets), content)


def member_field(collection: str, name: str) -> str:
    """`Jet_pt` -> `pt`, `AnalysisJetsAuxDyn.pt` -> `pt` (collection prefix and separator)."""
    rest = name.removeprefix(collection)
    return rest[1:] if rest and rest[0] in "_.:" else rest or name


def collection_table(path: str | os.PathLike[str], collection: str, model: Any = None) -> Table:
    """One collection of a whole-file .jz as a flat table (a row per object, the event index,
    units): the jets workflow's layout. Its numeric branches that share the collection's counts
    (or, for an event-level collection such as MET, its scalars) become the columns. `model`:
    the entropy model (or MODEL_DIR) of a file that references it."""
    reader = EventsReader(path, model=model)
    members = reader.info.collections.get(collection)
    if not members:
        known = ", ".join(reader.info.collections) or "none"
        raise InputError(
            f"no collection {collection!r} in {reader.path.name} (collections: {known})"
        )
    tables = []
    for chunk in reader.iter_chunks(members):
        arrays = chunk.arrays
        numeric = [
            m for m in members if arrays[m].fields == [] and "string" not in str(arrays[m].type)
        ]
        lists = [m for m in numeric if arrays[m].ndim == 2]
        if lists:
            counts = ak.to_numpy(ak.num(arrays[lists[0]]))
            chosen = [m for m in lists if np.array_equal(ak.to_numpy(ak.num(arrays[m])), counts)]
            columns = {
                member_field(collection, m): ak.to_numpy(ak.flatten(arrays[m])) for m in chosen
            }
        else:
            counts = np.ones(len(arrays), dtype=np.int64)
            chosen = [m for m in numeric if arrays[m].ndim == 1]
            columns = {member_field(collection, m): ak.to_numpy(arrays[m]) for m in chosen}
        if not columns:
            raise InputError(f"collection {collection!r} has no numeric per-object branches")
        event = np.repeat(np.arange(chunk.first_event, chunk.first_event + len(arrays)), counts)
        units = {
            member_field(collection, m): unit
            for m in chosen
            if (unit := reader.info.branches.get(m, {}).get("unit"))
        }
        branches = {member_field(collection, m): m for m in chosen}
        meta = {"format": "jz", "collection": collection, "branches": branches}
        tables.append(Table(columns, event=event, units=units, meta=meta))
    table = Table.concat(tables)
    table.meta["n_events"] = reader.num_entries
    return table


def decompress_events(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    kind: str | None = None,
    threads: int | None = None,
    reader: ContainerReader | None = None,
    model: Any = None,
) -> int:
    """Write a whole-file .jz back as ROOT (TTree or RNTuple; default the source's kind) or
    Parquet (one row per event, list columns); returns the number of events. `reader`: the
    file's container reader if the caller opened it, `model` the entropy model of a file that
    references it (see EventsReader)."""
    from jetzip.events import write_events

    events = EventsReader(path, reader, model)
    return write_events(events.iter_chunks(threads=threads), output, kind=kind)


def describe_events(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Source, tree, collections, event count and, per branch, its type, rule, stored bytes
    and largest error (reads and verifies the whole file, decodes nothing)."""
    reader = EventsReader(path)
    footer = reader.footer
    index = reader.index
    stats = index.get("columns", {})
    coded_by_model: dict[str, int] = {}  # column id -> sections whose model codes it
    for section in index.get("sections") or []:
        if isinstance(section, dict) and "entropy_model" in section:
            for cid, desc in dict(section.get("columns", {})).items():
                if isinstance(desc, dict) and CONDITIONAL in (
                    desc.get("predictor"),
                    desc.get("encoding"),
                ):
                    coded_by_model[cid] = coded_by_model.get(cid, 0) + 1
    branches = []
    for name, entry in reader.branches.items():
        ids = [b.id for b in reader.buffers[name]]
        column_stats = [stats.get(i, {}) for i in ids]
        branches.append(
            {
                "name": name,
                "type": entry["type"],
                "collection": entry.get("collection"),
                "unit": entry.get("unit"),
                "rule": entry.get("rule") or "exact",
                "bytes": sum(int(s.get("bytes", 0)) for s in column_stats),
                "max_abs_error": max(
                    (float(s.get("max_abs_error", 0.0)) for s in column_stats), default=0.0
                ),
                "max_rel_error": max(
                    (float(s.get("max_rel_error", 0.0)) for s in column_stats), default=0.0
                ),
                "lossless_fallbacks": sum(
                    int(s.get("lossless", 0))
                    for s, b in zip(column_stats, reader.buffers[name], strict=True)
                    if reader.plans[b.id].kind == "bounded"
                ),
                "model_sections": sum(coded_by_model.get(i, 0) for i in ids),
            }
        )
    file_bytes = reader.path.stat().st_size
    source = reader.header.get("source") or {}
    data_bytes = sum(b["bytes"] for b in branches)
    collections: dict[str, dict[str, Any]] = {}
    for branch in branches:
        entry = collections.setdefault(
            branch["collection"] or "(none)", {"branches": 0, "bytes": 0, "model_columns": 0}
        )
        entry["branches"] += 1
        entry["bytes"] += branch["bytes"]
        entry["model_columns"] += branch["model_sections"] > 0

    def ratio(reference: Any) -> float | None:  # header values are checked before use
        return reference / file_bytes if type(reference) is int and reference > 0 else None

    return {
        "path": str(reader.path),
        "layout": LAYOUT,
        "policy": reader.header.get("policy"),
        "tree": reader.info.to_json(),
        "n_events": reader.num_entries,
        "n_sections": int(footer.get("n_chunks", 0)),
        "n_event_chunks": len(index.get("event_chunks", [])),
        "file_bytes": file_bytes,
        "overhead": {
            "header": reader.header_size,
            "descriptions_and_framing": file_bytes - reader.header_size - data_bytes,
        },
        "source": source,
        # vs the input file only when the whole input is stored (files before this was
        # recorded say nothing about it: no such ratio), else vs the same branches' bytes
        "ratio_vs_input": ratio(source.get("bytes")) if source.get("whole") is True else None,
        "ratio_vs_stored_branches": ratio(source.get("stored_bytes")),
        "model": _model_description(reader, index),
        "collections": collections,
        "branches": branches,
    }


def _model_description(reader: EventsReader, index: dict[str, Any]) -> dict[str, Any] | None:
    """The header's entropy model entry (hash, bytes, parameters, the collection it was
    offered to), with the sections that use it and its bytes in the file (0: referenced or
    unused)."""
    info = reader.header.get("model")
    if not isinstance(info, dict):
        return None
    sections = [s for s in index.get("sections") or [] if isinstance(s, dict)]
    using = sum("entropy_model" in s for s in sections)
    return {
        **info,
        "sections_using": using,
        "n_sections": len(sections),
        # the writer embeds the model before the first section that uses it, or not at all
        "bytes_in_file": info.get("bytes", 0) if info.get("embedded") is True and using else 0,
    }
