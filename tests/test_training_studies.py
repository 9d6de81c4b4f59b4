"""The studies' training features: fine-tuning (--init), sparse autoencoders, softmax, L2,
TensorBoard figures, and the large-residual warning of training and latent compression."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from jetzip.cli.main import main
from jetzip.errors import CorruptFileError, OptionError
from jetzip.io import write_table
from jetzip.models import TrainedModel, build_model
from jetzip.models.quality import LARGE_RESIDUAL_RMS, read_summary, residual_rms, residual_warning
from jetzip.training import train
from jetzip.training.loop import read_history
from jetzip.training.sparsity import activation_stats, parse_sparsity
from test_training import history, jets, small_config


def test_softmax_layers_sum_to_one_per_row() -> None:
    network = build_model(
        {"n_inputs": 4, "encoder": [8, 6], "latent": 3, "activation": "softmax"}
    ).eval()
    _, _, hidden = network(torch.randn(5, 4), with_hidden=True)
    assert [h.shape[1] for h in hidden] == [8, 6, 6, 8]
    for h in hidden:
        assert torch.allclose(h.sum(dim=1), torch.ones(5))


def test_forward_with_hidden_gives_the_plain_reconstruction() -> None:
    network = build_model({"n_inputs": 4, "encoder": [8], "latent": 2}).eval()
    x = torch.randn(7, 4)
    plain, _ = network(x)
    with_hidden, _, hidden = network(x, with_hidden=True)
    assert torch.equal(plain, with_hidden) and len(hidden) == 2


def test_sparsity_option_parsing() -> None:
    assert parse_sparsity("l1:1e-3").weight == 1e-3
    kl = parse_sparsity("kl:0.1:0.05")
    assert (kl.kind, kl.weight, kl.rho) == ("kl", 0.1, 0.05)
    assert parse_sparsity(None) is None
    for bad in ("l2:1", "kl:0.1", "kl:0.1:1.5", "l1:x"):
        with pytest.raises(OptionError, match="sparsity"):
            parse_sparsity(bad)
    with pytest.raises(OptionError, match="bounded activation"):
        train(jets(), small_config(sparsity="kl:1:0.05", activation="relu"), "/tmp/never")


def test_l1_sparsity_silences_hidden_units_and_is_recorded(tmp_path: Path) -> None:
    table = jets()
    dense = train(table, small_config(), tmp_path / "dense", progress=False)
    sparse = train(table, small_config(sparsity="l1:0.5"), tmp_path / "sparse", progress=False)
    rows = history(tmp_path / "sparse")
    assert {"mean_activation", "sparsity"} <= set(rows[0])
    assert "sparsity" not in history(tmp_path / "dense")[0]
    d, s = dense.summary["activations"], sparse.summary["activations"]
    assert s["mean_activation"] < 0.75 * d["mean_activation"]
    assert s["sparsity"] > d["sparsity"]
    # the summary's figures are those of the saved model on the validation rows
    model = TrainedModel.load(tmp_path / "sparse")
    assert read_summary(tmp_path / "sparse")["activations"] == s
    scaled = torch.from_numpy(model.normaliser.transform(table.matrix(model.columns)))
    assert activation_stats(model.network, scaled.float())["mean_activation"] < d["mean_activation"]


def test_kl_sparsity_pulls_the_mean_activity_toward_rho(tmp_path: Path) -> None:
    plain = train(jets(), small_config(), tmp_path / "a", progress=False)
    kl = train(jets(), small_config(sparsity="kl:2:0.02"), tmp_path / "b", progress=False)
    assert (
        kl.summary["activations"]["mean_activation"]
        < plain.summary["activations"]["mean_activation"]
    )


def test_l2_shrinks_the_weights(tmp_path: Path) -> None:
    def weight_norm(result) -> float:
        return sum(
            float(p.detach().pow(2).sum()) for p in result.model.network.parameters() if p.dim() > 1
        )

    free = train(jets(), small_config(), tmp_path / "a", progress=False)
    shrunk = train(jets(), small_config(l2=0.05), tmp_path / "b", progress=False)
    assert weight_norm(shrunk) < 0.7 * weight_norm(free)


def test_fine_tuning_keeps_architecture_and_continues_history(tmp_path: Path) -> None:
    base = train(jets(seed=0), small_config(epochs=6), tmp_path / "base", progress=False)
    new_data = jets(seed=1)
    tuned = train(
        new_data,
        small_config(init=str(tmp_path / "base"), epochs=3),
        tmp_path / "tuned",
        progress=False,
    )
    rows = history(tmp_path / "tuned")
    assert [int(r["epoch"]) for r in rows] == list(range(1, 10))
    assert rows[:6] == history(tmp_path / "base")
    assert float(rows[6]["seconds"]) > float(rows[5]["seconds"])
    assert tuned.model.spec == base.model.spec
    # the kept normalisation is the base model's, exactly
    assert tuned.model.normaliser.to_json_dict() == base.model.normaliser.to_json_dict()
    # fine-tuning starts where the base model is: its first epoch beats training from scratch
    scratch = train(new_data, small_config(epochs=3), tmp_path / "scratch", progress=False)
    assert float(rows[6]["val_loss"]) < float(history(tmp_path / "scratch")[0]["val_loss"])
    assert tuned.best_epoch > 6 and scratch.best_epoch <= 3

    refit = train(
        new_data.take(np.arange(300)),
        small_config(init=str(tmp_path / "base"), epochs=1, refit_normalisation=True),
        tmp_path / "refit",
        progress=False,
    )
    before, after = base.model.normaliser.to_json_dict(), refit.model.normaliser.to_json_dict()
    assert [s["kind"] for s in after["pt"]] == [s["kind"] for s in before["pt"]]
    assert after["pt"][-1]["mean"] != before["pt"][-1]["mean"]


def test_fine_tuning_cli_refuses_architecture_options(tmp_path: Path, capsys) -> None:
    data = tmp_path / "jets.parquet"
    write_table(jets(), data)
    common = ["--encoder", "8", "--epochs", "1", "--no-progress", "--threads", "1"]
    assert main(["train", str(data), "-o", str(tmp_path / "a"), *common]) == 0
    assert "validation residual RMS: m " in capsys.readouterr().err
    code = main(
        [
            "train",
            str(data),
            "-o",
            str(tmp_path / "b"),
            "--init",
            str(tmp_path / "a"),
            "--preset",
            "AE_3D_50",
        ]
    )
    assert code == 1
    assert "--init keeps the architecture" in capsys.readouterr().err
    code = main(["train", str(data), "-o", str(tmp_path / "c"), "--refit-normalisation"])
    assert code == 1 and "needs --init" in capsys.readouterr().err
    # a damaged history.csv of the --init model is one line, not a traceback
    history_csv = tmp_path / "a" / "history.csv"
    history_csv.write_text(history_csv.read_text().replace("\n1,", "\none,", 1))
    code = main(["train", str(data), "-o", str(tmp_path / "d"), "--init", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert f"{history_csv} is damaged (line 2: epoch 'one' is not a number)" in err
    assert not (tmp_path / "d").exists()
    # so is an --init model whose normalisation holds a parameter that is not a number
    model = TrainedModel.load(tmp_path / "a")
    model.normaliser.chains["m"].steps[-1].mean = "a"
    (tmp_path / "a" / "model.jzm").write_bytes(model.to_bytes())
    code = main(["train", str(data), "-o", str(tmp_path / "e"), "--init", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "damaged jetzip model: transform parameter mean='a' of 'standardise' is not a" in err


HEADER = "epoch,train_loss,val_loss,lr,seconds,sparsity\n"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("epoch,train_loss\n1,0.5\n", "line 1: no val_loss, lr, seconds column"),
        (HEADER + "1,0.5,0.6,0.001,1.5,\n2,0.4,0.5,0.001,x,\n", "line 3: seconds 'x' is not"),
        (HEADER + "1.5,0.5,0.6,0.001,1.5,\n", "line 2: epoch '1.5' is not a number"),
        (HEADER + "1,0.5,,0.001,1.5,\n", "line 2: val_loss '' is not a number"),
        (HEADER + "1,0.5,0.6\n", "line 2: not one cell per column"),
        (HEADER + "1,0.5,0.6,0.001,1.5,,7\n", "line 2: not one cell per column"),
        (b"\xff\xfe" + HEADER.encode(), "line 0: not text"),
    ],
)
def test_a_damaged_history_is_one_corrupt_file_error(
    tmp_path: Path, text: str | bytes, reason: str
) -> None:
    (tmp_path / "history.csv").write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(CorruptFileError, match=re.escape(reason)) as caught:
        read_history(tmp_path)
    assert "\n" not in str(caught.value)


def test_a_history_reads_back_as_numbers_with_empty_optional_cells(tmp_path: Path) -> None:
    (tmp_path / "history.csv").write_text(HEADER + "1,0.5,0.6,0.001,1.5,\n2,0.4,0.5,0.001,3,0.2\n")
    rows = read_history(tmp_path)
    assert rows[0] == {"epoch": 1, "train_loss": 0.5, "val_loss": 0.6, "lr": 0.001,
                       "seconds": 1.5, "sparsity": ""}  # fmt: skip
    assert rows[1]["epoch"] == 2 and rows[1]["sparsity"] == 0.2


def test_residual_summary_and_warnings(tmp_path: Path, capsys) -> None:
    table = jets()
    result = train(table, small_config(epochs=1), tmp_path / "m", progress=False)
    summary = read_summary(tmp_path / "m")
    assert list(summary["val_residual_rms"]) == ["m", "pt", "phi", "eta"]
    rms = summary["val_residual_rms"]
    assert rms["pt"] > LARGE_RESIDUAL_RMS  # one epoch of a tiny network is far off
    warning = residual_warning(rms)
    assert warning is not None and "pt " in warning and "%" in warning
    assert residual_warning({"pt": 0.001, "eta": 0.002}) is None
    assert residual_warning({"pt": float("nan")}) is not None
    # the stored figures are recomputable from the saved model
    assert result.summary["val_rows"] == 60
    full = residual_rms(result.model, table.matrix(result.model.columns))
    assert full.keys() == rms.keys()

    data = tmp_path / "jets.parquet"
    write_table(table, data)
    out = tmp_path / "latent.jz"
    assert (
        main(
            [
                "compress",
                str(data),
                "-o",
                str(out),
                "--model",
                str(tmp_path / "m"),
                "--mode",
                "latent",
                "--quiet",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "warning: large reconstruction residual" in err and "pt " in err


def test_tensorboard_figures_every_n_epochs(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="tensorboard is an optional extra")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log_dir = tmp_path / "tb"
    train(
        jets(),
        small_config(epochs=4, tensorboard=str(log_dir), tensorboard_every=2),
        tmp_path / "m",
        progress=False,
    )
    events = EventAccumulator(str(log_dir), size_guidance={"images": 0}).Reload()
    images = events.Images("reconstruction")
    assert [e.step for e in images] == [2, 4]
    assert images[0].width > 100
    assert {"train_loss", "val_loss", "lr"} <= set(events.Tags()["scalars"])


def test_evaluate_reports_the_training_summary(tmp_path: Path) -> None:
    from jetzip.evaluate import evaluate
    from jetzip.table import Table

    table = jets()
    result = train(table, small_config(epochs=1, sparsity="l1:0.1"), tmp_path / "m", progress=False)
    x = table.matrix(result.model.columns)
    reconstructed = Table(
        dict(zip(result.model.columns, result.model.reconstruct(x).T, strict=True))
    )
    metrics = evaluate(
        table, reconstructed, model=result.model, model_dir=tmp_path / "m", measure_costs=False
    )
    training = metrics["model"]["training"]
    assert training["activations"] == result.summary["activations"]
    assert training["sparsity"] == "l1:0.1"


def test_lr_find_adds_the_penalties_training_adds() -> None:
    from jetzip.training.lr_find import lr_range_test

    def losses(**options) -> list[float]:
        config = small_config(**options)
        return lr_range_test(jets(), config, min_lr=1e-4, max_lr=1e-3, steps=5).losses

    plain = losses()
    assert all(a < b for a, b in zip(plain, losses(sparsity="l1:1"), strict=True))
    assert all(a < b for a, b in zip(plain, losses(l2=1.0), strict=True))


def test_a_fine_tuning_run_resumes_with_its_history(tmp_path: Path) -> None:
    train(jets(), small_config(epochs=3), tmp_path / "base", progress=False)
    tuned = tmp_path / "tuned"
    options = {"init": str(tmp_path / "base"), "schedule": "constant"}
    train(jets(seed=1), small_config(epochs=2, **options), tuned, progress=False)
    train(jets(seed=1), small_config(epochs=4, **options), tuned, resume=True, progress=False)
    assert [int(r["epoch"]) for r in history(tuned)] == list(range(1, 8))
    straight = tmp_path / "straight"
    train(jets(seed=1), small_config(epochs=4, **options), straight, progress=False)
    assert history(tuned)[-1]["val_loss"] == history(straight)[-1]["val_loss"]
