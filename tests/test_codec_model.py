"""Modes with a trained model: latent storage, model-predicted residuals, model references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jetzip.codec import compress_table, decompress_file, parse_tolerances
from jetzip.codec.chunk import (
    ColumnPlan,
    decode_chunk,
    encode_quantised,
    load_latent,
    store_latent,
)
from jetzip.codec.quantize import quantise
from jetzip.errors import CorruptFileError, InputError
from jetzip.models import TrainedModel
from jetzip.training import TrainConfig, train
from synthetic import synthetic_jets

TOLERANCE = "pt=1%,m=1%,eta=0.01,phi=0.01"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny 4 -> 3 autoencoder trained for a few epochs on the jet columns."""
    out = tmp_path_factory.mktemp("model") / "tiny"
    table = synthetic_jets(3000, seed=0).select(["m", "pt", "phi", "eta"])
    config = TrainConfig(encoder=[16, 8], latent=3, epochs=3, batch_size=256, threads=1)
    train(table, config, out, progress=False)
    return out


@pytest.fixture(scope="module")
def model(model_dir):
    return TrainedModel.load(model_dir)


@pytest.mark.parametrize("latent_dtype", ["float32", "float16", "bfloat16"])
def test_latent_mode_gives_the_decoder_output(tmp_path, model_dir, model, latent_dtype):
    table = synthetic_jets(500, seed=1)
    info = compress_table(table, tmp_path / "l.jz", model=model_dir, latent_dtype=latent_dtype)
    restored = decompress_file(tmp_path / "l.jz")
    x = table.matrix(model.columns)
    expected = model.decode(load_latent(store_latent(model.encode(x), latent_dtype), latent_dtype))
    for j, name in enumerate(model.columns):
        np.testing.assert_array_equal(restored[name], expected[:, j].astype(np.float32))
    np.testing.assert_array_equal(restored["width"], table["width"])  # not a model column
    assert info["header"]["mode"] == "latent"
    assert info["sizes"]["model"] > 0 and info["sizes"]["columns"]["(latent)"] > 0
    latent_bytes = {"float32": 4, "float16": 2, "bfloat16": 2}[latent_dtype] * 3 * 500
    assert info["sizes"]["columns"]["(latent)"] <= latent_bytes + 64


def test_bounded_with_model_meets_every_bound(tmp_path, model_dir):
    table = synthetic_jets(800, seed=2)
    tolerances = parse_tolerances(TOLERANCE)
    info = compress_table(table, tmp_path / "b.jz", tolerances=tolerances, model=model_dir)
    restored = decompress_file(tmp_path / "b.jz")
    for name, tol in tolerances.items():
        assert not tol.violations(table[name], restored[name]).any()
    assert info["header"]["mode"] == "bounded"
    for name in tolerances:  # every column reports the predictor it used
        assert sum(info["footer"]["columns"][name]["predictor"].values()) == 1


@pytest.mark.parametrize("engine", ["torch", "onnx"])
def test_model_predicted_residuals_decode_within_bounds(model, engine):
    """Force the model predictor on every column and check the decoder path that uses it: the
    decoded values are bit for bit those the quantiser checked, with either engine (each run at
    both ends, as the file's recorded engine makes decompression do)."""
    if engine == "onnx":
        from jetzip.models.onnx_export import onnx_engine

        model = onnx_engine(model)
    table = synthetic_jets(600, seed=3)
    tolerances = parse_tolerances(TOLERANCE)
    plans = [ColumnPlan(n, "float32", "bounded", tolerances[n]) for n in model.columns]
    latent = store_latent(model.encode(table.matrix(model.columns)), "float16")
    decoded = model.decode(load_latent(latent, "float16"))
    prediction = {c: decoded[:, j] for j, c in enumerate(model.columns)}
    description = {"n_rows": 600, "columns": {}, "latent_dtype": "float16"}
    description["latent_methods"] = ["zstd-shuffle"] * 3
    parts = []
    from jetzip.codec.entropy import _shuffle_zstd

    for j in range(3):
        parts.append((f"(latent):z{j}", _shuffle_zstd(np.ascontiguousarray(latent[:, j]))))
    checked = {}
    for plan in plans:
        name = plan.name
        quantised = quantise(table[name], plan.tolerance, prediction[name])
        checked[name] = quantised.restored
        desc, column_parts = encode_quantised(name, quantised)
        desc["predictor"] = "model"
        description["columns"][name] = desc
        parts.extend(column_parts)
    with pytest.raises(CorruptFileError, match="names no model"):
        decode_chunk(description, dict(parts), plans, False, None)
    columns, _ = decode_chunk(description, dict(parts), plans, False, model)
    for name, tol in tolerances.items():
        assert not tol.violations(table[name], columns[name]).any()
        assert columns[name].tobytes() == checked[name].tobytes(), name


