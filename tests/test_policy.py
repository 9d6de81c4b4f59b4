"""Precision policy of whole files: glob rules, specificity, presets, errors."""

from __future__ import annotations

import pytest

from jetzip.baselines import NANOAOD_JET_BITS
from jetzip.codec.policy import PRESETS, parse_policy, specificity
from jetzip.codec.tolerance import Tolerance
from jetzip.errors import OptionError

NANO = {
    "Jet_pt": True,
    "Jet_eta": True,
    "Jet_phi": True,
    "Jet_mass": True,
    "Jet_chHEF": True,
    "nJet": False,
    "Jet_jetId": False,
    "MET_pt": True,
    "HLT_IsoMu24": False,
}


def tolerances(resolved):
    return {name: None if rule is None else rule.tolerance for name, rule in resolved.items()}


def test_specificity_counts_literal_characters_only() -> None:
    assert specificity("Jet_pt") == 6
    assert specificity("*_pt") == 3
    assert specificity("*[.:]pt") == 2
    assert specificity("Jet_?t") == 5


def test_most_specific_pattern_wins_and_exact_names_beat_globs() -> None:
    policy = parse_policy("*_pt=0.1%,Jet_pt=0.01%,Jet_*=0.5%,*=1%")
    got = tolerances(policy.resolve(NANO))
    assert got["Jet_pt"] == Tolerance(1e-4, True)  # exact name
    assert got["MET_pt"] == Tolerance(1e-3, True)  # *_pt (3 literals) beats * (0)
    assert got["Jet_eta"] == Tolerance(5e-3, True)  # Jet_* (4) beats *
    # integers and bools are exact whatever matches them
    assert got["nJet"] is None and got["Jet_jetId"] is None and got["HLT_IsoMu24"] is None


def test_branch_no_rule_covers_is_exact() -> None:
    got = tolerances(parse_policy("Jet_pt=0.1%").resolve(NANO))
    assert got["Jet_pt"] == Tolerance(1e-3, True)
    assert {k for k, v in got.items() if v is not None} == {"Jet_pt"}


def test_nanoaod_preset_is_the_mantissa_table_as_bounds() -> None:
    got = tolerances(parse_policy(precision="nanoaod").resolve(NANO))
    for name, short in (("Jet_pt", "pt"), ("Jet_eta", "eta"), ("Jet_phi", "phi")):
        assert got[name] == Tolerance(2.0 ** -(NANOAOD_JET_BITS[short] + 1), True)
    assert got["Jet_mass"] == Tolerance(2.0**-11, True)
    assert got["MET_pt"] == got["Jet_pt"]
    assert got["Jet_chHEF"] is None  # NanoAOD's table leaves it at full precision


def test_user_rules_beat_the_preset() -> None:
    policy = parse_policy("*=0.2%", precision="nanoaod")
    got = tolerances(policy.resolve(NANO))
    assert got["Jet_pt"] == Tolerance(2e-3, True)  # '*' is less specific but the user's
    assert policy.describe() == "precision nanoaod; tolerance *=0.2%"


def test_physlite_preset_covers_ttree_and_rntuple_names() -> None:
    names = {"AnalysisJetsAuxDyn.pt": True, "AnalysisJetsAuxDyn:eta": True, "X.m": True}
    got = tolerances(parse_policy(precision="physlite").resolve(names))
    assert got["AnalysisJetsAuxDyn.pt"] == Tolerance(2.0**-11, True)
    assert got["AnalysisJetsAuxDyn:eta"] == Tolerance(5e-4, False)
    assert got["X.m"] == Tolerance(2.0**-11, True)
    assert set(PRESETS) == {"nanoaod", "physlite", "lossless"}


@pytest.mark.parametrize(
    ("tolerance", "precision", "message"),
    [
        ("Nope_*=0.1%", None, "matches no branch"),
        ("nJet=0.1%", None, "only integer or bool branches"),
        ("Jet_p*=0.1%,*et_pt=0.2%", None, "equally specifically"),
        (None, "cms", "unknown precision preset 'cms'"),
        ("Jet_pt=0.1%", "lossless", "lossless takes no --tolerance"),
        ("Jet pt=0.1%", None, "malformed column name"),
        ("Jet_pt=-1", None, "positive finite"),
    ],
)
def test_bad_policies_are_one_clear_error(tolerance, precision, message) -> None:
    with pytest.raises(OptionError, match=message) as error:
        parse_policy(tolerance, precision).resolve(NANO)
    assert "\n" not in str(error.value)


def test_lossless_policy_has_no_rules() -> None:
    policy = parse_policy(precision="lossless")
    assert policy.lossless and all(v is None for v in policy.resolve(NANO).values())
    assert parse_policy().describe() == "lossless"
