"""Precision policy of whole files: glob rules and named presets, resolved once per file.

`--tolerance '*_pt=0.1%,*_eta=0.001,Jet_mass=0.05%'` gives a bound per original branch name;
`--precision nanoaod|physlite|lossless` names a preset. Resolution happens once, before any
coding, into a branch -> rule map that the file records (`jetzip info` lists it):

- Only floating-point branches get a bound; integers, bools and counts are always exact, and so
  is a float branch no rule covers.
- The most specific matching pattern wins: the one with the most literal characters (`*`, `?`
  and a `[...]` set count none), so an exact name beats every glob and `Jet_pt*` beats `*_pt`.
  Two patterns of equal specificity with different bounds are an error naming both.
- `--tolerance` rules beat preset rules whatever their specificity (a preset is the default the
  user refines).
- A `--tolerance` pattern that matches no branch, or only branches that are always exact, is an
  error: a typo never silently leaves data at full precision.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass

from jetzip.baselines import NANOAOD_JET_BITS
from jetzip.codec.tolerance import Tolerance, parse_tolerances
from jetzip.errors import OptionError

#: Branch-name globs: letters, digits, the separators of NanoAOD/PHYSLITE/Delphes/RNTuple names
#: (`_ . : [ ]`) and the wildcards `* ?`.
PATTERN = re.compile(r"^[A-Za-z0-9_.:\-\[\]*?]+$")
_WILDCARD = re.compile(r"\*|\?|\[[^\]]*\]")


def mantissa_tolerance(bits: int) -> Tolerance:
    """The bound that rounding a float's mantissa to `bits` bits (round to nearest) meets:
    |x' - x| <= 2^-(bits+1) |x|."""
    return Tolerance(2.0 ** -(bits + 1), relative=True)


#: `nanoaod`: the mantissa bits CMS NanoAOD keeps (jetzip.baselines.NANOAOD_JET_BITS, the
#: `precision=` of its table producers) as the relative bound that rounding meets, on every
#: collection's kinematics (Jet_pt, Muon_eta, MET_phi, ...).
NANOAOD_PRESET: dict[str, Tolerance] = {
    f"*_{name}": mantissa_tolerance(NANOAOD_JET_BITS[name]) for name in ("pt", "eta", "phi", "mass")
}
#: `physlite`: PHYSLITE stores float32 kinematics in MeV. pt, m and e get NanoAOD's 10-bit bound
#: (4.9e-4 relative, 20x below the ~1 % jet energy scale uncertainty); eta and phi an absolute
#: 5e-4, below the ~1e-3 angular resolution of tracks and far below the 0.025 calorimeter cells.
#: Names end in `.pt` (TTree) or `:pt` (RNTuple fields).
PHYSLITE_PRESET: dict[str, Tolerance] = {
    **{f"*[.:]{name}": mantissa_tolerance(10) for name in ("pt", "m", "e")},
    **{f"*[.:]{name}": Tolerance(5e-4, relative=False) for name in ("eta", "phi")},
}
PRESETS: dict[str, dict[str, Tolerance]] = {
    "nanoaod": NANOAOD_PRESET,
    "physlite": PHYSLITE_PRESET,
    "lossless": {},
}


def specificity(pattern: str) -> int:
    """Literal characters of a glob (wildcards and character sets count none)."""
    return len(_WILDCARD.sub("", pattern))


@dataclass(frozen=True)
class Rule:
    """One bound and where it came from (`--tolerance` or `preset NAME`)."""

    pattern: str
    tolerance: Tolerance
    origin: str

    def describe(self) -> str:
        """`0.1% (*_pt, --tolerance)`, as `jetzip info` lists it."""
        return f"{self.tolerance.to_text()} ({self.pattern}, {self.origin})"


@dataclass(frozen=True)
class Policy:
    """User rules (from `--tolerance`) over preset rules (from `--precision`)."""

    user: tuple[Rule, ...] = ()
    preset: tuple[Rule, ...] = ()
    preset_name: str | None = None

    @property
    def lossless(self) -> bool:
        return not self.user and not self.preset

    def describe(self) -> str:
        """The policy as the user gave it (recorded in the file)."""
        pieces = [f"precision {self.preset_name}"] if self.preset_name else []
        if self.user:
            text = ",".join(f"{r.pattern}={r.tolerance.to_text()}" for r in self.user)
            pieces.append(f"tolerance {text}")
        return "; ".join(pieces) or "lossless"

    def resolve(self, branches: Mapping[str, bool]) -> dict[str, Rule | None]:
        """Branch -> its rule (None: stored exactly); `branches` maps each name to whether it
        holds floating-point values. Raises OptionError for a user pattern that matches no
        branch or only exact ones, and for equally specific patterns that disagree."""
        for rule in self.user:
            matched = [b for b in branches if fnmatch.fnmatchcase(b, rule.pattern)]
            if not matched:
                raise OptionError(
                    f"tolerance pattern {rule.pattern!r} matches no branch "
                    f"({_examples(list(branches))})"
                )
            if not any(branches[b] for b in matched):
                raise OptionError(
                    f"tolerance pattern {rule.pattern!r} matches only integer or bool branches "
                    f"({_examples(matched)}), which are always stored exactly"
                )
        return {
            name: (_most_specific(name, self.user) or _most_specific(name, self.preset))
            if is_float
            else None
            for name, is_float in branches.items()
        }


def _examples(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return f"{shown}, ... ({len(names)} in all)" if len(names) > limit else shown


def _most_specific(name: str, rules: tuple[Rule, ...]) -> Rule | None:
    matching = [r for r in rules if fnmatch.fnmatchcase(name, r.pattern)]
    if not matching:
        return None
    best = max(specificity(r.pattern) for r in matching)
    top = [r for r in matching if specificity(r.pattern) == best]
    if len({r.tolerance for r in top}) > 1:
        raise OptionError(
            f"branch {name!r} matches {' and '.join(repr(r.pattern) for r in top)} equally "
            "specifically with different tolerances; add a more specific pattern"
        )
    return top[0]


def parse_policy(
    tolerance: str | Mapping[str, Tolerance] | None = None, precision: str | None = None
) -> Policy:
    """The policy of `--tolerance` globs and a `--precision` preset (neither: lossless)."""
    preset: tuple[Rule, ...] = ()
    if precision is not None:
        if precision not in PRESETS:
            raise OptionError(
                f"unknown precision preset {precision!r}; choose from {', '.join(PRESETS)}"
            )
        preset = tuple(
            Rule(pattern, tol, f"preset {precision}") for pattern, tol in PRESETS[precision].items()
        )
    rules: Mapping[str, Tolerance] = {}
    if isinstance(tolerance, str):
        rules = parse_tolerances(tolerance, name_pattern=PATTERN)
    elif tolerance is not None:
        rules = tolerance
    if precision == "lossless" and rules:
        raise OptionError("--precision lossless takes no --tolerance")
    user = tuple(Rule(pattern, tol, "--tolerance") for pattern, tol in rules.items())
    return Policy(user, preset, precision)
