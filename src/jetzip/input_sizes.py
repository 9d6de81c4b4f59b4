"""What the stored part of an input file weighs in that file, for honest size ratios.

Comparing a `.jz` holding 50 of a file's 1,000 branches with the whole input file flatters
jetzip by 20x. `stored_input_bytes` gives the input's own compressed bytes of exactly the
branches a `.jz` stores, from the file's metadata (nothing is decompressed):

- TTree: each branch's `fZipBytes` (uproot's `compressed_bytes`: its baskets with their keys).
  Baskets kept inside the TTree object itself (small files written in one go) are not counted
  there; their share of the TTree's own compressed key, in proportion to their uncompressed
  bytes, is used instead, and the result is marked as estimated.
- RNTuple: the compressed sizes of every page of every column under the stored fields
  (projected fields count the columns they alias, each physical column once).
- Parquet: the compressed size of the stored columns' chunks in every row group.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uproot


def _ttree_bytes(file: Any, found: Any, names: Sequence[str]) -> dict[str, Any] | None:
    branches = {leaf.name: leaf.branch for leaf in found.leaves}
    if not all(name in branches for name in names):
        return None

    def embedded(branch: Any) -> int:
        return sum(int(b.border) for b in branch.embedded_baskets or [])

    stored = [branches[name] for name in names]
    zipped = sum(int(b.member("fZipBytes")) for b in stored)
    inside = sum(embedded(b) for b in stored)
    if not inside:
        return {"bytes": zipped, "estimated": False}
    everything = sum(embedded(b) for b in found.handle.itervalues(recursive=True))
    key = file.key(found.name).data_compressed_bytes
    return {"bytes": zipped + round(key * inside / everything), "estimated": True}


def _rntuple_bytes(ntuple: Any, names: Sequence[str]) -> dict[str, Any] | None:
    fields = ntuple.field_records
    top = {f.field_name: i for i, f in enumerate(fields) if f.parent_field_id == i}
    if not all(name in top for name in names):
        return None

    def root_of(i: int) -> int:
        while fields[i].parent_field_id != i:
            i = fields[i].parent_field_id
        return i

    wanted = {top[name] for name in names}
    columns = {i for i, c in enumerate(ntuple.column_records) if root_of(c.field_id) in wanted}
    columns |= {a.physical_id for a in ntuple.alias_column_records if root_of(a.field_id) in wanted}
    total = 0
    for cluster in ntuple.page_link_list:
        for column in columns:
            total += sum(page.locator.num_bytes for page in cluster[column].pages)
    return {"bytes": total, "estimated": False}


def _parquet_bytes(path: Path, names: Sequence[str]) -> dict[str, Any] | None:
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(path).metadata
    keep = set(names)
    total = 0
    for g in range(metadata.num_row_groups):
        group = metadata.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            if column.path_in_schema.split(".", 1)[0] in keep:
                total += column.total_compressed_size
    return {"bytes": total, "estimated": False}


#: What a file's metadata may raise where it cannot tell a branch's bytes.
_UNTOLD = (OSError, KeyError, IndexError, AttributeError, ValueError, ZeroDivisionError)


def stored_input_bytes(
    path: str | os.PathLike[str], tree: str | None, kind: str | None, names: Sequence[str]
) -> dict[str, Any] | None:
    """{"bytes": the input's compressed bytes of branches `names`, "estimated": bool}, or
    None where they cannot be told (a name or a record the file's metadata does not resolve:
    the figure is information for a summary, never a reason to fail a compression)."""
    from jetzip.io.trees import tree_leaves

    path = Path(path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return _parquet_bytes(path, names)
        if tree is None:
            return None
        with uproot.open(path) as file:
            if kind == "RNTuple":
                return _rntuple_bytes(file[tree], names)
            return _ttree_bytes(file, tree_leaves(file, tree, "TTree"), names)
    except _UNTOLD:
        return None


def tree_input_bytes(file: Any, found: Any, names: Sequence[str]) -> dict[str, Any] | None:
    """`stored_input_bytes` of a tree whose file is open and whose leaves were listed
    (`jetzip.io.trees.TreeLeaves`): what a reader measures while it reads."""
    try:
        if found.kind == "RNTuple":
            return _rntuple_bytes(found.handle, names)
        return _ttree_bytes(file, found, names)
    except _UNTOLD:
        return None


def trees_in(path: str | os.PathLike[str]) -> int:
    """How many trees (TTrees and RNTuples) a ROOT file holds; 1 for other formats."""
    from jetzip.io.trees import TREE_CLASSES

    path = Path(path)
    if path.suffix.lower() != ".root":
        return 1
    with uproot.open(path) as file:
        classes = file.classnames(recursive=True, cycle=False).values()
        return sum(1 for c in classes if c in TREE_CLASSES)
