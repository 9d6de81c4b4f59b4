"""`jetzip train` and `jetzip lr-find` from the command line, on real data where available."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jetzip.cli.main import main
from jetzip.io import write_table
from jetzip.models import TrainedModel
from test_training import MODEL_DIR_FILES, jets


def test_train_on_atlas_data(atlas_4d_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    status = main(
        [
            "train",
            str(atlas_4d_path),
            "-o",
            str(out),
            "--preset",
            "AE_3D_200",
            "--epochs",
            "1",
            "--threads",
            "1",
            "--no-progress",
        ]
    )
    assert status == 0
    assert {p.name for p in out.iterdir()} == MODEL_DIR_FILES
    model = TrainedModel.load(out)
    assert model.columns == ["m", "pt", "phi", "eta"]
    assert model.units["pt"] == "MeV"
    assert len(np.load(out / "test_indices.npy")) == round(27945 * 0.1)


def test_config_file_resume_and_bad_input(tmp_path: Path, capsys) -> None:
    data = tmp_path / "jets.parquet"
    write_table(jets(400), data)
    config = tmp_path / "train.toml"
    config.write_text(
        'encoder = [8]\nepochs = 5\nthreads = 1\n[transforms]\nphi = ["shift(offset=4)"]\n'
    )
    out = tmp_path / "model"
    base = ["train", str(data), "-o", str(out), "--config", str(config), "--no-progress"]
    assert main([*base, "--epochs", "2"]) == 0
    assert TrainedModel.load(out).spec["encoder"] == [8]
    assert TrainedModel.load(out).normaliser.chains["phi"].to_list() == [
        {"kind": "shift", "offset": 4.0}
    ]

    capsys.readouterr()
    assert main(base) == 1
    assert "already exists; use --overwrite" in capsys.readouterr().err

    assert (
        main(["train", str(data), "-o", str(out), "--resume", "--epochs", "3", "--no-progress"])
        == 0
    )
    assert (out / "history.csv").read_text().count("\n") == 4  # header + 3 epochs
    assert "trained 3 epochs" in capsys.readouterr().err

    assert main([*base, "--overwrite", "--latent", "9"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "larger than the input width 4" in err
    assert main([*base, "--overwrite", "--columns", "m,pt,mass"]) == 1
    assert "missing column(s) mass" in capsys.readouterr().err


def test_lr_find_writes_a_plot(tmp_path: Path, capsys) -> None:
    data = tmp_path / "jets.parquet"
    write_table(jets(400), data)
    plot = tmp_path / "lr.png"
    args = [
        "lr-find",
        str(data),
        "-o",
        str(plot),
        "--encoder",
        "8",
        "--threads",
        "1",
        "--steps",
        "40",
    ]
    assert main(args) == 0
    assert "suggested learning rate" in capsys.readouterr().out
    assert plot.read_bytes().startswith(b"\x89PNG")
