"""A real client: coffea's NanoAODSchema opens a decompressed NanoAOD file like the original."""

from __future__ import annotations

import warnings

import awkward as ak
import pytest

from conftest import ROOT_DIR, require_shared
from jetzip.cli.main import main

nanoevents = pytest.importorskip("coffea.nanoevents", reason="coffea is a dev dependency")

#: --precision nanoaod: pt and mass keep 10 mantissa bits, eta and phi 12.
PT_BOUND, ETA_BOUND = 2.0**-11, 2.0**-13


def events(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # coffea warns about branches it does not model
        factory = nanoevents.NanoEventsFactory.from_root(
            {str(path): "Events"}, schemaclass=nanoevents.NanoAODSchema, mode="eager"
        )
        return factory.events()


def test_coffea_reads_decompressed_nanoaod_within_the_rules(tmp_path, capsys) -> None:
    source = require_shared(ROOT_DIR / "nanoAOD_2015_CMS_Open_Data_ttbar.root")
    jz, back = tmp_path / "nano.jz", tmp_path / "back.root"
    keep = "run,luminosityBlock,event,nJet,Jet_*,nMuon,Muon_*,MET_*,nElectron,Electron_*"
    argv = ["compress", str(source), "-o", str(jz), "--precision", "nanoaod", "--quiet"]
    assert main([*argv, "--branches", keep]) == 0
    assert main(["decompress", str(jz), "-o", str(back)]) == 0
    capsys.readouterr()
    original, restored = events(source), events(back)
    assert len(restored) == len(original) == 200
    for got, want, bound in (
        (restored.Jet.pt, original.Jet.pt, PT_BOUND),
        (restored.Muon.eta, original.Muon.eta, ETA_BOUND),
        (restored.MET.pt, original.MET.pt, PT_BOUND),
    ):
        assert ak.all(ak.num(got, axis=-1) == ak.num(want, axis=-1)) if got.ndim > 1 else True
        assert ak.all(abs(got - want) <= bound * abs(want))
    # analysis code written for the original runs unchanged: cross-references resolve
    matched, want = restored.Jet.matched_muons, original.Jet.matched_muons
    assert ak.all(ak.flatten(ak.num(matched, axis=2)) == ak.flatten(ak.num(want, axis=2)))
