"""Column naming shared by all readers: canonical kinematic names, aliases, units, selection.

Sources spell the same quantity many ways (``Jet_mass``, ``AnalysisJetsAuxDyn.m``, ``Jet_E``);
later stages want one spelling (m, pt, eta, phi, E, px, py, pz), so readers map a variable's
suffix through `canonical_name`. Everything here works on finished `Table`s, so every format gets
the same ``alias`` / ``to_ptetaphim`` / ``columns`` behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from jetzip.errors import InputError, OptionError
from jetzip.table import Table

#: Lower-cased variable spellings -> canonical column name.
CANONICAL_NAMES: dict[str, str] = {
    "pt": "pt",
    "eta": "eta",
    "phi": "phi",
    "m": "m",
    "mass": "m",
    "e": "E",
    "energy": "E",
    "px": "px",
    "py": "py",
    "pz": "pz",
    # members of a TLorentzVector (a vector<TLorentzVector> read as a record)
    "fp.fx": "px",
    "fp.fy": "py",
    "fp.fz": "pz",
    "fe": "E",
}

#: Columns whose values carry an energy dimension (their unit is MeV or GeV).
ENERGY_COLUMNS = frozenset({"m", "pt", "E", "px", "py", "pz", "MET"})
#: Dimensionless kinematic columns (labelled "" alongside a guessed energy unit).
ANGLE_COLUMNS = ("eta", "phi", "METphi")

#: Median |pt| (or E) above which an unlabelled table is taken to be in MeV: jets of a few
#: tens of GeV read ~1e4-1e5 in MeV and ~1e1-1e2 in GeV.
MEV_GUESS_THRESHOLD = 1000.0
#: Evenly spaced values whose median decides the guess: a 1000x scale question needs no more,
#: and a full median of a streamed chunk costs as much as quantising one of its columns.
UNIT_GUESS_SAMPLE = 10_001


def canonical_name(variable: str) -> str:
    """The canonical spelling of a kinematic variable, or the variable unchanged."""
    return CANONICAL_NAMES.get(variable.lower(), variable)


def parse_alias(text: str) -> dict[str, str]:
    """Parse ``"old=new,old2=new2"`` (the CLI's --alias) into a mapping."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise OptionError(f"bad alias {item!r}: write old=new (several separated by commas)")
        mapping[old.strip()] = new.strip()
    return mapping


def parse_list(text: str) -> list[str]:
    """Parse a comma-separated CLI list, dropping empty items."""
    return [item.strip() for item in text.split(",") if item.strip()]


def guess_energy_units(table: Table) -> Table:
    """Label energy-like columns MeV or GeV from the pt (or E) scale when no unit is recorded.

    The guess is written into ``meta["units_guessed"]`` so that nobody mistakes it for a fact.
    """
    unlabelled = [n for n in table.names if n in ENERGY_COLUMNS and n not in table.units]
    scale_column = next((n for n in ("pt", "E") if n in table.columns), None)
    if not unlabelled or scale_column is None or table.n_rows == 0:
        return table
    scale = table.columns[scale_column]
    scale = scale[:: max(1, scale.size // UNIT_GUESS_SAMPLE)]
    values = np.abs(scale[np.isfinite(scale)])
    if values.size == 0:
        return table
    # np.median's value from np.partition: np.median imports numpy.ma (~12 ms of every command)
    low, high = (values.size - 1) // 2, values.size // 2
    middle = np.partition(values, (low, high))
    median = (float(middle[low]) + float(middle[high])) / 2
    unit = "MeV" if median > MEV_GUESS_THRESHOLD else "GeV"
    table.units.update(dict.fromkeys(unlabelled, unit))
    angles = [n for n in ANGLE_COLUMNS if n in table.columns and n not in table.units]
    table.units.update(dict.fromkeys(angles, ""))
    table.meta["units_guessed"] = f"{unit} (from the median of {scale_column}, sampled)"
    return table


def apply_alias(table: Table, alias: Mapping[str, str]) -> Table:
    """Rename columns; keys may be column names or original source names in meta['branches']."""
    origins = table.meta.get("branches", {})
    by_origin = {source: column for column, source in origins.items()}
    renames: dict[str, str] = {}
    for old, new in alias.items():
        column = old if old in table.columns else by_origin.get(old)
        if column is None:
            raise InputError(
                f"cannot alias {old!r}: no such column; the table has: {', '.join(table.names)}"
            )
        renames[column] = new
    new_names = [renames.get(n, n) for n in table.names]
    if len(set(new_names)) != len(new_names):
        raise OptionError(f"aliases give duplicate column names: {', '.join(new_names)}")
    meta = dict(table.meta)
    if origins:
        meta["branches"] = {renames.get(c, c): s for c, s in origins.items()}
    return Table(
        {renames.get(n, n): v for n, v in table.columns.items()},
        event=table.event,
        units={renames.get(n, n): u for n, u in table.units.items()},
        meta=meta,
    )


def to_ptetaphim(table: Table) -> Table:
    """Replace Cartesian px, py, pz, E by pt, eta, phi, m (in their place, same float dtype).

    Computed in float64; m follows ROOT's TLorentzVector::M() sign convention (-sqrt(-m^2) for
    space-like four-vectors) so that no value turns into NaN.
    """
    cartesian = ("px", "py", "pz", "E")
    missing = [n for n in cartesian if n not in table.columns]
    if missing:
        raise InputError(
            f"--to-ptetaphim needs columns px, py, pz, E; missing {', '.join(missing)} "
            f"(the table has: {', '.join(table.names)}; --alias can rename)"
        )
    px, py, pz, energy = (table.columns[n].astype(np.float64) for n in cartesian)
    pt = np.hypot(px, py)
    eta = np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0))
    phi = np.arctan2(py, px)
    m2 = energy**2 - (pt**2 + pz**2)
    mass = np.sign(m2) * np.sqrt(np.abs(m2))
    dtype = np.result_type(*(table.columns[n].dtype for n in cartesian), np.float32)
    derived = {"pt": pt, "eta": eta, "phi": phi, "m": mass}
    columns: dict[str, np.ndarray] = {}
    for name, values in table.columns.items():
        if name == "px":
            columns.update({n: v.astype(dtype) for n, v in derived.items()})
        elif name not in cartesian:
            columns[name] = values
    unit = table.units.get("E") or table.units.get("px")
    units = {n: u for n, u in table.units.items() if n not in cartesian}
    if unit is not None:
        units.update({"pt": unit, "m": unit})
    units.update({"eta": "", "phi": ""})
    meta = dict(table.meta)
    meta["converted"] = "px, py, pz, E -> pt, eta, phi, m"
    return Table(columns, event=table.event, units=units, meta=meta)


def select_columns(table: Table, columns: Sequence[str]) -> Table:
    """Keep only `columns`, in that order, with an error listing what exists."""
    table.require(columns)
    selected = table.select(list(columns))
    if "n_events" in table.meta:
        selected.meta["n_events"] = table.meta["n_events"]
    return selected


def postprocess(
    table: Table,
    *,
    alias: Mapping[str, str] | None = None,
    convert_cartesian: bool = False,
    columns: Sequence[str] | None = None,
) -> Table:
    """Apply the format-independent reader options in a fixed order: alias, convert, select."""
    if alias:
        table = apply_alias(table, alias)
    if convert_cartesian:
        table = to_ptetaphim(table)
    if columns:
        table = select_columns(table, columns)
    return table
