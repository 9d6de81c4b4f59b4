"""`jetzip evaluate` on the shared real files: the NanoAOD report's figure count and "% recovered"
on HZZ's Cartesian jets at their 0.1 % bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetzip.cli.main import main
from jetzip.codec import compress_table, decompress_file
from jetzip.evaluate import evaluate
from jetzip.evaluate.metrics import SIGNED_RELATIVE as SIGNED
from jetzip.io import read_table

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "root"
NANOAOD = DATA / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
HZZ = DATA / "uproot-HZZ.root"
HZZ_TOLERANCES = "px=0.1%,py=0.1%,pz=0.1%,E=0.1%"
KINEMATIC = ("pt", "eta", "phi", "m")


def need(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"{path.name} is not in ../shared/data/root (real data absent)")


@pytest.fixture(scope="module")
def hzz_jz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(HZZ)
    jz = tmp_path_factory.mktemp("hzz") / "hzz.jz"
    compress_table(read_table(HZZ), jz, tolerances=HZZ_TOLERANCES)
    return jz


def test_hzz_momenta_are_recovered_within_their_relative_bound(hzz_jz: Path) -> None:
    """px, py, pz, E within 0.1 %: every value counts as recovered within 0.001 (a relative
    residual, as the bound), and the rules come from the file's header."""
    original = read_table(HZZ)
    metrics = evaluate(
        original, decompress_file(hzz_jz), compressed_path=hzz_jz, recovered_within=0.001,
        compare_baselines=False,
    )  # fmt: skip
    for name in ("px", "py", "pz", "E"):
        assert metrics["per_column"][name]["kind"] == ("relative" if name == "E" else SIGNED)
        assert metrics["per_column"][name]["recovered_pct"] == 100.0
        assert metrics["tolerances"][name]["violations"] == 0
    assert metrics["recovered_pct_all"] == 100.0
    assert metrics["tolerances"]["ID"] == pytest.approx(
        {"tolerance": "exact", "violations": 0, "worst_abs_error": 0.0, "worst_ratio": 0.0,
         "worst_row": None}
    )  # fmt: skip


def test_nanoaod_report_is_compact(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """40 jet columns, 4 of them bounded: 12 figures (bytes, 4 distributions, 4 residuals, the
    pair plot, profiles vs pt and eta), each as PNG and PDF; the 36 exact columns are listed."""
    need(NANOAOD)
    jz = tmp_path / "nano.jz"
    compress_table(read_table(NANOAOD), jz, tolerances="pt=0.1%,m=0.1%,eta=0.001,phi=0.001")
    out = tmp_path / "report"
    assert main(["evaluate", str(NANOAOD), str(jz), "-o", str(out), "--style", "CMS"]) == 0
    assert capfd.readouterr().err == ""
    pngs = sorted(p.stem for p in (out / "plots").glob("*.png"))
    per_column = [f"{kind}_{c}" for kind in ("distribution", "residual") for c in KINEMATIC]
    expected = ["bytes_per_jet", "residual_corner", "profile_vs_pt", "profile_vs_eta", *per_column]
    assert pngs == sorted(expected)
    assert sorted(p.stem for p in (out / "plots").glob("*.pdf")) == pngs
    metrics = json.loads((out / "metrics.json").read_text())
    exact = [n for n, t in metrics["tolerances"].items() if t["tolerance"] == "exact"]
    assert len(exact) == 36 and all(metrics["tolerances"][n]["violations"] == 0 for n in exact)
    methods = [m["method"] for m in metrics["compression"]["baselines"]["methods"]]
    assert methods[0] == "jetzip (this file)" and "CMS NanoAOD precision + LZMA" in methods
    assert "Not plotted, reproduced exactly (36)" in (out / "index.html").read_text()


def test_whole_file_report_has_a_section_per_collection(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A whole-file .jz (NanoAOD precision) of the jets and a few event-level branches: a Jet
    section and an event-level one, each with the header's rules, all met."""
    need(NANOAOD)
    import jetzip

    jz = tmp_path / "whole.jz"
    branches = "Jet_pt,Jet_eta,Jet_phi,Jet_mass,Jet_jetId,nJet,MET_pt,run"
    jetzip.compress(NANOAOD, jz, precision="nanoaod", branches=branches)
    out = tmp_path / "report"
    assert main(["evaluate", str(NANOAOD), str(jz), "-o", str(out), "--style", "CMS"]) == 0
    assert capfd.readouterr().err == ""
    sections = json.loads((out / "metrics.json").read_text())["sections"]
    assert list(sections) == ["Jet", "event-level branches"]
    jets, events = sections["Jet"], sections["event-level branches"]
    assert jets["n_rows"] == 537 and events["n_rows"] == 200
    assert "pt" in jets["columns"] and "MET_pt" in events["columns"]
    rules = {**jets["tolerances"], **events["tolerances"]}
    assert jets["tolerances"]["pt"]["tolerance"] != "exact"
    assert all(t["violations"] == 0 for t in rules.values())
    pngs = [p.stem for p in (out / "plots").glob("*.png")]
    assert 0 < len(pngs) <= 25 and "Jet_residual_pt" in pngs
    assert "Jet (537 objects)" in (out / "index.html").read_text()
