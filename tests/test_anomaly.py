"""Anomaly scores (per-jet reconstruction error in normalised space), ROC/AUC, `jetzip score`
and `jetzip evaluate --compare`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from jetzip.anomaly import SCORE, anomaly_scores, roc_curve
from jetzip.cli.main import main
from jetzip.errors import InputError
from jetzip.io import read_table, write_table
from jetzip.models import TrainedModel
from jetzip.table import Table
from jetzip.training import train
from test_training import jets, small_config


def mann_whitney_auc(background: np.ndarray, signal: np.ndarray) -> float:
    """P(signal > background) + P(tie) / 2, by brute force."""
    diff = signal[:, None] - background[None, :]
    return float(np.mean(diff > 0) + 0.5 * np.mean(diff == 0))


def test_roc_curve_and_auc() -> None:
    fpr, tpr, auc = roc_curve(np.array([0.1, 0.2]), np.array([0.3, 0.4]))
    assert auc == 1.0 and fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert roc_curve(np.ones(5), np.ones(7))[2] == 0.5  # all tied
    rng = np.random.default_rng(1)
    background = rng.integers(0, 20, 300).astype(float)  # many ties
    signal = rng.integers(3, 25, 200).astype(float)
    fpr, tpr, auc = roc_curve(background, signal)
    assert auc == pytest.approx(mann_whitney_auc(background, signal), abs=1e-12)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    with pytest.raises(InputError, match="both samples"):
        roc_curve(np.array([]), signal)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("anomaly") / "model"
    train(jets(), small_config(epochs=8), out, progress=False)
    return out


def test_scores_are_the_normalised_squared_errors(model_dir: Path) -> None:
    model = TrainedModel.load(model_dir)
    table = jets(50, seed=4)
    scores = anomaly_scores(model, table)
    assert scores.names == [f"score_{c}" for c in model.columns] + [SCORE]
    scaled = model.normaliser.transform(table.matrix(model.columns))
    with torch.no_grad():
        out = model.network(torch.from_numpy(scaled.astype(np.float32)))[0].double().numpy()
    expected = (out - scaled.astype(np.float32)) ** 2
    np.testing.assert_allclose(scores.matrix(scores.names[:-1]), expected, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(scores[SCORE], expected.mean(axis=1), rtol=1e-5, atol=1e-9)
    with pytest.raises(InputError, match="lack the model's column"):
        anomaly_scores(model, table.select(["m", "pt"]))
    gev = Table({c: table[c] for c in table.names}, units={"m": "GeV", "pt": "GeV"})
    with pytest.raises(InputError, match="in GeV, the model was trained on MeV"):
        anomaly_scores(model, gev)


def test_score_and_compare_commands(model_dir: Path, tmp_path: Path, capsys) -> None:
    background = jets(400, seed=5)
    signal = jets(300, seed=6)
    signal.columns["pt"] = signal["pt"] * 100.0  # far outside the training jets
    signal.columns["m"] = signal["m"] * 100.0
    b_path, s_path = tmp_path / "qcd.parquet", tmp_path / "boosted.parquet"
    write_table(background, b_path)
    write_table(signal, s_path)

    out = tmp_path / "scores.parquet"
    assert main(["score", str(model_dir), str(s_path), "-o", str(out)]) == 0
    scores = read_table(out)
    assert scores.n_rows == 300 and SCORE in scores.names
    assert np.all(scores[SCORE] >= 0)

    report = tmp_path / "anomaly"
    args = ["evaluate", str(b_path), "--compare", str(s_path), "--model", str(model_dir)]
    assert main([*args, "-o", str(report)]) == 0
    printed = capsys.readouterr().out
    result = json.loads((report / "anomaly.json").read_text())
    assert result["n_jets"] == [400, 300] and result["labels"] == ["qcd", "boosted"]
    assert result["auc"] > 0.9
    assert f"AUC {result['auc']:.3f}" in printed
    assert {p.name for p in report.iterdir()} == {
        "anomaly.json",
        "score_distributions.png",
        "roc.png",
    }
    assert main(["evaluate", str(b_path), "--compare", str(s_path), "-o", str(report)]) == 1
    assert "--compare needs --model" in capsys.readouterr().err
    assert main(["evaluate", str(b_path), "-o", str(report)]) == 1
    assert "give RECONSTRUCTED" in capsys.readouterr().err
