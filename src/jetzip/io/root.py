"""ROOT files through uproot + awkward: TTrees and RNTuples in, TTrees out.

A tree holding a jagged jet collection (one list of jets per event) becomes one row per jet with
the entry number as event index; a tree of plain numbers becomes one row per entry. The standard
jet collection is found without options (`jetzip.io.collections.pick_jets`): CMS NanoAOD
``Jet_pt/eta/phi/mass``, ATLAS PHYSLITE ``AnalysisJetsAuxDyn.pt`` (``:pt`` in an RNTuple) over
large-R or truth jets, Delphes ``Jet.PT``, TClonesArray jets (``AK4CHS.pt``), a
``vector<TLorentzVector>`` (``selJet.fP.fX``), Cartesian ``Jet_Px/Py/Pz/E``, and a flat tree of
one jet per entry (``Jet_pt`` doubles). Branches are found as `jetzip.io.trees` finds them
(sub-branches of split objects included); a collection's variables get canonical names (m, pt,
eta, phi, E, px, py, pz; see `jetzip.io.names`), the other per-jet variables keep their suffix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from jetzip.errors import InputError
from jetzip.io import trees
from jetzip.io.frames import HEADER_KEY, encode_header, restore_meta
from jetzip.io.names import ENERGY_COLUMNS, canonical_name
from jetzip.table import Table

#: uproot class name of each kind of tree ("TTree", "RNTuple"), as recorded in a table's meta.
CLASS_OF_KIND = {kind: cls for cls, kind in trees.TREE_CLASSES.items()}
#: Kinematic columns come first, in this order, then the other per-object variables.
KINEMATIC_ORDER = ("pt", "eta", "phi", "m", "px", "py", "pz", "E")
KINEMATIC_COLUMNS = frozenset(KINEMATIC_ORDER)
#: Branch holding per-entry event ids when a written table's ids are not the entry numbers.
EVENT_BRANCH = "event"
DEFAULT_TREE = "events"
DEFAULT_RECORD = "Jet"


@dataclass
class Layout:
    """What to read from one tree: per-object branches of one collection, or flat branches."""

    tree_name: str
    found: trees.TreeLeaves
    tree_class: str
    collection: str | None
    jagged: bool
    branches: dict[str, str]  # column name -> branch name, in output order
    skipped: dict[str, str] = field(default_factory=dict)
    event_branch: str | None = None
    units: dict[str, str] = field(default_factory=dict)
    header_meta: dict[str, Any] = field(default_factory=dict)

    def read(self, names: Sequence[str], start: int, stop: int) -> dict[str, Any]:
        """Arrays of the named branches for entries [start, stop)."""
        leaves = {leaf.name: leaf for leaf in self.found.leaves}
        return trees.read_leaves(self.found, [leaves[n] for n in names], start, stop)


# ---------------------------------------------------------------------- inspecting trees
def _kind(form: Any) -> str:
    """'flat', 'jagged', or why the branch cannot become a column."""
    if form is None:
        return "a type uproot cannot read as numbers"
    content = form
    if isinstance(form, ak.forms.ListOffsetForm | ak.forms.ListForm):
        if form.parameters.get("__array__") in ("string", "bytestring"):
            return "not numeric (strings)"
        content = form.content
    if not isinstance(content, ak.forms.NumpyForm) or content.inner_shape:
        return "not a list of plain numbers (nested or an object)"
    if np.dtype(content.primitive).kind not in "fiub":
        return f"not numeric ({content.primitive})"
    return "jagged" if content is not form else "flat"


def _choose_tree(
    file: Any, tree: str | None, collection: str | None
) -> tuple[trees.TreeLeaves, str | None, bool]:
    """The tree to read, its jet collection's prefix (None: read flat branches) and whether
    that collection holds a list per entry (False: one jet per entry, a flat tree of jets)."""
    kinds = trees.tree_kinds(file)  # name -> "TTree" / "RNTuple"
    if not kinds:
        raise InputError("the ROOT file holds no TTree or RNTuple")
    if tree is not None and tree not in kinds:
        raise InputError(f"no tree {tree!r} in the file; trees: {', '.join(kinds)}")
    if collection is not None:
        for name in [tree] if tree else list(kinds):
            found = trees.tree_leaves(file, name, kinds[name])
            names = [leaf.name for leaf in found.leaves] + list(found.unsupported)
            if any(n.startswith(collection) for n in names):
                jagged = any(
                    isinstance(leaf.form, ak.forms.ListOffsetForm | ak.forms.ListForm)
                    for leaf in found.leaves
                    if leaf.name.startswith(collection)
                )
                return found, collection, jagged
        where = f"tree {tree!r}" if tree else f"any tree ({', '.join(kinds)})"
        raise InputError(f"no branches start with {collection!r} in {where}")
    try:
        name = trees.event_tree(file, tree)
    except InputError:
        raise InputError(
            f"no jet collection found automatically; trees: {', '.join(kinds)} "
            "(choose with --tree, and --collection PREFIX for the objects)"
        ) from None
    kind = kinds[name]
    by_names = trees.names_pick(file[name])  # forms of a wide tree's other branches cost
    patterns = [by_names.prefix + "*"] if by_names else None
    found = trees.tree_leaves(file, name, kind, patterns)
    info, pick = trees.pick_collection(found, found.leaves, None)
    if pick is None and patterns is not None:
        found = trees.tree_leaves(file, name, kind)
        info, pick = trees.pick_collection(found, found.leaves, None)
    if pick is None:
        return found, None, False
    first = info.collections[pick.collection][0]
    return found, pick.prefix, info.branches[first]["type"].startswith("var")


def _layout(
    file: Any,
    tree: str | None,
    collection: str | None,
    branches: Sequence[str] | None,
) -> Layout:
    """Decide tree, collection and branches: everything about a read except reading."""
    units, header_meta = trees.table_header(file)
    if tree is None and collection is None:  # a file jetzip wrote says where its table is
        tree, collection = header_meta.get("tree"), header_meta.get("collection")
    found, prefix, jagged = _choose_tree(file, tree, collection)
    written_names = {b: c for c, b in header_meta.get("branches", {}).items()}
    skipped = {
        name: _kind(found.unsupported_forms[name]) if name in found.unsupported_forms else why
        for name, why in found.unsupported.items()
        if prefix is None or name.startswith(prefix)
    }
    wanted_kind = "jagged" if jagged else "flat"
    chosen: dict[str, str] = {}
    for leaf in found.leaves:
        key = leaf.name
        if (prefix is not None and not key.startswith(prefix)) or key == header_meta.get(
            "event_branch"
        ):
            continue
        owner = leaf.path.split("/")[0] if "/" in leaf.path or leaf.fields else None
        if owner is not None and (prefix is None or owner != prefix[:-1]):
            # a member of an object inside the collection (an ElementLink's keys): not a jet
            # variable; the collection itself may be objects (TClonesArray, TLorentzVector)
            skipped[owner] = "not a list of plain numbers (nested or an object)"
            continue
        kind = _kind(leaf.form)
        if kind == wanted_kind:
            name = key[len(prefix) :] if prefix else key
            chosen[written_names.get(key, canonical_name(name) if prefix else name)] = key
        elif kind == "jagged":  # only when reading flat branches
            skipped[key] = "a list per entry: read it with --collection PREFIX"
        elif kind == "flat":  # only when reading a collection
            skipped[key] = "one value per event, not per object"
        else:
            skipped[key] = kind
    if prefix:  # the order jetzip wrote, else kinematics first
        first = written_names.values() if written_names else KINEMATIC_ORDER
        order = [c for c in first if c in chosen] + list(chosen)
        chosen = {c: chosen[c] for c in dict.fromkeys(order)}
    if branches:
        chosen = _pick_branches(chosen, branches, prefix)
    if not chosen:
        raise InputError(f"tree {found.name!r} has no numeric branches to read")
    known_unit = trees.KNOWN_UNITS.get(prefix[:-1]) if prefix else None
    if known_unit and not units:
        units = {c: known_unit for c in chosen if c in ENERGY_COLUMNS}
        units.update({c: "" for c in ("eta", "phi") if c in chosen})
    return Layout(
        tree_name=found.name,
        found=found,
        tree_class=CLASS_OF_KIND[found.kind],
        collection=prefix,
        jagged=jagged,
        branches=chosen,
        skipped=skipped,
        event_branch=header_meta.get("event_branch"),
        units=units,
        header_meta=header_meta,
    )


def _pick_branches(chosen: dict[str, str], wanted: Sequence[str], prefix: str | None) -> dict:
    """Kinematic columns plus the requested extra variables (by column, suffix or branch name)."""
    lookup: dict[str, str] = {}
    for column, branch in chosen.items():
        lookup.update({column: column, branch: column})
        if prefix:
            lookup[branch[len(prefix) :]] = column
    missing = [w for w in wanted if w not in lookup]
    if missing:
        raise InputError(
            f"no branch {', '.join(map(repr, missing))}; readable ones: {', '.join(chosen)}"
        )
    keep = {c for c in chosen if c in KINEMATIC_COLUMNS} | {lookup[w] for w in wanted}
    return {c: b for c, b in chosen.items() if c in keep}


# ---------------------------------------------------------------------- reading
def _native(values: Any) -> np.ndarray:
    array = np.asarray(ak.to_numpy(values))
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def _read_entries(layout: Layout, start: int, stop: int) -> Table:
    """Rows of entries [start, stop): one per object (collection) or per entry (flat)."""
    names = list(layout.branches.values())
    if layout.event_branch:
        names.append(layout.event_branch)
    arrays = layout.read(names, start, stop)
    columns: dict[str, np.ndarray] = {}
    counts = None
    for column, branch in list(layout.branches.items()):
        values = arrays[branch]
        if layout.jagged:
            these = ak.to_numpy(ak.num(values, axis=1))
            if counts is None:
                counts = these
            elif not np.array_equal(counts, these):
                if start > 0:
                    raise InputError(f"branch {branch!r} changes its jet count at entry {start}")
                layout.skipped[branch] = "different jagged structure from the collection"
                del layout.branches[column]
                continue
            values = ak.flatten(values)
        columns[column] = _native(values)
    event = None
    if layout.jagged:
        entry_ids = np.arange(start, stop, dtype=np.int64)
        if layout.event_branch:
            entry_ids = _native(arrays[layout.event_branch])
        event = np.repeat(entry_ids, counts)
    return Table(columns, event=event, units=dict(layout.units), meta=_meta(layout))


def _meta(layout: Layout) -> dict[str, Any]:
    meta = restore_meta(layout.header_meta, "root")
    meta.pop("event_branch", None)
    meta.update(
        tree=layout.tree_name,
        tree_class=layout.tree_class,
        collection=layout.collection,
        branches=dict(layout.branches),
    )
    if layout.skipped:
        meta["skipped"] = dict(layout.skipped)
    return meta


def _entry_bounds(layout: Layout, chunk_rows: int) -> list[tuple[int, int]]:
    """Entry ranges whose rows stay within chunk_rows (an event is never split)."""
    n_entries = layout.found.handle.num_entries
    if not layout.jagged:
        return [(s, min(s + chunk_rows, n_entries)) for s in range(0, n_entries, chunk_rows)]
    first_branch = next(iter(layout.branches.values()))
    first = layout.read([first_branch], 0, n_entries)[first_branch]
    counts = ak.to_numpy(ak.num(first, axis=1))
    bounds, start, rows = [], 0, 0
    for entry, count in enumerate(counts.tolist()):
        if rows and rows + count > chunk_rows:
            bounds.append((start, entry))
            start, rows = entry, 0
        rows += count
    if start < n_entries:
        bounds.append((start, n_entries))
    return bounds


def iter_root(
    path: Path,
    chunk_rows: int | None,
    *,
    tree: str | None = None,
    collection: str | None = None,
    branches: Sequence[str] | None = None,
) -> Iterator[Table]:
    """The whole tree, or chunks of whole entries holding at most chunk_rows rows each.

    Args:
        tree: tree or RNTuple name; by default the one holding a jet collection.
        collection: branch prefix of the objects (``Jet_``, ``AnalysisJetsAuxDyn.``).
        branches: extra per-object variables to read besides the kinematics (default: all).
    """
    with uproot.open(path) as file:
        layout = _layout(file, tree, collection, branches)
        n_entries = layout.found.handle.num_entries
        bounds = [(0, n_entries)] if chunk_rows is None else _entry_bounds(layout, chunk_rows)
        for start, stop in bounds:
            table = _read_entries(layout, start, stop)
            if layout.jagged:  # every chunk: events without jets after the last one count too
                table.meta["n_events"] = n_entries
            yield table


# ---------------------------------------------------------------------- writing
def _event_runs(event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(event id, row count) of each run of equal ids; each event must be one run."""
    starts = np.flatnonzero(np.r_[True, np.diff(event) != 0])
    ids = event[starts]
    if len(np.unique(ids)) != len(ids):
        raise InputError("writing ROOT needs the rows of each event together (sort by event)")
    return ids, np.diff(np.r_[starts, len(event)])


