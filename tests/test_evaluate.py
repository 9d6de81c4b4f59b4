"""Evaluation metrics on tables with exactly known residuals, and the errors for bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from jetzip.errors import InputError, OptionError
from jetzip.evaluate import evaluate
from jetzip.evaluate.metrics import (
    ABSOLUTE,
    ANGLE,
    RELATIVE,
    core_sigma,
    residual_kind,
    wrap_angle,
)
from jetzip.models import TrainedModel, build_model
from jetzip.table import Table
from jetzip.transforms import build_normaliser


def jets(**columns: list[float]) -> Table:
    return Table({k: np.asarray(v, dtype=np.float64) for k, v in columns.items()})


def test_residual_kinds_follow_physics_names() -> None:
    assert residual_kind("pt") == RELATIVE
    assert residual_kind("Jet_mass") == RELATIVE
    assert residual_kind("AnalysisJetsAuxDyn.m") == RELATIVE
    assert residual_kind("E") == RELATIVE
    assert residual_kind("Jet_phi") == ANGLE
    assert residual_kind("eta") == ABSOLUTE
    assert residual_kind("EMFrac") == ABSOLUTE


def test_relative_and_absolute_statistics_are_exact() -> None:
    pt = np.array([100.0, 200.0, 400.0, 800.0])
    eta = np.array([0.5, -1.0, 2.0, 0.0])
    original = jets(pt=pt, eta=eta)
    reconstructed = jets(
        pt=pt * np.array([1.01, 0.99, 1.01, 0.99]), eta=eta + np.array([0.3, -0.3, 0.4, -0.4])
    )
    metrics = evaluate(original, reconstructed, recovered_within=0.35)

    s = metrics["per_column"]["pt"]
    assert s["kind"] == RELATIVE
    assert s["mean"] == pytest.approx(0.0, abs=1e-15)
    assert s["rms"] == pytest.approx(0.01, rel=1e-12)
    assert s["std"] == pytest.approx(0.01, rel=1e-12)
    assert s["max_abs"] == pytest.approx(0.01, rel=1e-12)
    assert s["average_abs_error"] == pytest.approx(0.01, rel=1e-12)
    assert s["recovered_pct"] == 100.0

    e = metrics["per_column"]["eta"]
    assert e["kind"] == ABSOLUTE
    assert e["rms"] == pytest.approx(math.sqrt((0.09 + 0.09 + 0.16 + 0.16) / 4), rel=1e-12)
    assert e["max_abs"] == pytest.approx(0.4, rel=1e-12)
    assert e["average_abs_error"] == pytest.approx(0.35, rel=1e-12)
    assert e["recovered_pct"] == 50.0  # |0.3| <= 0.35 < |0.4|
    assert metrics["recovered_pct_all"] == 50.0
    # residuals pt: 0.01 * (+, -, +, -), eta: (0.3, -0.3, 0.4, -0.4), both with mean 0
    expected = (0.3 + 0.3 + 0.4 + 0.4) / (2 * math.sqrt(0.09 + 0.09 + 0.16 + 0.16))
    assert metrics["residual_correlation"][0][1] == pytest.approx(expected, rel=1e-12)


def test_phi_residual_wraps_around_pi() -> None:
    assert wrap_angle(np.array([math.pi, -math.pi, 1.5 * math.pi, -1.5 * math.pi, 0.0])) == (
        pytest.approx([math.pi, math.pi, -0.5 * math.pi, 0.5 * math.pi, 0.0])
    )
    original = jets(phi=[3.1, -3.1, 0.5, -0.2])
    reconstructed = jets(phi=[-3.1, 3.1, 0.6, -0.3])
    s = evaluate(original, reconstructed)["per_column"]["phi"]
    step = 2 * math.pi - 6.2
    assert s["kind"] == ANGLE
    assert s["max_abs"] == pytest.approx(0.1)
    assert s["rms"] == pytest.approx(math.sqrt((2 * step**2 + 2 * 0.01) / 4))
    assert s["mean"] == pytest.approx(0.0, abs=1e-12)


def test_nonpositive_scale_values_are_excluded_and_counted() -> None:
    original = jets(m=[0.0, -0.04, 10.0, 20.0])
    reconstructed = jets(m=[0.5, 0.0, 11.0, 18.0])
    s = evaluate(original, reconstructed)["per_column"]["m"]
    assert s["n"] == 2
    assert s["n_excluded"] == 2
    assert s["rms"] == pytest.approx(0.1)
    assert s["mean"] == pytest.approx(0.0, abs=1e-15)
    assert s["excluded_abs"]["max_abs"] == pytest.approx(0.5)
    assert s["excluded_abs"]["rms"] == pytest.approx(math.sqrt((0.25 + 0.04**2) / 2))


def test_core_sigma_ignores_outliers_that_inflate_the_rms() -> None:
    rng = np.random.default_rng(1)
    r = rng.normal(0.0, 0.002, 50_000)
    r[:1000] = rng.uniform(-1, 1, 1000)  # 2 % wild outliers
    assert core_sigma(r) == pytest.approx(0.002, rel=0.03)
    assert np.sqrt(np.mean(r**2)) > 30 * 0.002


def test_lossless_column_has_no_correlation() -> None:
    original = jets(pt=[1.0, 2.0, 3.0], eta=[0.1, 0.2, 0.3])
    reconstructed = jets(pt=[1.0, 2.0, 3.0], eta=[0.11, 0.19, 0.3])
    metrics = evaluate(original, reconstructed)
    assert metrics["per_column"]["pt"]["max_abs"] == 0.0
    assert metrics["residual_correlation"][0] == [None, None]


def test_row_count_mismatch_is_an_input_error() -> None:
    with pytest.raises(InputError, match="row counts differ: the original has 3 rows"):
        evaluate(jets(pt=[1.0, 2.0, 3.0]), jets(pt=[1.0, 2.0]))


def test_column_mismatch_is_an_input_error() -> None:
    with pytest.raises(
        InputError, match="only in the original: eta; only in the reconstruction: phi"
    ):
        evaluate(jets(pt=[1.0], eta=[0.0]), jets(pt=[1.0], phi=[0.0]))


def test_event_index_mismatch_is_an_input_error() -> None:
    a = Table({"pt": np.ones(3)}, event=[0, 0, 1])
    b = Table({"pt": np.ones(3)}, event=[0, 1, 1])
    with pytest.raises(InputError, match="event index differs at row 1"):
        evaluate(a, b)


def test_column_order_may_differ() -> None:
    original = jets(pt=[1.0, 2.0], eta=[0.0, 1.0])
    reconstructed = jets(eta=[0.0, 1.5], pt=[1.0, 2.0])
    metrics = evaluate(original, reconstructed)
    assert metrics["columns"] == ["pt", "eta"]
    assert metrics["per_column"]["eta"]["max_abs"] == 0.5


def test_tolerance_violations_and_worst_case() -> None:
    original = jets(pt=[100.0, 200.0, 300.0], eta=[0.0, 1.0, 2.0])
    reconstructed = jets(pt=[100.05, 200.3, 300.0], eta=[0.0005, 1.0, 1.999])
    report = evaluate(original, reconstructed, tolerances="pt=0.1%,eta=0.001")["tolerances"]
    assert report["pt"]["violations"] == 1  # 0.3 > 0.1 % of 200
    assert report["pt"]["worst_ratio"] == pytest.approx(1.5)
    assert report["pt"]["worst_row"] == 1
    assert report["eta"]["violations"] == 0
    assert report["eta"]["worst_abs_error"] == pytest.approx(0.001)


def test_tolerance_for_unknown_column_is_an_option_error() -> None:
    with pytest.raises(OptionError, match="which the data do not have"):
        evaluate(jets(pt=[1.0]), jets(pt=[1.0]), tolerances="m=0.1%")


def small_model(columns: list[str], x: np.ndarray) -> TrainedModel:
    torch.manual_seed(0)
    spec = {"n_inputs": len(columns), "latent": 2, "encoder": [8]}
    normaliser = build_normaliser(columns, "standard").fit(x)
    return TrainedModel(build_model(spec), normaliser, {"pt": "GeV"})


def test_model_mse_is_in_normalised_units_and_costs_are_measured() -> None:
    rng = np.random.default_rng(2)
    columns = ["pt", "eta", "phi"]
    x = np.column_stack([rng.uniform(20, 200, 500), rng.normal(0, 2, 500), rng.uniform(-3, 3, 500)])
    model = small_model(columns, x)
    original = Table(dict(zip(columns, x.T, strict=True)))
    shifted = x + np.array([0.0, 0.1, 0.0])  # eta off by 0.1 = 0.1/std(eta) normalised units
    metrics = evaluate(original, Table(dict(zip(columns, shifted.T, strict=True))), model=model)
    mse = metrics["model"]["normalised_mse"]
    expected_eta = (0.1 / x[:, 1].std()) ** 2
    assert mse["mse_per_column"]["eta"] == pytest.approx(expected_eta, rel=1e-9)
    assert mse["mse_per_column"]["pt"] == pytest.approx(0.0, abs=1e-20)
    assert mse["mse"] == pytest.approx(expected_eta / 3, rel=1e-9)
    costs = metrics["model"]["costs"]
    assert costs["n_parameters"] == model.n_parameters
    assert costs["model_bytes"] == len(model.to_bytes())
    assert costs["encode_us_per_jet"] > 0 and costs["decode_jets_per_s"] > 0
    assert costs["process_peak_rss_bytes"] > 10_000_000


def test_compressed_file_bytes_per_jet(tmp_path) -> None:
    from jetzip.codec import compress_table, decompress_file

    rng = np.random.default_rng(3)
    original = Table({"pt": rng.uniform(20, 200, 2000), "eta": rng.normal(0, 2, 2000)})
    path = tmp_path / "jets.jz"
    compress_table(original, path, tolerances="pt=0.1%,eta=0.001")
    metrics = evaluate(
        original, decompress_file(path), compressed_path=path, tolerances="pt=0.1%,eta=0.001"
    )
    c = metrics["compression"]
    size = path.stat().st_size
    assert c["file_bytes"] == size
    assert c["bytes_per_jet"] == pytest.approx(size / 2000)
    assert c["ratio_vs_raw_float32"] == pytest.approx(2000 * 2 * 4 / size)
    assert c["model_bytes"] == 0
    assert set(c["column_bytes"]) >= {"pt", "eta"}
    assert sum(c["parts_bytes"].values()) == size
    assert all(t["violations"] == 0 for t in metrics["tolerances"].values())
