"""`jetzip export --onnx`: the ONNX graph must compute what the PyTorch model computes."""

from __future__ import annotations

import numpy as np
import pytest

from jetzip.cli.main import main
from jetzip.errors import InputError
from jetzip.models import TrainedModel
from jetzip.models.onnx_export import OnnxModel, export_onnx, largest_network_difference
from jetzip.table import Table
from jetzip.training import TrainConfig, train
from synthetic import synthetic_jets


def jets(n: int, seed: int) -> Table:
    """The four-vector part of the synthetic jets (the model's columns)."""
    return synthetic_jets(n, seed).select(["m", "pt", "phi", "eta"])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "tiny"
    config = TrainConfig(encoder=[16, 8], latent=3, epochs=2, batch_size=256, threads=1)
    train(jets(2000, seed=0), config, out, progress=False)
    return out


@pytest.fixture(scope="module")
def exported(model_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    export_onnx(TrainedModel.load(model_dir), path)
    return path


def test_onnx_matches_pytorch_in_physical_units(model_dir, exported):
    model, onnx_model = TrainedModel.load(model_dir), OnnxModel(exported)
    table = jets(1000, seed=1)
    x = np.column_stack([table[c].astype(np.float64) for c in model.columns])
    latent = model.encode(x)
    np.testing.assert_allclose(onnx_model.encode(x), latent, rtol=1e-5, atol=1e-5)
    decoded = model.decode(latent)
    np.testing.assert_allclose(onnx_model.decode(latent), decoded, rtol=1e-4, atol=1e-5)
    assert largest_network_difference(model, onnx_model) < 1e-4


def test_onnx_file_carries_columns_units_and_model_hash(model_dir, exported):
    model, onnx_model = TrainedModel.load(model_dir), OnnxModel(exported)
    assert onnx_model.columns == model.columns
    assert onnx_model.units == model.units
    assert onnx_model.latent_dim == model.latent_dim
    assert onnx_model.model_sha256 == model.content_hash()


def test_cli_export_writes_and_reports_the_check(model_dir, tmp_path, capsys):
    out = tmp_path / "cli.onnx"
    assert main(["export", str(model_dir), "--onnx", str(out)]) == 0
    assert out.is_file()
    assert "largest |ONNX Runtime - PyTorch|" in capsys.readouterr().out


def test_cli_export_refuses_a_non_model_directory(tmp_path, capsys):
    out = tmp_path / "never.onnx"
    assert main(["export", str(tmp_path), "--onnx", str(out)]) != 0
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "model directory" in error
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_foreign_onnx_file_is_refused(tmp_path):
    with pytest.raises(InputError, match="no such ONNX file"):
        OnnxModel(tmp_path / "absent.onnx")


# ---------------------------------------------------------------- hls4ml (FPGA)
@pytest.mark.slow
def test_hls4ml_c_simulation_matches_pytorch_on_jets(model_dir, tmp_path, capsys):
    pytest.importorskip("hls4ml", reason="the [fpga] extra (hls4ml) is not installed")
    import re

    from jetzip.io import write_table
    from jetzip.models.hls_export import multipliers, network_parts

    data = tmp_path / "jets.parquet"
    write_table(jets(300, seed=2), data)
    out = tmp_path / "hls"
    args = ["export", str(model_dir), "--hls4ml", str(out), "--jets", str(data)]
    assert main([*args, "--max-jets", "200"]) == 0
    printed = capsys.readouterr().out
    assert "fixed point vs PyTorch on 200 jets" in printed and "ap_fixed<16,6>" in printed
    for part in ("encoder", "autoencoder"):
        assert (out / part / "firmware" / "myproject.cpp").is_file()
    # fixed point is close to PyTorch, but not identical
    output_max = float(re.search(r"output max \|diff\| ([0-9.e+-]+)", printed).group(1))
    assert 0 < output_max < 0.1
    fixed_vs_float = re.search(r"fixed vs float: (.*)", printed).group(1)
    relative = [float(v) for v in re.findall(r"(?:m|pt) ([0-9.e+-]+) %", fixed_vs_float)]
    assert len(relative) == 2 and max(relative) < 5.0  # per cent
    parts = network_parts(TrainedModel.load(model_dir))
    assert multipliers(parts["encoder"]) == 4 * 16 + 16 * 8 + 8 * 3
    assert f"encoder {4 * 16 + 16 * 8 + 8 * 3:,}" in printed


def test_hls4ml_export_refuses_bad_requests(model_dir, tmp_path, capsys):
    assert main(["export", str(model_dir)]) == 1
    assert "give --onnx OUT.onnx and/or --hls4ml DIR" in capsys.readouterr().err
    assert main(["export", str(model_dir), "--onnx", "x.onnx", "--precision", "ap_fixed<8,3>"])
    assert "go with --hls4ml" in capsys.readouterr().err
    assert main(["export", str(model_dir), "--hls4ml", "x", "--table-size", "1000"]) == 1
    assert "power of two" in capsys.readouterr().err
    # 0 is a table size asked for (and refused), not "not given", which would mean 8192
    assert main(["export", str(model_dir), "--hls4ml", "x", "--table-size", "0"]) == 1
    assert "the table size must be a power of two >= 64, got 0" in capsys.readouterr().err
    assert main(["export", str(model_dir), "--onnx", "x.onnx", "--table-size", "0"]) == 1
    assert "go with --hls4ml" in capsys.readouterr().err
    pytest.importorskip("hls4ml", reason="the [fpga] extra (hls4ml) is not installed")
    out = str(tmp_path / "hls")
    assert main(["export", str(model_dir), "--hls4ml", out, "--precision", "float"]) == 1
    assert "ap_fixed<W,I>" in capsys.readouterr().err