def _record_names(table: Table) -> tuple[str, dict[str, str]]:
    """Record (collection) name and field names: the source's when it was a '_' collection."""
    prefix = table.meta.get("collection") or ""
    origins = table.meta.get("branches", {})
    if prefix.endswith("_") and all(origins.get(c, "").startswith(prefix) for c in table.names):
        fields = {c: origins[c][len(prefix) :] for c in table.names}
        if len(set(fields.values())) == len(fields):
            return prefix[:-1], fields
    return DEFAULT_RECORD, {c: c for c in table.names}


def _branch_type(values: Any) -> Any:
    return values.type if isinstance(values, ak.Array) else values.dtype


def write_root(table: Table, path: Path, *, tree: str | None = None) -> None:
    """A TTree: jagged per-event branches (``Jet_<column>`` + ``nJet``) when the table has an
    event index, flat branches otherwise. Events without rows are kept when the ids are entry
    numbers (``meta['n_events']`` gives the total); other ids go to an ``event`` branch."""
    tree_name = (tree or table.meta.get("tree") or DEFAULT_TREE).rsplit("/", 1)[-1]
    meta = dict(table.meta, tree=tree_name)
    for stale in ("skipped", "collection", "branches", "event_branch"):
        meta.pop(stale, None)
    with uproot.recreate(path) as file:
        if table.event is None:
            branches: dict[str, Any] = dict(table.columns)
            meta["branches"] = {c: c for c in table.names}
        else:
            ids, counts = _event_runs(table.event)
            n_events = int(table.meta.get("n_events") or 0)
            dense = not ids.size or (  # no rows: n_events empty entries
                ids[0] >= 0 and np.all(np.diff(ids) > 0) and ids[-1] < max(n_events, 2 * len(ids))
            )
            record, fields = _record_names(table)
            branches = {}
            if dense:
                counts = np.bincount(
                    table.event, minlength=max(n_events, ids[-1] + 1 if ids.size else 0)
                )
            else:
                branches[EVENT_BRANCH] = ids
                meta["event_branch"] = EVENT_BRANCH
            branches[record] = ak.zip(
                {fields[c]: ak.unflatten(v, counts) for c, v in table.columns.items()}
            )
            meta["collection"] = f"{record}_"
            meta["branches"] = {c: f"{record}_{fields[c]}" for c in table.names}
        # mktree + extend: assigning a dict would make an RNTuple, which fewer tools read.
        # Entries go in slices so that baskets stay small: a chunked reader then decompresses
        # only the baskets it needs, not one basket holding the whole branch.
        tree_writer = file.mktree(tree_name, {k: _branch_type(v) for k, v in branches.items()})
        n_entries = len(next(iter(branches.values())))
        for start in range(0, n_entries, trees.ENTRIES_PER_BASKET):
            tree_writer.extend(
                {k: v[start : start + trees.ENTRIES_PER_BASKET] for k, v in branches.items()}
            )
        file[HEADER_KEY] = encode_header(Table(table.columns, units=table.units, meta=meta))
