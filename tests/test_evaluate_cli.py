"""`jetzip evaluate` on files: a .jz reconstruction, a model directory, and user errors."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from jetzip.cli.main import main
from jetzip.codec import compress_table
from jetzip.io import read_table, write_table
from jetzip.models import MODEL_FILE, TrainedModel, build_model
from jetzip.table import Table
from jetzip.transforms import build_normaliser

COLUMNS = ["pt", "eta", "phi"]


@pytest.fixture
def original_path(tmp_path: Path) -> Path:
    rng = np.random.default_rng(11)
    table = Table(
        {
            "pt": 20 + rng.exponential(50, 1500),
            "eta": rng.normal(0, 1.5, 1500),
            "phi": rng.uniform(-np.pi, np.pi, 1500),
        },
        units={"pt": "GeV"},
    )
    path = tmp_path / "jets.parquet"
    write_table(table, path)
    return path


def test_evaluate_jz_file_with_model(original_path: Path, tmp_path: Path, capsys) -> None:
    """The file meets eta=0.001 (its compression bound), not the stricter eta=0.0001 asked
    here: the report is still written, the violations are printed and the exit status is 2."""
    original = read_table(original_path)
    torch.manual_seed(0)
    model = TrainedModel(
        build_model({"n_inputs": 3, "latent": 2, "encoder": [8]}),
        build_normaliser(COLUMNS, "custom").fit(original.matrix(COLUMNS)),
    )
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / MODEL_FILE).write_bytes(model.to_bytes())
    (model_dir / "history.csv").write_text("epoch,train_loss,val_loss,lr,seconds\n1,1,1,0.1,1\n")
    jz = tmp_path / "jets.jz"
    compress_table(original, jz, tolerances="pt=0.1%,eta=0.001,phi=0.001")
    out = tmp_path / "report"

    status = main(
        [
            "evaluate", str(original_path), str(jz), "-o", str(out), "--model", str(model_dir),
            "--tolerance", "pt=0.1%,eta=0.0001",
        ]
    )  # fmt: skip

    stdout = capsys.readouterr().out
    assert status == 2
    assert f"report: {out / 'index.html'}" in stdout
    assert "tolerance pt=0.1%: 0 violations" in stdout
    assert "tolerance eta=0.0001: 0 violations" not in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["compression"]["file_bytes"] == jz.stat().st_size
    assert metrics["compression"]["input_file_bytes"] == original_path.stat().st_size
    assert metrics["model"]["costs"]["n_parameters"] == model.n_parameters
    assert (out / "plots" / "loss_curves.png").stat().st_size > 0
    assert "--tolerance pt=0.1%,eta=0.0001" in (out / "index.html").read_text()
    # a damaged history.csv is one line, and the report written before stays as it was
    page = (out / "index.html").read_text()
    (model_dir / "history.csv").write_text("epoch,train_loss,val_loss,lr,seconds\none,1,1,0.1,1\n")
    args = ["evaluate", str(original_path), str(jz), "-o", str(out), "--model", str(model_dir)]
    assert main([*args, "--no-costs", "--no-baselines"]) == 1
    err = capsys.readouterr().err
    assert "history.csv is damaged (line 2: epoch 'one' is not a number)" in err
    assert err.count("\n") == 1 and (out / "index.html").read_text() == page


def test_an_upper_case_jz_suffix_is_a_jz_file(original_path: Path, tmp_path: Path, capsys) -> None:
    """`compress` writes X.JZ; `evaluate` decompresses it too (not read as a table)."""
    jz = tmp_path / "JETS.JZ"
    compress_table(read_table(original_path), jz, tolerances="pt=0.1%,eta=0.001,phi=0.001")
    out = tmp_path / "report"
    args = ["evaluate", str(original_path), str(jz), "-o", str(out), "--style", "none"]
    assert main([*args, "--no-costs", "--no-baselines"]) == 0
    assert "tolerance pt=0.1%: 0 violations" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["compression"]["file_bytes"] == jz.stat().st_size


def test_row_mismatch_is_one_line_error(original_path: Path, tmp_path: Path, capsys) -> None:
    shorter = tmp_path / "short.parquet"
    write_table(read_table(original_path).slice(0, 1000), shorter)
    out = tmp_path / "report"
    assert main(["evaluate", str(original_path), str(shorter), "-o", str(out)]) == 1
    stderr = capsys.readouterr().err
    assert stderr.strip().count("\n") == 0
    assert "row counts differ: the original has 1500 rows, the reconstruction 1000" in stderr
    assert not out.exists()


def test_bad_tolerance_is_one_line_error(original_path: Path, tmp_path: Path, capsys) -> None:
    args = ["evaluate", str(original_path), str(original_path), "-o", str(tmp_path / "r")]
    assert main([*args, "--tolerance", "pt=fast"]) == 1
    assert "malformed tolerance value 'fast'" in capsys.readouterr().err


def test_bool_column_leaves_stderr_empty(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """A bool column, plotted too (--all-plots), warns nothing on stderr."""
    rng = np.random.default_rng(3)
    pt = 20 + rng.exponential(50, 400)
    flag = rng.uniform(size=400) > 0.3
    write_table(Table({"pt": pt, "flag": flag}), tmp_path / "a.parquet")
    write_table(Table({"pt": pt * 1.0005, "flag": flag}), tmp_path / "b.parquet")
    out = tmp_path / "report"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        args = ["evaluate", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]
        assert main([*args, "-o", str(out), "--all-plots", "--style", "none"]) == 0
    assert capfd.readouterr().err == ""
    assert (out / "plots" / "distribution_flag.png").is_file()
