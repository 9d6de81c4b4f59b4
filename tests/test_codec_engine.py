"""`engine="onnx"` / `--engine onnx`: ONNX Runtime runs the network, in every mode."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from jetzip.cli.main import main
from jetzip.codec import compress_table, decompress_file, parse_tolerances
from jetzip.errors import OptionError
from jetzip.io import read_table, write_table
from jetzip.models import TrainedModel
from jetzip.models.onnx_export import OnnxEngine, onnx_engine
from jetzip.training import TrainConfig, train
from synthetic import synthetic_jets

#: Largest |onnx - torch| allowed, relative to the column's largest magnitude.
RELATIVE_AGREEMENT = 1e-5


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "tiny"
    config = TrainConfig(encoder=[16, 8], latent=3, epochs=1, batch_size=256, threads=1)
    jets = synthetic_jets(2000, seed=0).select(["m", "pt", "phi", "eta"])
    train(jets, config, out, progress=False)
    return out


@pytest.fixture(scope="module")
def jets():
    """Model columns plus one the model does not cover (stored losslessly), 2.5 chunks."""
    return synthetic_jets(5000, seed=1)


def assert_close_to_torch(restored, reference) -> None:
    for name in reference.names:
        got = restored[name].astype(np.float64)
        expected = reference[name].astype(np.float64)
        scale = np.abs(expected).max()
        assert np.abs(got - expected).max() <= RELATIVE_AGREEMENT * scale, name


def test_latent_round_trip_with_onnx_matches_torch(tmp_path, model_dir, jets):
    by_torch, by_onnx = tmp_path / "torch.jz", tmp_path / "onnx.jz"
    compress_table(jets, by_torch, model=str(model_dir), chunk_rows=2000, threads=1)
    info = compress_table(
        jets, by_onnx, model=str(model_dir), chunk_rows=2000, threads=1, engine="onnx"
    )
    reference = decompress_file(by_torch)
    restored = decompress_file(by_onnx, engine="onnx")
    assert restored.names == jets.names and restored.n_rows == jets.n_rows
    assert np.array_equal(restored["width"], jets["width"])  # not a model column: exact
    assert_close_to_torch(restored, reference)
    # the file does not depend on the engine that wrote it: same model, readable by torch
    assert info["header"]["model"]["sha256"] == TrainedModel.load(model_dir).content_hash()
    assert_close_to_torch(decompress_file(by_onnx), reference)
    assert_close_to_torch(decompress_file(by_torch, engine="onnx"), reference)


def test_onnx_batches_on_several_threads_give_the_same_values(tmp_path, model_dir, jets):
    jz = tmp_path / "latent.jz"
    compress_table(jets, jz, model=str(model_dir), threads=2, engine="onnx")
    one, two = (decompress_file(jz, engine="onnx", threads=t) for t in (1, 2))
    assert all(np.array_equal(one[name], two[name]) for name in jets.names)


def test_onnx_engine_is_built_once_per_process(model_dir):
    model = TrainedModel.load(model_dir)
    engine = onnx_engine(model)
    assert isinstance(engine, OnnxEngine)
    assert onnx_engine(TrainedModel.load(model_dir)) is engine
    assert engine.content_hash() == model.content_hash()
    assert engine.to_bytes() == model.to_bytes()


def test_bounded_mode_decodes_with_the_engine_that_wrote_it(tmp_path, model_dir, jets):
    """Model predictions must be the same at both ends, so a bounded file written with ONNX
    Runtime is decoded with it by default and refuses PyTorch; a latent file takes either."""
    tolerances = parse_tolerances("pt=1%,m=1%,eta=0.01,phi=0.01")
    by_onnx, by_torch = tmp_path / "onnx.jz", tmp_path / "torch.jz"
    info = compress_table(jets, by_onnx, tolerances=tolerances, model=str(model_dir), engine="onnx")
    assert info["header"]["engine"] == "onnx"
    restored = decompress_file(by_onnx)
    for name, tolerance in tolerances.items():
        assert not tolerance.violations(jets[name], restored[name]).any(), name
    with pytest.raises(OptionError, match="decompress with --engine onnx"):
        decompress_file(by_onnx, engine="torch")
    compress_table(jets, by_torch, tolerances=tolerances, model=str(model_dir))
    with pytest.raises(OptionError, match="decompress with --engine torch"):
        decompress_file(by_torch, engine="onnx")
    lossless = compress_table(jets, by_torch, mode="lossless", engine="onnx")
    assert lossless["header"]["engine"] is None  # no network: nothing to record


def test_unknown_engine_and_missing_onnxruntime_are_option_errors(tmp_path, jets, monkeypatch):
    jz = tmp_path / "x.jz"
    with pytest.raises(OptionError, match="unknown engine 'tensorrt'"):
        compress_table(jets, jz, engine="tensorrt")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now fails
    with pytest.raises(OptionError, match="needs onnx and onnxruntime"):
        compress_table(jets, jz, engine="onnx")
    assert not jz.exists()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_engine_flags(tmp_path, capsys, model_dir, jets):
    source, jz, out = tmp_path / "jets.parquet", tmp_path / "jets.jz", tmp_path / "back.parquet"
    write_table(jets, source)
    compress = ["compress", str(source), "-o", str(jz), "--model", str(model_dir), "--quiet"]
    assert run(capsys, *compress, "--engine", "onnx")[0] == 0
    assert run(capsys, "decompress", str(jz), "-o", str(out), "--engine", "onnx")[0] == 0
    reference = tmp_path / "reference.parquet"
    assert run(capsys, "decompress", str(jz), "-o", str(reference))[0] == 0
    assert_close_to_torch(read_table(out), read_table(reference))

    status, _, stderr = run(capsys, *compress, "--engine", "cuda", "--force")
    assert status == 1 and stderr.count("\n") == 1 and "unknown engine 'cuda'" in stderr
    bounded = tmp_path / "bounded.jz"
    bounded_compress = ["compress", str(source), "-o", str(bounded), "--tolerance", "pt=1%"]
    assert run(capsys, *bounded_compress, "--model", str(model_dir), "--engine", "onnx")[0] == 0
    decompress = ["decompress", str(bounded), "-o", str(out), "--force"]
    status, _, stderr = run(capsys, *decompress, "--engine", "torch")
    assert status == 1 and stderr.count("\n") == 1 and "--engine onnx" in stderr
    assert run(capsys, *decompress)[0] == 0


def test_exported_graph_is_cached_and_a_damaged_entry_is_rebuilt(model_dir, tmp_path, monkeypatch):
    from jetzip.models import onnx_export

    monkeypatch.setenv("JETZIP_CACHE", str(tmp_path))
    model = TrainedModel.load(model_dir)
    latent = np.random.default_rng(0).normal(size=(64, model.latent_dim)).astype(np.float32)
    expected = OnnxEngine(model).decode(latent)
    entry = onnx_export.graph_cache_path(model)
    assert entry.is_file() and entry.is_relative_to(tmp_path)
    with monkeypatch.context() as patch:  # a second engine must not export again
        patch.setattr(onnx_export, "onnx_graph", lambda _: pytest.fail("exported again"))
        assert np.array_equal(OnnxEngine(model).decode(latent), expected)
    entry.write_bytes(b"not an ONNX graph")
    assert np.array_equal(OnnxEngine(model).decode(latent), expected)
    assert entry.stat().st_size > 1000  # replaced by a fresh export
