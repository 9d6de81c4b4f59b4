"""Collections of branches and the choice of the standard jet collection.

A collection is the branches sharing a prefix up to the first ``_``, ``.`` or ``:`` (NanoAOD
``Jet_pt``, PHYSLITE ``AnalysisJetsAuxDyn.pt`` / RNTuple ``AnalysisJetsAuxDyn:pt``, Delphes
``Jet.PT``, a ``vector<TLorentzVector>`` flattened to ``selJet.fP.fX``) with the same jagged
structure; event-level scalars sharing a prefix (``MET_pt``, ``MET_phi``) form a per-event
collection. The jets workflow takes the standard jet collection of the layouts we know, and says
which others it saw.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from jetzip.io.names import canonical_name

_PREFIX = re.compile(r"^([^_.:]+)([_.:])(.+)$")
#: Kinematic variable sets that make a collection a candidate for the jets workflow.
KINEMATIC_SETS = ({"pt", "eta", "phi"}, {"px", "py", "pz", "E"})
#: Standard jet collections of the layouts we know, with the reason they win.
STANDARD_JETS: dict[str, str] = {
    "AnalysisJetsAuxDyn": "ATLAS PHYSLITE small-R jets, calibrated (the standard collection)",
    "Jet": "the standard jet collection (CMS NanoAOD, Delphes, flat ntuples)",
}
#: Substrings of jet collections that are not the analysis jets (large-R, truth, raw scale).
NON_STANDARD = ("largeR", "LargeR", "Fat", "Truth", "Gen", "Constit", "Track", "SoftDrop", "AK8")


@dataclass(frozen=True)
class JetPick:
    """The collection the jets workflow reads, why, and the other candidates it saw."""

    collection: str
    separator: str
    why: str
    others: tuple[str, ...]

    @property
    def prefix(self) -> str:
        """Branch-name prefix of its members, e.g. ``Jet_`` or ``AnalysisJetsAuxDyn.``."""
        return self.collection + self.separator


def split_name(name: str) -> tuple[str, str, str] | None:
    """(collection, separator, variable), e.g. ('Jet', '_', 'pt'); None without a separator."""
    match = _PREFIX.match(name)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def group_collections(
    names: Sequence[str], structure: Mapping[str, object]
) -> dict[str, list[str]]:
    """collection -> member branches, for prefixes shared by two or more branches of one
    structure.

    Args:
        names: branch names in source order.
        structure: branch -> a hashable token of its jagged structure (e.g. the counts branch
            name, or "scalar"); branches of one prefix with different tokens are split, and the
            largest group keeps the collection name (the others stay alone).
    """
    by_prefix: dict[str, list[str]] = {}
    for name in names:
        parts = split_name(name)
        if parts:
            by_prefix.setdefault(parts[0], []).append(name)
    found: dict[str, list[str]] = {}
    for prefix, members in by_prefix.items():
        groups: dict[object, list[str]] = {}
        for member in members:
            groups.setdefault(structure[member], []).append(member)
        biggest = max(groups.values(), key=len)
        if len(biggest) >= 2:
            found[prefix] = biggest
    return found


def kinematic_variables(members: Iterable[str]) -> dict[str, str]:
    """canonical variable -> branch for the members of one collection."""
    variables: dict[str, str] = {}
    for name in members:
        parts = split_name(name)
        if parts:
            variables.setdefault(canonical_name(parts[2]), name)
    return variables


def _is_kinematic(members: Iterable[str]) -> bool:
    variables = kinematic_variables(members).keys()
    return any(kinematics <= variables for kinematics in KINEMATIC_SETS)


def _rank(name: str) -> tuple[int, str]:
    """(how sure we are that a collection holds the analysis jets, why)."""
    if name in STANDARD_JETS:
        return 3, STANDARD_JETS[name]
    looks_like_jets = "jet" in name.lower() or re.match(r"^AK\d", name) is not None
    if not looks_like_jets:
        return 0, ""
    if any(marker in name for marker in NON_STANDARD):
        return 1, "the only jets with kinematics (large-R, truth or other non-standard jets)"
    return 2, "jets with kinematics; no standard jet collection in the tree"


def pick_jets(collections: Mapping[str, Sequence[str]], jagged: set[str]) -> JetPick | None:
    """The standard jet collection among `collections` (jagged ones with kinematics), else the
    most jet-like one; None when no collection looks like jets.

    Args:
        jagged: names of the collections holding one list per event (the others are per-event
            scalars, which a flat tree of jets (one jet per entry) may also be).
    """
    candidates = [
        (rank, name in jagged, name, why)
        for name, members in collections.items()
        if _is_kinematic(members)
        for rank, why in [_rank(name)]
        if rank
    ]
    if not candidates:
        return None
    candidates.sort(key=lambda c: (-c[0], not c[1]))
    _, _, best, why = candidates[0]
    separator = split_name(collections[best][0])[1]  # type: ignore[index]
    others = tuple(name for _, _, name, _ in candidates[1:])
    return JetPick(best, separator, why, others)