@pytest.mark.parametrize("tolerance", [None, TOLERANCE])
def test_files_and_values_are_bit_identical_on_one_and_two_threads(tmp_path, model_dir, tolerance):
    """Torch's own thread count and the codec's (two chunks coded at once, each running the
    network) change neither the file nor the decoded values."""
    table = synthetic_jets(1000, seed=4)
    previous = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            compress_table(
                table,
                tmp_path / f"{threads}.jz",
                tolerances=tolerance,
                model=model_dir,
                chunk_rows=300,
                threads=threads,
            )
        one, two = (decompress_file(tmp_path / "1.jz", threads=t) for t in (1, 2))
    finally:
        torch.set_num_threads(previous)
    assert (tmp_path / "1.jz").read_bytes() == (tmp_path / "2.jz").read_bytes()
    for name in one.names:
        assert one[name].tobytes() == two[name].tobytes()


def test_model_reference_needs_the_same_model(tmp_path, model_dir, model):
    table = synthetic_jets(300, seed=5)
    info = compress_table(table, tmp_path / "r.jz", model=model, model_ref=True)
    assert info["sizes"]["model"] == 0
    assert info["header"]["model"]["sha256"] == model.content_hash()
    with pytest.raises(InputError, match="--model"):
        decompress_file(tmp_path / "r.jz")
    assert decompress_file(tmp_path / "r.jz", model=model_dir).n_rows == 300
    other = TrainedModel.from_bytes(model.to_bytes())
    with torch.no_grad():
        next(other.network.parameters()).add_(1e-3)
    with pytest.raises(InputError, match="does not match"):
        decompress_file(tmp_path / "r.jz", model=other)


def test_model_columns_must_exist_in_the_data(tmp_path, model_dir):
    table = synthetic_jets(100, seed=6).select(["m", "pt", "phi", "width"])
    with pytest.raises(InputError, match="lack eta"):
        compress_table(table, tmp_path / "x.jz", model=model_dir)
    assert list(tmp_path.iterdir()) == []


def test_latent_mode_stores_nonfinite_values_exactly_on_request(tmp_path, model_dir):
    table = synthetic_jets(200, seed=7)
    table.columns["pt"][[4, 9]] = [np.nan, np.inf]
    with pytest.raises(InputError, match="pt: 2"):
        compress_table(table, tmp_path / "n.jz", model=model_dir)
    compress_table(table, tmp_path / "n.jz", model=model_dir, allow_nonfinite=True)
    restored = decompress_file(tmp_path / "n.jz")["pt"]
    assert np.isnan(restored[4]) and restored[9] == np.inf
    assert np.isfinite(np.delete(restored, [4, 9])).all()


class OneParameterModel:
    """A model of jets that depend on one number t (pt = t, m = t / 10, eta = log(t) / 10,
    phi = t mod 3): its decoder reproduces them from a 1-float latent, or, with `useless`,
    predicts nothing. Records how many rows the encoder was given."""

    latent_dim = 1

    def __init__(self, useless: bool = False) -> None:
        self.columns = ["m", "pt", "eta", "phi"]
        self.useless = useless
        self.encoded_rows = 0

    def encode(self, x: np.ndarray) -> np.ndarray:
        self.encoded_rows += len(x)
        return x[:, 1:2].astype(np.float32)

    def decode(self, z: np.ndarray) -> np.ndarray:
        t = z[:, 0].astype(np.float64)
        if self.useless:
            t = np.full_like(t, 50.0)
        return np.column_stack([t / 10, t, np.log(t) / 10, np.mod(t, 3.0)]).astype(np.float32)


