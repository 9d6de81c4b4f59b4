"""Whole ROOT trees (TTree and RNTuple) as events: every branch in, the same tree back out.

Reading finds the leaves a tree can give as arrays: top-level branches, sub-branches of split
objects and TClonesArrays (Delphes ``Jet.PT`` under ``Jet``, Bacon ``AK4CHS.pt``), and the
members of records (``vector<TLorentzVector>`` becomes ``selJet.fP.fX``, ..., ``selJet.fE``).
A leaf is kept only if it can be written back exactly as the same kind of tree; the others are
refused in one line unless the caller skips them. RNTuples written by ROOT's importer hold each
NanoAOD collection twice (``_collection0`` and the projected ``Muon_pt`` fields); the
projections are kept and the duplicate is named in the notes.

Writing uses uproot: a TTree with ``mktree`` + ``extend`` (counts branches keep their original
integer type; uproot itself would make them int32) or an RNTuple with ``mkrntuple``. Jagged
branches without a counts branch in the source (``std::vector`` in PHYSLITE) get one counter
per collection in a TTree, listed in the file's jetzip header so that reading the file back
gives exactly the source's branches.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from jetzip.errors import InputError
from jetzip.events import EventChunk, TreeInfo, select_branches
from jetzip.io.collections import JetPick, group_collections, pick_jets, split_name
from jetzip.io.frames import HEADER_KEY, decode_header
from jetzip.io.names import ANGLE_COLUMNS, ENERGY_COLUMNS, canonical_name

TREE_CLASSES = {"TTree": "TTree", "ROOT::RNTuple": "RNTuple"}
#: Key of the TObjString in which jetzip records what it wrote (source description, counters).
EVENTS_HEADER_KEY = "jetzip_events"
#: Leaf dtypes uproot writes back exactly (float16 has no TTree leaf type and no RNTuple writer).
WRITABLE_DTYPES = frozenset(
    ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32"]
) | {"float64"}
#: Energy units of the collections whose layout we know (eta and phi are dimensionless).
KNOWN_UNITS = {"AnalysisJetsAuxDyn": "MeV", "Jet": "GeV"}
#: Names of the event trees of ATLAS xAOD (TTree and RNTuple), CMS NanoAOD and Delphes: when a
#: file has one of them with jets, its metadata trees need not be opened.
EVENT_TREES = frozenset({"CollectionTree", "EventData", "Events", "Delphes"})
#: Entries per TTree basket when writing (ROOT's own baskets hold a few thousand entries).
ENTRIES_PER_BASKET = 20_000
_OPTION_FORMS = (
    ak.forms.IndexedOptionForm,
    ak.forms.ByteMaskedForm,
    ak.forms.BitMaskedForm,
    ak.forms.UnmaskedForm,
)
_LIST_FORMS = (ak.forms.ListOffsetForm, ak.forms.ListForm)


@dataclass(frozen=True)
class Leaf:
    """One output branch: where to read it and which record fields to take from it."""

    name: str
    path: str
    fields: tuple[str, ...]
    form: Any
    counts: str | None
    branch: Any = None  # the TBranch (a path lookup fails for some split-object sub-branches)


@dataclass
class TreeLeaves:
    """What a tree offers: readable leaves, refused branches (name -> why) and notes."""

    name: str
    kind: str
    handle: Any
    leaves: list[Leaf] = field(default_factory=list)
    unsupported: dict[str, str] = field(default_factory=dict)
    unsupported_forms: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    generated: set[str] = field(default_factory=set)


# ---------------------------------------------------------------------- forms
def _is_string(form: Any) -> bool:
    return isinstance(form, _LIST_FORMS) and form.parameters.get("__array__") in (
        "string",
        "bytestring",
    )


def _numeric(form: Any) -> bool:
    return isinstance(form, ak.forms.NumpyForm) and form.primitive in WRITABLE_DTYPES


def unsupported_reason(form: Any, kind: str) -> str | None:
    """Why values of `form` cannot be written back exactly to a tree of `kind`; None if they can.

    TTree (uproot's writer): numbers, fixed-size arrays, strings, one level of jagged numbers.
    RNTuple: any nesting of lists, fixed-size arrays, strings and nullable values over numbers.
    """
    if kind == "TTree":
        if _numeric(form) or _is_string(form):
            return None
        if isinstance(form, ak.forms.RegularForm):
            return unsupported_reason(form.content, kind)
        if isinstance(form, _LIST_FORMS):
            content = form.content
            if _numeric(content) and not content.inner_shape:
                return None
            if _is_string(content):
                return "a list of strings (uproot cannot write it to a TTree)"
            if isinstance(content, (*_LIST_FORMS, ak.forms.RegularForm)):
                return "nested lists (uproot cannot write them to a TTree)"
        if isinstance(form, _OPTION_FORMS):
            return "nullable values (a TTree has no missing values)"
        return _leaf_reason(form)
    if _numeric(form) or _is_string(form):
        return None
    if isinstance(form, (*_LIST_FORMS, ak.forms.RegularForm, *_OPTION_FORMS)):
        return unsupported_reason(form.content, kind)
    return _leaf_reason(form)


def _leaf_reason(form: Any) -> str:
    inner = form
    while hasattr(inner, "content"):
        inner = inner.content
    if isinstance(inner, ak.forms.NumpyForm):
        return f"{inner.primitive} values (uproot cannot write them)"
    return f"{type(inner).__name__.removesuffix('Form').lower()} values"


def _branch_form(item: Any, file: Any) -> Any:
    """Awkward form of one TTree branch or RNTuple field; None when uproot cannot give one."""
    try:
        if hasattr(item, "interpretation"):
            return item.interpretation.awkward_form(file)
        record, _ = item.to_akform()
        return record.contents[0]
    except Exception:  # uproot raises assorted errors for classes it cannot express as arrays
        return None


def _add(found: TreeLeaves, leaf: Leaf) -> None:
    """Add a leaf, or the members of a record (inside lists too), or the reason it is refused."""
    form = leaf.form
    record = form.content if isinstance(form, _LIST_FORMS) else form
    if isinstance(record, ak.forms.RecordForm) and not _is_string(form):
        for key, content in zip(record.fields, record.contents, strict=True):
            member = form.copy(content=content) if record is not form else content
            fields = (*leaf.fields, key)
            _add(found, replace(leaf, name=f"{leaf.name}.{key}", fields=fields, form=member))
        return
    why = unsupported_reason(form, found.kind)
    if why:
        found.unsupported[leaf.name] = why
        found.unsupported_forms[leaf.name] = form
    else:
        found.leaves.append(leaf)


def _may_match(top: str, patterns: Sequence[str] | None) -> bool:
    """Whether a leaf named after the top-level branch or field `top` (every leaf's name starts
    with it) can match one of the patterns: their literal beginnings must agree. Forms of the
    others are never computed (the slow part of opening a wide tree)."""
    if patterns is None:
        return True
    root = top.rstrip(".")
    for pattern in patterns:
        literal = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
        if root.startswith(literal) or literal.startswith(root):
            return True
    return False


def _ttree_leaves(found: TreeLeaves, file: Any, patterns: Sequence[str] | None) -> None:
    def visit(branch: Any, name: str, path: str, counts_of_members: str | None) -> None:
        form = _branch_form(branch, file)
        if branch.branches:
            own = None
            if isinstance(form, ak.forms.NumpyForm) and np.dtype(form.primitive).kind in "iu":
                _add(found, Leaf(name, path, (), form, None, branch))  # TClonesArray count
                own = name
            for sub in branch.branches:
                parent = name.rstrip(".")  # xAOD aux stores end in '.' ("EventInfoAux.")
                sub_name = sub.name if sub.name.startswith(parent + ".") else f"{parent}.{sub.name}"
                visit(sub, sub_name, f"{path}/{sub.name}", own)
            return
        if form is None:
            found.unsupported[name] = f"{branch.typename} (uproot cannot read it as arrays)"
            return
        counts = counts_of_members
        if counts is None and isinstance(form, _LIST_FORMS) and branch.count_branch is not None:
            counts = branch.count_branch.name
        _add(found, Leaf(name, path, (), form, counts, branch))

    seen: set[str] = set()
    top_level = list(found.handle.branches)
    for branch in top_level:
        if not _may_match(branch.name, patterns):
            continue
        if branch.name in seen:  # ROOT allows it; uproot gives the first, a writer needs one
            found.unsupported[f"{branch.name} (2nd)"] = "a second top-level branch of this name"
            continue
        seen.add(branch.name)
        visit(branch, branch.name, branch.name, None)
    counts = {leaf.counts for leaf in found.leaves if leaf.counts} - seen
    for branch in top_level:  # counts branches that the patterns alone would not have visited
        if branch.name in counts:
            seen.add(branch.name)
            visit(branch, branch.name, branch.name, None)
    order = {branch.name: i for i, branch in enumerate(top_level)}
    found.leaves.sort(key=lambda leaf: order.get(leaf.path.split("/")[0], -1))


def _rntuple_leaves(found: TreeLeaves, patterns: Sequence[str] | None) -> None:
    try:  # one form for all fields: uproot lists an RNTuple's fields slowly, so only once
        record = found.handle.to_akform()[0]
        forms = dict(zip(record.fields, record.contents, strict=True))
    except Exception:  # some field has no form: ask one by one to name it
        keys = found.handle.keys(recursive=False)
        forms = {key: _branch_form(found.handle[key], found.handle.file) for key in keys}
    for key, form in forms.items():
        if not _may_match(key, patterns):
            continue
        content = form.content if isinstance(form, _LIST_FORMS) else form
        if key.startswith("_collection") and isinstance(content, ak.forms.RecordForm):
            members = content.fields
            if members and all(m in forms for m in members):
                found.notes.append(
                    f"{key} left out: ROOT's importer's copy of the fields "
                    f"{members[0]}..{members[-1]}, which are kept"
                )
                continue
        if form is None:
            found.unsupported[key] = "a field uproot cannot read as arrays"
        else:
            _add(found, Leaf(key, key, (), form, None))


def _stored_header(file: Any) -> dict[str, Any]:
    if file.classnames(cycle=False).get(EVENTS_HEADER_KEY) != "TObjString":
        return {}
    try:
        return json.loads(str(file[EVENTS_HEADER_KEY]))
    except ValueError as exc:
        raise InputError(f"the file's jetzip event header is damaged ({exc})") from None


def table_header(directory: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """Units and meta that jetzip wrote into a ROOT file it wrote from a table, if it did."""
    if directory.classnames(cycle=False).get(HEADER_KEY) != "TObjString":
        return {}, {}
    return decode_header(str(directory[HEADER_KEY]))


def _recorded_units(found: TreeLeaves) -> dict[str, str]:
    """Branch -> unit as jetzip recorded them when it wrote this tree from a table (the
    collection's usual unit would be a guess: jetzip's own jets are in MeV, NanoAOD's in GeV)."""
    units, meta = table_header(found.handle.file.root_directory)
    if meta.get("tree") != found.name:
        return {}
    branches = meta.get("branches") or {}
    return {str(branches.get(column, column)): unit for column, unit in units.items()}


def tree_leaves(
    file: Any, name: str, kind: str, patterns: Sequence[str] | None = None
) -> TreeLeaves:
    """Every leaf of one tree (or those that may match `patterns`), with what is refused and
    why."""
    found = TreeLeaves(name=name, kind=kind, handle=file[name])
    if kind == "TTree":
        _ttree_leaves(found, file, patterns)
    else:
        _rntuple_leaves(found, patterns)
    header = _stored_header(file)
    if header.get("tree") == name:  # counters jetzip added are not branches of the source
        found.generated = set(header.get("generated_counts", []))
        found.leaves = [
            replace(leaf, counts=None) if leaf.counts in found.generated else leaf
            for leaf in found.leaves
            if leaf.name not in found.generated
        ]
    return found


# ---------------------------------------------------------------------- structure
def tree_kinds(file: Any) -> dict[str, str]:
    """Tree-like objects of the file: name -> "TTree" / "RNTuple" (latest cycle only)."""
    return {
        name: TREE_CLASSES[cls]
        for name, cls in file.classnames(recursive=True, cycle=False).items()
        if cls in TREE_CLASSES
    }


def read_leaves(found: TreeLeaves, leaves: Sequence[Leaf], start: int, stop: int) -> dict[str, Any]:
    """Arrays of `leaves` for entries [start, stop), by leaf name."""
    if found.kind == "TTree":  # branch by branch: Delphes names confuse uproot's expressions
        branches = {leaf.path: leaf.branch for leaf in leaves}
        raw = {p: b.array(entry_start=start, entry_stop=stop) for p, b in branches.items()}
    else:
        paths = list(dict.fromkeys(leaf.path for leaf in leaves))
        raw = found.handle.arrays(paths, entry_start=start, entry_stop=stop)
    out = {}
    for leaf in leaves:
        values = raw[leaf.path]
        for key in leaf.fields:
            values = values[key]
        out[leaf.name] = ak.without_parameters(values) if leaf.fields else values
    return out


def _readable_sample(found: TreeLeaves, leaves: list[Leaf], stop: int) -> tuple[list, dict]:
    """Events [0, stop) of every leaf (the first chunk; it also decides which jagged branches
    share a structure); leaves uproot fails to read become unsupported."""
    try:
        return leaves, read_leaves(found, leaves, 0, stop)
    except Exception:  # find which ones: uproot raises assorted errors for undecodable data
        pass
    good, sample = [], {}
    for leaf in leaves:
        try:
            sample.update(read_leaves(found, [leaf], 0, stop))
            good.append(leaf)
        except Exception as exc:  # any failure means "cannot be read"
            first_line = (str(exc).strip() or type(exc).__name__).splitlines()[0]
            found.unsupported[leaf.name] = f"uproot cannot read it ({first_line})"
    found.leaves = [leaf for leaf in found.leaves if leaf.name not in found.unsupported]
    return good, sample


def _structure_token(values: ak.Array) -> str:
    """Equal for two jagged arrays with the same counts."""
    counts = np.asarray(ak.num(values, axis=1), dtype=np.int64)
    return "list:" + hashlib.blake2b(counts.tobytes(), digest_size=12).hexdigest()


def _structures(leaves: Sequence[Leaf], sample: dict | None) -> dict:
    """branch -> structure token: the counts branch when known, else the sampled counts (or
    just "a list" when there is no sample)."""
    tokens: dict[str, object] = {}
    for leaf in leaves:
        form = leaf.form
        if leaf.counts:
            tokens[leaf.name] = "counts:" + leaf.counts
        elif isinstance(form, _LIST_FORMS) and not _is_string(form):
            tokens[leaf.name] = _structure_token(sample[leaf.name]) if sample else "list"
        elif isinstance(form, ak.forms.NumpyForm) and not form.inner_shape:
            tokens[leaf.name] = "scalar"
        else:
            tokens[leaf.name] = "other:" + leaf.name
    return tokens


def _check_counts(leaves: list[Leaf], sample: dict, notes: list[str]) -> list[Leaf]:
    """Drop a counts branch from a leaf whose lengths it does not give (uproot reads Delphes'
    ``Track.fBits`` with other lengths than ``Track``): the leaf is written with its own."""
    checked = []
    for leaf in leaves:
        if leaf.counts and leaf.name in sample:
            counts = sample.get(leaf.counts)
            scalar = counts is not None and counts.ndim == 1 and _is_integer(counts)
            lengths = np.asarray(ak.num(sample[leaf.name], axis=1))
            if not scalar or not np.array_equal(lengths, np.asarray(counts)):
                notes.append(f"{leaf.name}: its lengths are not {leaf.counts}; own counts")
                leaf = replace(leaf, counts=None)
        checked.append(leaf)
    return checked


def _is_integer(values: ak.Array) -> bool:
    form = values.layout.form
    return isinstance(form, ak.forms.NumpyForm) and np.dtype(form.primitive).kind in "iu"


def _link_counts(leaves: list[Leaf], collections: dict[str, list[str]], sample: dict) -> list:
    """Give members of a collection without a counts branch the scalar ``n<Collection>`` branch
    that holds exactly their counts (the NanoAOD RNTuple's nJet)."""
    by_name = {leaf.name: leaf for leaf in leaves}
    counts_of: dict[str, str] = {}
    for collection, members in collections.items():
        candidate = by_name.get(f"n{collection}")
        first = by_name[members[0]]
        if candidate is None or first.counts or not isinstance(first.form, _LIST_FORMS):
            continue
        if not isinstance(candidate.form, ak.forms.NumpyForm):
            continue
        numbers = np.asarray(sample[candidate.name])
        if numbers.dtype.kind in "iu" and np.array_equal(
            numbers, np.asarray(ak.num(sample[first.name], axis=1))
        ):
            counts_of.update(dict.fromkeys(members, candidate.name))
    return [
        replace(leaf, counts=counts_of[leaf.name]) if leaf.name in counts_of else leaf
        for leaf in leaves
    ]


def _unit(name: str, collection: str | None) -> str | None:
    if collection not in KNOWN_UNITS:
        return None
    variable = canonical_name(split_name(name)[2])  # type: ignore[index]
    if variable in ENERGY_COLUMNS:
        return KNOWN_UNITS[collection]  # type: ignore[index]
    return "" if variable in ANGLE_COLUMNS else None


def dtype_name(form: Any) -> str:
    """The dtype of the numbers at the bottom of `form` ("string" when there are none)."""
    inner = form
    while hasattr(inner, "content"):
        inner = inner.content
    return inner.primitive if isinstance(inner, ak.forms.NumpyForm) else "string"


def _info(path: Path, found: TreeLeaves, leaves: list[Leaf], sample: dict | None) -> TreeInfo:
    names = [leaf.name for leaf in leaves]
    collections = group_collections(names, _structures(leaves, sample))
    member_of = {m: c for c, members in collections.items() for m in members}
    recorded = _recorded_units(found)
    branches = {
        leaf.name: {
            "type": str(leaf.form.type),
            "dtype": dtype_name(leaf.form),
            "counts": leaf.counts,
            "unit": recorded.get(leaf.name, _unit(leaf.name, member_of.get(leaf.name))),
            "collection": member_of.get(leaf.name),
        }
        for leaf in leaves
    }
    return TreeInfo(
        source=path.name,
        format="root",
        tree=found.name,
        kind=found.kind,
        branches=branches,
        collections=collections,
        notes=list(found.notes),
    )


# ---------------------------------------------------------------------- choosing
def pick_collection(
    found: TreeLeaves, leaves: list[Leaf], sample: dict | None
) -> tuple[TreeInfo, JetPick | None]:
    """The tree's TreeInfo (collections grouped) and the jets the jets workflow would read."""
    info = _info(Path(found.handle.file.file_path), found, leaves, sample)
    jagged = {c for c, m in info.collections.items() if info.branches[m[0]]["type"][:3] == "var"}
    return info, pick_jets(info.collections, jagged)


def event_tree(file: Any, tree: str | None) -> str:
    """The tree named, or the one jetzip wrote, or the one holding jets, or the only one."""
    trees = tree_kinds(file)
    if not trees:
        raise InputError("the ROOT file holds no TTree or RNTuple")
    if tree is None:
        tree = _stored_header(file).get("tree")
    if tree is not None:
        if tree not in trees:
            raise InputError(f"no tree {tree!r} in the file; trees: {', '.join(trees)}")
        return tree
    if len(trees) == 1:
        return next(iter(trees))
    known = [name for name in trees if name.rsplit("/", 1)[-1] in EVENT_TREES]
    if len(known) == 1 and names_pick(file[known[0]]) is not None:  # skip the metadata trees
        return known[0]
    with_jets = [name for name in trees if names_pick(file[name]) is not None]
    if len(with_jets) == 1:
        return with_jets[0]
    raise InputError(
        f"the file holds several trees ({', '.join(trees)}) and "
        f"{'several' if with_jets else 'none'} with jets: choose one with --tree"
    )


def choose_tree(file: Any, tree: str | None, patterns: Sequence[str] | None = None) -> TreeLeaves:
    """The leaves of `event_tree` (those that may match `patterns`)."""
    name = event_tree(file, tree)
    return tree_leaves(file, name, tree_kinds(file)[name], patterns)


def names_pick(handle: Any) -> JetPick | None:
    """The jets a tree would give, judged from branch names alone (no form, no data)."""
    recursive = isinstance(handle, uproot.TTree)  # RNTuple sub-fields are slow to list
    names = handle.keys(recursive=recursive, full_paths=False)
    return pick_jets(group_collections(names, dict.fromkeys(names, "")), set())


# ---------------------------------------------------------------------- reading
def _select(found: TreeLeaves, patterns: Sequence[str] | None) -> tuple[list[Leaf], dict]:
    """Leaves matching the patterns (with their counts branches) and refused matching ones."""
    names = [leaf.name for leaf in found.leaves] + list(found.unsupported)
    chosen = set(select_branches(names, patterns, f"tree {found.name!r}"))
    chosen |= {leaf.counts for leaf in found.leaves if leaf.name in chosen and leaf.counts}
    leaves = [leaf for leaf in found.leaves if leaf.name in chosen]
    return leaves, {n: why for n, why in found.unsupported.items() if n in chosen}


def refuse_unsupported(where: str, refused: dict[str, str]) -> None:
    """One line naming every branch that cannot be stored, and the option that skips them."""
    listed = "; ".join(f"{name}: {why}" for name, why in refused.items())
    raise InputError(
        f"{len(refused)} branch{'es' if len(refused) > 1 else ''} of {where} cannot be stored "
        f"exactly ({listed}); leave them out with --skip-unsupported "
        "(skip_unsupported=True) or choose branches with --branches"
    )


def iter_tree_events(
    path: Path,
    *,
    tree: str | None,
    patterns: Sequence[str] | None,
    step_events: int,
    skip_unsupported: bool,
    measure_input: bool = False,
) -> Iterator[EventChunk]:
    """`jetzip.events.iter_events` for ROOT files."""
    try:
        file = uproot.open(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path} as ROOT: {exc}") from exc
    with file:
        found = choose_tree(file, tree, patterns)
        leaves, _ = _select(found, patterns)
        n_entries = found.handle.num_entries
        leaves, sample = _readable_sample(found, leaves, min(step_events, n_entries))
        leaves, refused = _select(found, patterns)
        if refused and not skip_unsupported:
            refuse_unsupported(f"tree {found.name!r}", refused)
        if not leaves:
            raise InputError(f"tree {found.name!r} has no branch that can be stored")
        leaves = _check_counts(leaves, sample, found.notes)
        collections = group_collections([leaf.name for leaf in leaves], _structures(leaves, sample))
        leaves = _link_counts(leaves, collections, sample)
        info, _ = pick_collection(found, leaves, sample)
        if refused:
            left_out = ", ".join(f"{name} ({why})" for name, why in refused.items())
            info.notes.append(f"left out (--skip-unsupported): {left_out}")
        share = None
        if measure_input:
            from jetzip.input_sizes import tree_input_bytes

            names = [leaf.name for leaf in leaves]
            share = {"stored": tree_input_bytes(file, found, names), "trees": len(tree_kinds(file))}
        for start in range(0, max(n_entries, 1), step_events):
            stop = min(start + step_events, n_entries)
            values = sample if start == 0 else read_leaves(found, leaves, start, stop)
            arrays = ak.zip({leaf.name: values[leaf.name] for leaf in leaves}, depth_limit=1)
            yield EventChunk(arrays, start, info, share if start == 0 else None)


def _objects(found: TreeLeaves, member: str) -> int | None:
    """Objects of a jagged collection over the whole tree (None when uproot cannot read it)."""
    leaf = next(leaf for leaf in found.leaves if leaf.name == member)
    try:
        values = read_leaves(found, [leaf], 0, found.handle.num_entries)[member]
    except Exception:  # described as unreadable
        return None
    return int(ak.sum(ak.num(values, axis=1)))


def describe_root(path: Path) -> dict[str, Any]:
    """`jetzip.events.describe_source` for ROOT files (collections grouped by counts branch
    and prefix; no event data is read except one branch per jagged collection)."""
    with uproot.open(path) as file:
        trees, picks = [], []
        for name, kind in tree_kinds(file).items():
            found = tree_leaves(file, name, kind)
            info, pick = pick_collection(found, found.leaves, None)
            collections = []
            for collection, members in info.collections.items():
                entry: dict[str, Any] = {"name": collection, "branches": len(members)}
                if info.branches[members[0]]["type"].startswith("var"):
                    entry["objects"] = _objects(found, members[0])
                else:
                    entry["per_event"] = True
                collections.append(entry)
            trees.append(
                {
                    "name": name,
                    "kind": kind,
                    "entries": found.handle.num_entries,
                    "branches": len(found.leaves),
                    "collections": collections,
                    "unsupported": sorted(found.unsupported),
                    "notes": found.notes,
                }
            )
            if pick is not None:
                picks.append((name, pick))
        pick_out = None
        if picks:
            tree_name, pick = picks[0]
            pick_out = {
                "tree": tree_name,
                "collection": pick.collection,
                "prefix": pick.prefix,
                "why": pick.why,
                "others": list(pick.others) + [f"{t}/{p.collection}" for t, p in picks[1:]],
            }
        return {"file": path.name, "format": "root", "trees": trees, "pick": pick_out}


# ---------------------------------------------------------------------- writing
def _indexed_options(layout: Any, **_: Any) -> Any:
    """Bit- and byte-masked options as indexed ones: uproot 5.7's RNTuple writer stores the
    values of a bit-masked array (what Arrow gives) wrongly (a test checks it)."""
    masked = (ak.contents.BitMaskedArray, ak.contents.ByteMaskedArray, ak.contents.UnmaskedArray)
    if not isinstance(layout, masked):
        return None
    indexed = layout.to_IndexedOptionArray64()
    content = ak.transform(_indexed_options, indexed.content, highlevel=False)
    return ak.contents.IndexedOptionArray(indexed.index, content, parameters=layout.parameters)


def _writable(chunk: EventChunk, kind: str) -> EventChunk:
    """The chunk as `kind` can hold it, or an InputError naming every branch it cannot.

    A TTree has no missing values, but Parquet columns are nullable by default: a nullable
    branch without a missing value in the chunk is written as a plain one. An RNTuple keeps
    them (as indexed options).
    """
    arrays = chunk.arrays
    if kind == "TTree" and "?" in str(arrays.type):
        plain = {}
        for name in arrays.fields:
            values = arrays[name]
            missing = any(ak.any(ak.is_none(values, axis=d)) for d in range(values.ndim))
            plain[name] = values if missing else ak.drop_none(values)
        arrays = ak.zip(plain, depth_limit=1)
    elif kind == "RNTuple" and "?" in str(arrays.type):
        arrays = ak.transform(_indexed_options, arrays)
    form = arrays.layout.form  # branch forms from the record's form: arrays[name] per
    if isinstance(form, ak.forms.RecordForm):  # branch costs ~0.2 ms, 0.2 s for NanoAOD
        forms = dict(zip(form.fields, form.contents, strict=True))
    else:
        forms = {name: arrays[name].layout.form for name in arrays.fields}
    refused = {name: why for name, f in forms.items() if (why := unsupported_reason(f, kind))}
    if refused:
        listed = "; ".join(f"{name}: {why}" for name, why in refused.items())
        raise InputError(
            f"cannot write {len(refused)} branch{'es' if len(refused) > 1 else ''} to a {kind} "
            f"({listed}); write Parquet, or another tree kind, or leave them out"
        )
    return replace(chunk, arrays=arrays)


def _counter_names(info: TreeInfo, names: Sequence[str], arrays: ak.Array) -> dict[str, str]:
    """Jagged branch -> its counts branch; one generated counter per collection without one."""
    counters: dict[str, str] = {}
    for name in names:
        values = arrays[name]
        if not isinstance(values.layout.form, _LIST_FORMS) or _is_string(values.layout.form):
            continue
        spec = info.branches.get(name, {})
        counts = spec.get("counts")
        if counts and counts in names:
            counters[name] = counts
        elif spec.get("collection"):
            counters[name] = f"n{spec['collection']}"
        else:
            counters[name] = f"n{name}"
    return counters


def _keep_counter_types(tree_writer: Any, arrays: ak.Array) -> None:
    """uproot makes every counter int32; give a counts branch of the source its own type.

    uproot has no option for this, so the counter's entry in its tree description is changed
    and the (still empty) tree header written again; a test checks the typename it gives.
    """
    cascading = tree_writer._cascading
    changed = False
    for datum in cascading._branch_data:
        name = datum["fName"]
        if datum["kind"] != "counter" or name not in arrays.fields:
            continue
        dtype = np.dtype(str(arrays[name].layout.form.primitive)).newbyteorder(">")
        if dtype.kind in "iu" and dtype != datum["dtype"]:
            letter = uproot.writing._cascadetree._dtype_to_char[dtype]
            datum["dtype"] = dtype
            datum["fTitle"] = datum["fTitle"].rsplit("/", 1)[0] + "/" + letter
            changed = True
    if changed:
        cascading.write_anew(tree_writer._file.sink)


class _TreeWriter:
    """Streams chunks into one TTree or RNTuple of an open uproot file."""

    def __init__(self, file: Any, first: EventChunk, kind: str) -> None:
        self.kind = kind
        self.info = first.info
        self.tree = first.info.tree or "events"
        names = list(first.arrays.fields)
        self.generated: list[str] = []
        if kind == "RNTuple":
            self.writer = file.mkrntuple(self.tree, first.arrays.layout.form)
            return
        counters = _counter_names(first.info, names, first.arrays)
        self.generated = sorted(set(counters.values()) - set(names))
        clash = [c for c in self.generated if c in names]
        if clash:
            raise InputError(f"generated counts branch {clash[0]!r} clashes with a branch")
        types = {name: first.arrays[name].type.content for name in names}
        self.writer = file.mktree(
            self.tree, types, counter_name=lambda branch: counters.get(branch, f"n{branch}")
        )
        _keep_counter_types(self.writer, first.arrays)

    def extend(self, arrays: ak.Array) -> None:
        if self.kind == "RNTuple":
            self.writer.extend(arrays)
            return
        for start in range(0, len(arrays), ENTRIES_PER_BASKET):
            part = arrays[start : start + ENTRIES_PER_BASKET]
            try:
                self.writer.extend({name: part[name] for name in part.fields})
            except ValueError as exc:
                raise InputError(f"cannot write the events as a TTree: {exc}") from exc

    def header(self) -> str:
        return json.dumps(
            {"tree": self.tree, "info": self.info.to_json(), "generated_counts": self.generated}
        )


def write_tree_events(chunks: Iterable[EventChunk], path: Path, *, kind: str | None) -> int:
    """`jetzip.events.write_events` for ROOT files: returns the number of events written."""
    iterator = iter(chunks)
    first = next(iterator, None)
    if first is None:
        raise InputError("no events to write")
    kind = kind or first.info.kind or "TTree"
    first = _writable(first, kind)
    with uproot.recreate(path) as file:
        writer = _TreeWriter(file, first, kind)
        writer.extend(first.arrays)
        n_events = first.n_events
        for chunk in iterator:
            if chunk.arrays.fields != first.arrays.fields:
                raise InputError("chunks to write hold different branches")
            writer.extend(_writable(chunk, kind).arrays)
            n_events += chunk.n_events
        file[EVENTS_HEADER_KEY] = writer.header()
    return n_events
