"""The built-in generator: Pythia 8 + FastJet jets, substructure, reproducibility, cache, CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from jetzip.cli.main import main
from jetzip.errors import OptionError
from jetzip.generate import COLUMNS, GeneratorSettings, GeneratorUnavailableError, generate_jets
from jetzip.generate.substructure import Constituents, jet_shapes, nsubjettiness
from jetzip.table import Table

N_EVENTS = 120
BLOCK = 40  # three blocks, so that two workers really share the work
SEED = 7


@pytest.fixture(scope="module")
def jets() -> Table:
    pytest.importorskip("pythia8mc", reason="the [generate] extra (Pythia 8) is not installed")
    pytest.importorskip("fastjet", reason="the [generate] extra (FastJet) is not installed")
    return generate_jets(N_EVENTS, seed=SEED, block_size=BLOCK, workers=1, progress=False)


# ---------------------------------------------------------------- generated jets
def test_columns_units_and_types(jets: Table) -> None:
    assert jets.names == list(COLUMNS)
    assert jets.units["m"] == jets.units["pt"] == jets.units["E"] == "MeV"
    for name, (_, dtype) in COLUMNS.items():
        assert jets[name].dtype == dtype, name
    assert jets.n_rows > 2 * N_EVENTS  # QCD events at pT-hat > 150 GeV give several jets each
    assert jets.n_events == N_EVENTS
    assert jets.meta["generator"]["seed"] == SEED


def test_jets_pass_selection_and_are_physical(jets: Table) -> None:
    pt, m, energy, eta, phi = (jets[n].astype(np.float64) for n in ("pt", "m", "E", "eta", "phi"))
    assert np.all(pt > 20_000.0)  # 20 GeV threshold, in MeV
    assert np.all(m >= 0)
    assert np.all(energy >= pt * (1 - 1e-6))
    assert np.all(np.abs(eta) < 4.9)
    assert np.all(phi > -np.float32(np.pi)) and np.all(phi <= np.float32(np.pi))
    # m, pt, eta, E describe one four-vector: E^2 = m^2 + (pt cosh eta)^2
    np.testing.assert_allclose(energy, np.hypot(m, pt * np.cosh(eta)), rtol=1e-4)
    n, n_charged = jets["n_constituents"], jets["n_charged"]
    assert np.all(n >= 1) and np.all((n_charged >= 0) & (n_charged <= n))
    for fraction in ("lead_pt_frac", "charged_pt_frac"):
        assert np.all((jets[fraction] >= 0) & (jets[fraction] <= 1)), fraction
    assert np.all(jets["charged_pt_frac"][n_charged == 0] == 0)
    ptd = jets["ptd"].astype(np.float64)
    assert np.all((ptd >= 1 / np.sqrt(n) - 1e-6) & (ptd <= 1 + 1e-6))  # 1/sqrt(n) <= pT_D <= 1
    assert np.all(jets["width"] >= 0) and np.all(jets["width"] < 1.0)
    for tau in ("tau1", "tau2", "tau3"):
        assert np.all(jets[tau] >= 0), tau
    assert np.all(jets["tau3"][n <= 3] == 0)


def test_events_numbered_and_jets_pt_ordered(jets: Table) -> None:
    event = jets.event
    assert event is not None
    assert np.all(np.diff(event) >= 0) and event.min() >= 0 and event.max() < N_EVENTS
    same_event = np.diff(event) == 0
    assert np.all(np.diff(jets["pt"])[same_event] <= 0)


def test_same_seed_same_table_whatever_the_worker_count(jets: Table) -> None:
    again = generate_jets(N_EVENTS, seed=SEED, block_size=BLOCK, workers=2, progress=False)
    assert again.equals(jets)
    other_seed = generate_jets(BLOCK, seed=SEED + 1, block_size=BLOCK, workers=1, progress=False)
    first_block = jets.take(jets.event < BLOCK)
    assert not np.array_equal(other_seed["pt"][:5], first_block["pt"][:5])


def test_cache_hit_returns_the_stored_table(
    jets: Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = {"seed": SEED, "block_size": BLOCK, "workers": 1, "cache_dir": tmp_path}
    expected = jets.take(jets.event < BLOCK)  # block 0 does not depend on the total count
    first = generate_jets(BLOCK, use_cache=True, progress=True, **options)
    entries = list(tmp_path.rglob("*.npz"))
    assert len(entries) == 1
    assert "using cached" not in capsys.readouterr().err
    second = generate_jets(BLOCK, use_cache=True, progress=True, **options)
    assert "using cached jets" in capsys.readouterr().err
    assert first.equals(expected) and second.equals(expected)
    assert second.units == first.units and second.meta == first.meta
    # a damaged entry is regenerated, not trusted; other settings make another entry
    entries[0].write_bytes(entries[0].read_bytes()[:100])
    assert generate_jets(BLOCK, use_cache=True, progress=False, **options).equals(expected)
    generate_jets(BLOCK, use_cache=True, progress=False, **{**options, "seed": SEED + 1})
    assert len(list(tmp_path.rglob("*.npz"))) == 2


# ---------------------------------------------------------------- options and errors
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_events": 0}, "number of events must be at least 1"),
        ({"n_events": -3}, "number of events must be at least 1"),
        ({"n_events": 2.5}, "number of events must be an integer"),
        ({"n_events": 10, "seed": -1}, "seed must be at least 0"),
        ({"n_events": 10, "pthat_min": 0.0}, "pT-hat minimum"),
        ({"n_events": 10, "jet_pt_min": -1.0}, "jet pt threshold"),
        ({"n_events": 10, "eta_max": float("nan")}, "|eta| acceptance"),
        ({"n_events": 10, "jet_radius": 3.0}, "jet radius"),
        ({"n_events": 10, "process": "higgs"}, "unknown process 'higgs'"),
        ({"n_events": 10, "process": "wprime_wz", "resonance_mass": 50.0}, "resonance mass"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(options: dict, message: str) -> None:
    with pytest.raises(OptionError, match=message.replace("|", r"\|")):
        GeneratorSettings(**options)


def test_signal_processes_give_boosted_heavy_jets(jets: Table) -> None:
    """W' -> W Z (2 TeV): the leading jets are ~1 TeV with the W/Z mass; QCD's are light."""
    signal = generate_jets(30, seed=SEED, process="wprime_wz", workers=1, progress=False)
    assert signal.meta["generator"]["process"] == "wprime_wz"

    def leading(table: Table) -> np.ndarray:
        first = np.r_[True, np.diff(table.event) != 0]  # jets are pt-ordered per event
        return np.flatnonzero(first)

    lead = leading(signal)
    assert np.median(signal["pt"][lead]) > 500e3
    assert 60e3 < np.median(signal["m"][lead]) < 110e3
    assert np.median(jets["m"][leading(jets)]) < 50e3
    # a QCD run's settings (and so its cache key) do not mention the signal fields
    assert "process" not in jets.meta["generator"]
    top = GeneratorSettings(n_events=10, process="zprime_ttbar", resonance_mass=3000.0)
    assert top.describe()["resonance_mass"] == 3000.0
    assert top.cache_key() != GeneratorSettings(n_events=10).cache_key()


def test_bad_worker_count_is_refused() -> None:
    with pytest.raises(OptionError, match="number of workers"):
        generate_jets(10, workers=0, progress=False)


def test_missing_pythia_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pythia8mc", None)  # makes `import pythia8mc` fail
    with pytest.raises(GeneratorUnavailableError, match=r"pip install 'jetzip\[generate\]'"):
        generate_jets(10, progress=False)


def test_cli_bad_option_is_one_line_and_nonzero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "jets.parquet"
    assert main(["generate", "-n", "0", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "number of events must be at least 1" in err
    assert not out.exists()


def test_cli_writes_table_and_reuses_cache(
    jets: Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    read_table = pytest.importorskip("jetzip.io").read_table
    monkeypatch.setenv("JETZIP_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "jets.parquet"
    argv = ["generate", "-n", str(BLOCK), "--seed", str(SEED), "--workers", "1", "-o", str(out)]
    expected = jets.take(jets.event < BLOCK)  # block 0 does not depend on the total count
    for run in ("generated", "cached"):
        out.unlink(missing_ok=True)
        assert main(argv) == 0, run
        written = read_table(out)
        assert written.names == expected.names
        for name in expected.names:
            np.testing.assert_array_equal(written[name], expected[name])
        np.testing.assert_array_equal(written.event, expected.event)
        captured = capsys.readouterr()
        assert ("using cached jets" in captured.err) == (run == "cached")
        assert f"wrote {expected.n_rows:,} jets" in captured.out
    assert len(list((tmp_path / "cache").rglob("*.npz"))) == 1


# ---------------------------------------------------------------- substructure definitions
def _two_jets() -> tuple[Constituents, np.ndarray, np.ndarray, np.ndarray]:
    """Jet 0: pt 30 (charge +1) at the axis and pt 10 (neutral) 0.2 away in rapidity.
    Jet 1: one charged constituent of pt 50 (charge -1) on its axis."""
    constituents = Constituents(
        counts=np.array([2, 1]),
        pt=np.array([30.0, 10.0, 50.0]),
        rapidity=np.array([0.0, 0.2, 1.0]),
        phi=np.array([3.1, 3.1, -3.0]),
        charge=np.array([1.0, 0.0, -1.0]),
    )
    jet_pt, jet_rapidity, jet_phi = (
        np.array([40.0, 50.0]),
        np.array([0.0, 1.0]),
        np.array([3.1, -3.0]),
    )
    return constituents, jet_pt, jet_rapidity, jet_phi


def test_jet_shapes_match_their_definitions() -> None:
    shapes = jet_shapes(*_two_jets())
    np.testing.assert_array_equal(shapes["n_constituents"], [2, 1])
    np.testing.assert_array_equal(shapes["n_charged"], [1, 1])
    np.testing.assert_allclose(shapes["width"], [10 * 0.2 / 40, 0.0], atol=1e-12)
    np.testing.assert_allclose(shapes["ptd"], [np.sqrt(30**2 + 10**2) / 40, 1.0])
    np.testing.assert_allclose(shapes["lead_pt_frac"], [30 / 40, 1.0])
    np.testing.assert_allclose(shapes["charged_pt_frac"], [30 / 40, 1.0])
    np.testing.assert_allclose(shapes["jet_charge"], [np.sqrt(30 / 40), -1.0])


def test_nsubjettiness_wraps_phi_and_zeroes_small_jets() -> None:
    constituents, *_ = _two_jets()
    # one axis per jet, across the phi = +-pi seam from the constituents of jet 0
    axes_y, axes_phi = np.array([[0.0], [0.0]]), np.array([[-3.1], [0.0]])
    tau1 = nsubjettiness(constituents, axes_y, axes_phi, radius=0.4)
    seam = 2 * np.pi - 6.2
    expected_jet0 = (30 * seam + 10 * np.hypot(0.2, seam)) / (0.4 * 40)
    np.testing.assert_allclose(tau1, [expected_jet0, 0.0])  # jet 1 has only one constituent


def test_vectorised_nsubjettiness_matches_per_jet_fastjet() -> None:
    """tau_N of the block code equals a plain per-jet computation with FastJet's classic API."""
    fastjet = pytest.importorskip("fastjet", reason="the [generate] extra is not installed")
    import awkward as ak

    from jetzip.generate.events import _exclusive_kt_axes

    rng = np.random.default_rng(3)
    counts = np.array([7, 2, 12, 4])
    n = int(counts.sum())
    pt = rng.exponential(5.0, n) + 0.5
    rapidity = rng.normal(0.0, 0.15, n) + np.repeat([0.5, -1.0, 2.0, 0.0], counts)
    phi = (rng.normal(0.0, 0.15, n) + np.repeat([3.0, 0.0, -1.0, 2.0], counts) + np.pi) % (
        2 * np.pi
    ) - np.pi
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(rapidity)
    energy = pt * np.cosh(rapidity)  # massless
    constituents = Constituents(counts, pt, rapidity, phi, np.zeros(n))
    momenta = ak.unflatten(ak.zip({"px": px, "py": py, "pz": pz, "E": energy}), counts)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    for n_axes in (1, 2, 3):
        axes_y, axes_phi = _exclusive_kt_axes(momenta, counts, n_axes, fastjet)
        vectorised = nsubjettiness(constituents, axes_y, axes_phi, 0.4)
        for j, (start, count) in enumerate(zip(starts, counts, strict=True)):
            members = np.arange(start, start + count)
            if count <= n_axes:
                assert vectorised[j] == 0
                continue
            particles = [fastjet.PseudoJet(px[k], py[k], pz[k], energy[k]) for k in members]
            sequence = fastjet.ClusterSequence(
                particles, fastjet.JetDefinition(fastjet.kt_algorithm, 4.0, fastjet.WTA_pt_scheme)
            )
            axes = sequence.exclusive_jets(n_axes)
            total = sum(
                pt[k] * min(np.hypot(rapidity[k] - a.rap(), _dphi(phi[k], a.phi())) for a in axes)
                for k in members
            )
            assert vectorised[j] == pytest.approx(total / (0.4 * pt[members].sum()), rel=1e-9)


def _dphi(a: float, b: float) -> float:
    return abs((a - b + np.pi) % (2 * np.pi) - np.pi)
