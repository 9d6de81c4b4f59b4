"""Training: falling loss, MODEL_DIR contents, reproducibility, resume, VAE, budgets, bad input."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from jetzip.errors import InputError, OptionError
from jetzip.models import TrainedModel
from jetzip.table import Table
from jetzip.training import TrainConfig, load_toml, make_config, parse_duration, train
from jetzip.training.config import TrainConfig as Config
from jetzip.training.lr_find import lr_range_test, plot_lr_find
from jetzip.training.schedules import lr_at

MODEL_DIR_FILES = {
    "model.jzm",
    "config.json",
    "history.csv",
    "test_indices.npy",
    "checkpoint.pt",
    "summary.json",
}


def jets(n_rows: int = 600, seed: int = 0) -> Table:
    """Jet-like rows: m, pt in MeV (a few masses <= 0), phi, eta."""
    rng = np.random.default_rng(seed)
    pt = 2e4 * np.exp(rng.exponential(0.7, n_rows))
    m = pt * rng.uniform(0.02, 0.2, n_rows)
    m[:3] = [0.0, -0.02, 0.5]
    return Table(
        {
            "m": m.astype(np.float32).astype(np.float64),
            "pt": pt,
            "phi": rng.uniform(-np.pi, np.pi, n_rows),
            "eta": rng.normal(0, 1.4, n_rows),
        },
        units={"m": "MeV", "pt": "MeV"},
    )


def small_config(**overrides) -> TrainConfig:
    """A tiny network and a few epochs: seconds on one thread."""
    values = {"encoder": [16, 8], "epochs": 6, "batch_size": 32, "lr": 1e-2, "threads": 1}
    return make_config(None, {**values, **overrides})


def history(model_dir: Path) -> list[dict[str, str]]:
    with (model_dir / "history.csv").open() as f:
        return list(csv.DictReader(f))


def test_short_run_learns_and_writes_a_complete_model_dir(tmp_path: Path) -> None:
    table = jets()
    threads_before = torch.get_num_threads()
    result = train(table, small_config(), tmp_path / "model", progress=False)
    assert torch.get_num_threads() == threads_before  # the caller's setting is restored
    model_dir = tmp_path / "model"
    assert {p.name for p in model_dir.iterdir()} == MODEL_DIR_FILES
    rows = history(model_dir)
    assert list(rows[0]) == ["epoch", "train_loss", "val_loss", "lr", "seconds"]
    assert [int(r["epoch"]) for r in rows] == list(range(1, 7))
    assert float(rows[-1]["val_loss"]) < 0.5 * float(rows[0]["val_loss"])
    assert result.best_val_loss == min(float(r["val_loss"]) for r in rows)

    test_rows = np.load(model_dir / "test_indices.npy")
    assert len(test_rows) == 60 and len(np.unique(test_rows)) == 60
    loaded = TrainedModel.load(model_dir)
    assert loaded.columns == ["m", "pt", "phi", "eta"]
    assert loaded.units == {"m": "MeV", "pt": "MeV"}
    assert loaded.content_hash() == result.model.content_hash()
    x = table.matrix(loaded.columns)[test_rows]
    relative_pt = np.abs(loaded.reconstruct(x)[:, 1] / x[:, 1] - 1)
    assert np.median(relative_pt) < 0.5  # learned something, in physical units
    assert not list(tmp_path.glob(".model.*"))  # no temporary directories left


def test_same_seed_gives_identical_weights(tmp_path: Path) -> None:
    table = jets()
    a = train(table, small_config(epochs=3, dropout=0.1), tmp_path / "a", progress=False)
    b = train(table, small_config(epochs=3, dropout=0.1), tmp_path / "b", progress=False)
    c = train(table, small_config(epochs=3, dropout=0.1, seed=1), tmp_path / "c", progress=False)
    assert a.model.to_bytes() == b.model.to_bytes()
    assert a.model.to_bytes() != c.model.to_bytes()


def test_resume_continues_exactly_where_the_run_stopped(tmp_path: Path) -> None:
    table = jets()
    settings = {"schedule": "constant", "dropout": 0.1}
    straight = train(
        table, small_config(epochs=6, **settings), tmp_path / "straight", progress=False
    )
    train(table, small_config(epochs=3, **settings), tmp_path / "resumed", progress=False)
    resumed = train(
        table, small_config(epochs=6, **settings), tmp_path / "resumed", resume=True, progress=False
    )
    assert [int(r["epoch"]) for r in history(tmp_path / "resumed")] == list(range(1, 7))
    assert resumed.model.to_bytes() == straight.model.to_bytes()


def test_resume_refuses_other_data(tmp_path: Path) -> None:
    train(jets(), small_config(epochs=1), tmp_path / "m", progress=False)
    with pytest.raises(InputError, match="differ"):
        train(jets(700), small_config(epochs=2), tmp_path / "m", resume=True, progress=False)


def test_vae_trains_and_other_schedules_and_losses_run(tmp_path: Path) -> None:
    table = jets()
    vae = train(table, small_config(preset="VAE_3D_200"), tmp_path / "vae", progress=False)
    assert vae.model.spec["kind"] == "vae"
    rows = history(tmp_path / "vae")
    assert float(rows[-1]["val_loss"]) < float(rows[0]["val_loss"])
    for i, (schedule, loss) in enumerate([("cosine", "l1"), ("plateau", "huber")]):
        result = train(
            table,
            small_config(epochs=3, schedule=schedule, loss=loss),
            tmp_path / str(i),
            progress=False,
        )
        assert np.isfinite(result.best_val_loss)


def test_time_budget_and_early_stopping(tmp_path: Path) -> None:
    table = jets()
    timed = train(table, small_config(epochs=10_000, max_time=1.0), tmp_path / "t", progress=False)
    assert timed.stop_reason == "max_time" and timed.epochs_run < 10_000
    assert float(history(tmp_path / "t")[-1]["lr"]) < 1e-4  # the schedule was compressed to fit
    early = train(
        table,
        small_config(epochs=500, lr=1e-7, schedule="constant", patience=2),
        tmp_path / "e",
        progress=False,
    )
    assert early.stop_reason == "early_stopping" and early.epochs_run < 500


def test_one_cycle_shape() -> None:
    assert lr_at("one_cycle", 1.0, 0.0) == pytest.approx(1 / 25)
    assert lr_at("one_cycle", 1.0, 0.25) == pytest.approx(1.0)
    assert lr_at("one_cycle", 1.0, 1.0) == pytest.approx(1 / 25 / 1e4)
    assert lr_at("cosine", 1.0, 0.5) == pytest.approx(0.5, rel=1e-3)


@pytest.mark.parametrize(
    ("table", "config", "error", "message"),
    [
        (jets(3), {}, InputError, "too few rows"),
        (jets(), {"columns": ["m", "pt", "mass2"]}, InputError, "missing column"),
        (jets(), {"latent": 5}, OptionError, "larger than the input"),
        (jets(), {"preset": "AE_9D"}, OptionError, "unknown preset"),
        (jets(), {"activation": "swish"}, OptionError, "unknown activation"),
        (jets(), {"device": "tpu"}, OptionError, "unknown device"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, table, config, error, message) -> None:
    with pytest.raises(error, match=message):
        train(table, small_config(**config), tmp_path / "m", progress=False)
    assert not (tmp_path / "m").exists()


def test_nonfinite_rows_are_refused_or_dropped(tmp_path: Path) -> None:
    table = jets()
    table.columns["eta"][[5, 50]] = [np.nan, np.inf]
    with pytest.raises(InputError, match="non-finite"):
        train(table, small_config(epochs=1), tmp_path / "refused", progress=False)
    train(table, small_config(epochs=1, drop_nonfinite=True), tmp_path / "m", progress=False)
    test_rows = np.load(tmp_path / "m" / "test_indices.npy")
    assert len(test_rows) == round(598 * 0.1)
    assert np.isfinite(table.matrix()[test_rows]).all()  # indices of the original rows
    assert test_rows.max() > 500  # not renumbered after the dropped rows


def test_existing_model_dir_needs_overwrite(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    with pytest.raises(OptionError, match="--overwrite"):
        train(jets(), small_config(epochs=1), tmp_path / "m", progress=False)
    train(jets(), small_config(epochs=1), tmp_path / "m", overwrite=True, progress=False)
    assert {p.name for p in (tmp_path / "m").iterdir()} == MODEL_DIR_FILES


def test_tensorboard_is_optional(tmp_path: Path) -> None:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(OptionError, match="tensorboard package"):
            train(jets(), small_config(tensorboard=str(tmp_path / "tb")), tmp_path / "m")
        return
    train(jets(), small_config(epochs=1, tensorboard=str(tmp_path / "tb")), tmp_path / "m")
    assert any((tmp_path / "tb").iterdir())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_cuda_training(tmp_path: Path) -> None:
    result = train(jets(), small_config(device="cuda"), tmp_path / "m", progress=False)
    assert np.isfinite(result.best_val_loss)


def test_config_file_and_command_line_precedence(tmp_path: Path) -> None:
    path = tmp_path / "train.toml"
    path.write_text(
        'epochs = 7\nbatch-size = 64\nmax_time = "2m"\n'
        '[transforms]\nm = ["log(offset=1)", "standardise"]\n'
    )
    config = make_config(load_toml(path), {"epochs": 9, "lr": None})
    assert (config.epochs, config.batch_size, config.max_time) == (9, 64, 120.0)
    assert config.lr == Config().lr
    assert config.transforms["m"][0] == "log(offset=1)"
    (tmp_path / "bad.toml").write_text("epoch = 3\n")
    with pytest.raises(OptionError, match="unknown key"):
        load_toml(tmp_path / "bad.toml")
    (tmp_path / "flat.toml").write_text("transforms = 5\n")
    with pytest.raises(OptionError, match=r"transforms must be a table: \[transforms\]"):
        make_config(load_toml(tmp_path / "flat.toml"))
    assert parse_duration("1.5h") == 5400.0
    with pytest.raises(OptionError):
        parse_duration("ten minutes")


def test_lr_range_test_suggests_a_value_and_plots(tmp_path: Path) -> None:
    result = lr_range_test(jets(), small_config(), min_lr=1e-5, max_lr=10.0, steps=60)
    assert 1e-5 <= result.suggestion <= 10.0
    assert len(result.lrs) == len(result.losses) > 10
    plot_lr_find(result, tmp_path / "lr.png")
    assert (tmp_path / "lr.png").read_bytes().startswith(b"\x89PNG")


CTRL_C_SCRIPT = textwrap.dedent(
    """
    import signal, sys
    # A shell's background jobs inherit SIGINT ignored; restore Python's Ctrl-C behaviour.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, {tests!r})
    from test_training import jets, small_config
    from jetzip.training import train
    train(jets(2000), small_config(epochs=100000), {out!r}, progress=False)
    """
)


def test_ctrl_c_leaves_the_best_model_usable(tmp_path: Path) -> None:
    out = tmp_path / "model"
    script = CTRL_C_SCRIPT.format(tests=str(Path(__file__).parent), out=str(out))
    process = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180  # generous: CI machines may be heavily loaded
    while not (out / "model.jzm").exists() and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.2)
    assert (out / "model.jzm").exists(), "no snapshot was written in time"
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=180)
    assert process.returncode != 0 and b"KeyboardInterrupt" in stderr
    assert {p.name for p in out.iterdir()} == MODEL_DIR_FILES
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    model = TrainedModel.load(out)
    assert model.decode(np.zeros((1, 3), dtype=np.float32)).shape == (1, 4)
    assert len(history(out)) >= 1
    assert (out / "checkpoint.pt").stat().st_size > 0