def one_parameter_jets(n: int) -> dict[str, np.ndarray]:
    t = np.random.default_rng(5).lognormal(4, 1, n).astype(np.float32).astype(np.float64)
    return {"m": t / 10, "pt": t, "eta": np.log(t) / 10, "phi": np.mod(t, 3.0)}


@pytest.mark.parametrize("useless", [False, True])
def test_model_is_kept_only_when_it_pays_and_run_on_the_chunk_only_then(useless):
    """Tight bounds: a model that predicts every column from one float beats coding them
    (kept, network run on the selection rows and then the chunk); a useless one is dropped
    after a pass over the selection rows only, and no latent is stored. Columns the model does
    not cover count on both sides of that comparison (left out of one, they made a useless
    model look worth its latent)."""
    from jetzip.codec.chunk import encode_chunk
    from jetzip.codec.entropy import selection_rows

    n = 200_000
    columns = one_parameter_jets(n)
    for seed, extra in enumerate(("width", "charge")):  # columns the model does not cover
        columns[extra] = np.random.default_rng(seed).lognormal(-2, 1, n)
    tolerances = parse_tolerances("m=1e-4%,pt=1e-4%,eta=1e-6,phi=1e-6,width=1e-5%,charge=1e-5%")
    plans = [ColumnPlan(c, "float64", "bounded", tolerances[c]) for c in columns]
    model = OneParameterModel(useless)
    chunk = encode_chunk(columns, None, plans, model, "float32")
    sample = selection_rows(n).size
    described = chunk.description["columns"]
    if useless:
        assert "latent_dtype" not in chunk.description
        assert model.encoded_rows == sample
        assert all(described[c]["predictor"] != "model" for c in columns)
    else:
        assert chunk.description["latent_dtype"] == "float32"
        assert model.encoded_rows == sample + n
        assert all(described[c]["predictor"] == "model" for c in model.columns)
    back, _ = decode_chunk(chunk.stored_description(), dict(chunk.parts), plans, False, model)
    for name, tolerance in tolerances.items():
        assert not tolerance.violations(columns[name], back[name]).any(), name
        assert back[name].tobytes() == chunk.checked[name].tobytes(), name


def test_model_is_embedded_only_when_a_chunk_uses_it(tmp_path, model_dir):
    """The model section is written before the first chunk that keeps the model; a file none
    of whose chunks does holds no model and needs none to be read."""
    table = synthetic_jets(800, seed=2)
    bounded = compress_table(table, tmp_path / "b.jz", tolerances=TOLERANCE, model=model_dir)
    columns = bounded["footer"]["columns"]
    assert not any("model" in columns[c]["predictor"] for c in columns)  # the tiny model loses
    assert bounded["sizes"]["model"] == 0 and bounded["footer"]["model_embedded"] is False
    reference = tmp_path / "r.jz"
    compress_table(table, reference, tolerances=TOLERANCE, model=model_dir, model_ref=True)
    assert decompress_file(reference).equals(decompress_file(tmp_path / "b.jz"))  # no --model

    latent = compress_table(table, tmp_path / "l.jz", model=model_dir)
    assert latent["sizes"]["model"] > 0 and latent["footer"]["model_embedded"] is True


def test_a_chunk_needing_a_model_the_file_lacks_is_corrupt(tmp_path, model_dir):
    from jetzip.container import ContainerWriter, open_reader

    compress_table(synthetic_jets(300, seed=4), tmp_path / "l.jz", model=model_dir)
    stream, reader = open_reader(tmp_path / "l.jz")
    with stream, (tmp_path / "bad.jz").open("wb") as out:
        writer = ContainerWriter(out, reader.header, model_bytes=None)
        for description, parts, _ in reader.chunks():
            writer.write_chunk(description, list(parts.items()), needs_model=True)
        writer.finish(reader.footer)
    with pytest.raises(CorruptFileError, match="lacks before it"):
        decompress_file(tmp_path / "bad.jz")
