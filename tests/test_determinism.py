"""The same bytes on every CPU: compression and decompression run in fresh processes with numpy's
SIMD levels switched off (NPY_DISABLE_CPU_FEATURES: numpy's exp and log differ between its
AVX-512 and AVX2 loops), torch's kernels chosen otherwise (ATEN_CPU_CAPABILITY) and other thread
counts must write identical .jz files and decode identical values, also at a relative
tolerance of a few ulps and with E predicted from pt, eta (and m). The compiled grid kernels
themselves are compared with exactmath's numpy functions bit for bit in test_exactmath.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jetzip.codec import decompress_file, parse_tolerances
from jetzip.container import describe_file
from jetzip.io import write_table
from synthetic import synthetic_jets

AVX512 = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR X86_V4"
AVX2 = "AVX AVX2 FMA3 F16C X86_V3"
#: (environment, codec threads) of each process; the first is the reference.
SETTINGS = [
    ({"ATEN_CPU_CAPABILITY": "avx512"}, 1),
    ({"NPY_DISABLE_CPU_FEATURES": AVX512, "ATEN_CPU_CAPABILITY": "avx2"}, 2),
    ({"NPY_DISABLE_CPU_FEATURES": f"{AVX512} {AVX2}", "ATEN_CPU_CAPABILITY": "default"}, 3),
]
#: (input, tolerances): float32 jets with E at 0.1 % (the tiny model's integer decoder on offer
#: as a predictor) and at a few float32 ulps (1e-5 % is about 1.7 ulps of relative spacing),
#: E from pt and eta alone (m stored exactly); the ATLAS float64 jets at 0.1 % and at a few
#: float64 ulps.
JOBS = [
    ("jets", "m=0.1%,pt=0.1%,eta=0.001,phi=0.001,E=0.1%"),
    ("jets", "m=1e-5%,pt=1e-5%,eta=1e-7,phi=1e-7,E=1e-5%"),
    ("jets", "pt=0.01%,eta=0.0001,E=0.01%"),
    ("atlas", "m=0.1%,pt=0.1%,eta=0.001,phi=0.001"),
    ("atlas", "m=1e-13%,pt=1e-13%,eta=1e-15,phi=1e-15"),
]

WORKER = """
import hashlib, json, sys
import numpy as np
from numpy._core import _multiarray_umath as umath
from jetzip.codec import compress_file, decompress_file

jobs, threads, model = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
report = {"numpy_features": sorted(k for k in umath.__cpu_dispatch__ if umath.__cpu_features__[k])}
from jetzip.models import TrainedModel
from jetzip.models.integer_decoder import integer_decoder

latent = np.random.default_rng(5).normal(0.0, 2.0, (20_000, 3)).astype(np.float32)
decoded = integer_decoder(TrainedModel.load(model)).decode(latent)
report["integer_decoder"] = hashlib.sha256(decoded.tobytes()).hexdigest()
for i, (source, tolerances, target) in enumerate(jobs):
    options = {"model": model} if i == 0 else {}
    compress_file(
        source, target, tolerances=tolerances, threads=threads, chunk_rows=10_000, **options
    )
    table = decompress_file(target, threads=threads)
    decoded = hashlib.sha256()
    for name in table.names:
        decoded.update(np.ascontiguousarray(table[name]).tobytes())
    with open(target, "rb") as f:
        report[i] = [hashlib.sha256(f.read()).hexdigest(), decoded.hexdigest()]
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, str]:
    from conftest import ATLAS_4D

    tmp = tmp_path_factory.mktemp("determinism")
    jets = synthetic_jets(20_000, seed=20)
    pt, eta, m = (jets[c].astype(np.float64) for c in ("pt", "eta", "m"))
    jets.columns["E"] = np.hypot(pt * np.cosh(eta), m).astype(np.float32)
    write_table(jets, tmp / "jets.parquet")
    paths = {"jets": str(tmp / "jets.parquet")}
    if ATLAS_4D.exists():
        paths["atlas"] = str(ATLAS_4D)
    return paths


def start_worker(
    jobs: list[list[str]], environment: dict[str, str], threads: int, model: str
) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "NPY_DISABLE_CPU_FEATURES"}
    env.update(environment)
    command = [sys.executable, "-c", WORKER, json.dumps(jobs), str(threads), model]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def report_of(worker: subprocess.Popen) -> dict:
    stdout, stderr = worker.communicate(timeout=600)
    assert worker.returncode == 0, stderr.decode()[-3000:]
    return json.loads(stdout.decode().splitlines()[-1])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> str:
    """A tiny 4 -> 3 autoencoder on the jet columns (its decoder predicts in bounded mode)."""
    from jetzip.training import TrainConfig, train

    out = tmp_path_factory.mktemp("model") / "tiny"
    table = synthetic_jets(3000, seed=0).select(["m", "pt", "phi", "eta"])
    config = TrainConfig(encoder=[16, 8], latent=3, epochs=3, batch_size=256, threads=1)
    train(table, config, out, progress=False)
    return str(out)


def test_same_bytes_and_values_on_every_cpu_setting(inputs, model_dir, tmp_path):
    jobs = [(inputs[source], tol) for source, tol in JOBS if source in inputs]
    workers = [  # at once: the settings are independent processes
        start_worker(
            [
                [source, tol, str(tmp_path / f"s{k}-j{i}.jz")]
                for i, (source, tol) in enumerate(jobs)
            ],
            environment,
            threads,
            model_dir,
        )
        for k, (environment, threads) in enumerate(SETTINGS)
    ]
    reports = [report_of(worker) for worker in workers]
    reference = reports[0]
    for (environment, threads), report in zip(SETTINGS[1:], reports[1:], strict=True):
        assert report["integer_decoder"] == reference["integer_decoder"], environment
        for i in range(len(jobs)):
            assert report[str(i)] == reference[str(i)], (
                f"{jobs[i]} differs under {environment} with {threads} threads "
                f"(numpy loops {report['numpy_features']} vs {reference['numpy_features']})"
            )
    # what the bytes hold: every value within its bound, E predicted from the kinematics
    for i, (source, tolerances) in enumerate(jobs):
        path = tmp_path / f"s0-j{i}.jz"
        back = decompress_file(path)
        original = read_input(source)
        for name, tolerance in parse_tolerances(tolerances).items():
            assert not tolerance.violations(original[name], back[name]).any(), (name, tolerances)
        if "E=" in tolerances:
            predictors = describe_file(path)["footer"]["columns"]["E"]["predictor"]
            assert any(p.startswith("E(pt,eta") for p in predictors), predictors


def read_input(source: str):
    from jetzip.io import read_table

    return read_table(source)


def test_reference_values_of_the_grid():
    """Pinned bits of a few grid values: a change of exactmath or of the kernels that would make
    existing files decode differently fails here, on any machine."""
    from jetzip.codec.quantize import QuantisedColumn, dequantise

    tolerance = parse_tolerances("pt=0.1%")["pt"]
    codes = np.array([-4000, -7, 0, 1, 2, 5000, 11000], dtype=np.int32)
    column = QuantisedColumn(codes, None, np.zeros(0, np.int64), np.zeros(0))
    values = dequantise(column, tolerance, np.dtype(np.float64))
    assert [v.hex() for v in values.tolist()] == PINNED_GRID_VALUES


PINNED_GRID_VALUES = [
    "0x1.63ef7d1ea953ep-12",
    "0x1.f8e4729c631ffp-1",
    "0x1.0000000000000p+0",
    "0x1.008302645fb0ap+0",
    "0x1.010647d43220ep+0",
    "0x1.531f31ffe8b99p+14",
    "0x1.9db3fd7fd77dcp+31",
]


def test_columns_without_a_grid_decode_with_numpy_as_older_files_were_written():
    """Files written before the grid was recorded used numpy's exp: they still decode that way
    (on the machine that wrote them, bit for bit), and an unknown grid is refused."""
    from jetzip.codec.chunk import ColumnPlan, decode_chunk, encode_chunk
    from jetzip.errors import CorruptFileError

    jets = synthetic_jets(2_000, seed=3)
    tolerances = parse_tolerances("pt=0.1%,eta=0.001")
    plans = [ColumnPlan(n, "float32", "bounded", tolerances[n]) for n in ("pt", "eta")]
    chunk = encode_chunk({n: jets[n] for n in ("pt", "eta")}, None, plans, None, "float16")
    description = chunk.stored_description()
    assert {d["grid"] for d in description["columns"].values()} == {"exactmath-1"}
    for desc in description["columns"].values():
        del desc["grid"]
    old, _ = decode_chunk(description, dict(chunk.parts), plans, False, None)
    new, _ = decode_chunk(chunk.stored_description(), dict(chunk.parts), plans, False, None)
    np.testing.assert_array_equal(old["eta"], new["eta"])  # absolute: no exp involved
    step = 2.0 * np.log1p(1e-3) * (1 - 1 / 1024)
    pt = new["pt"]  # the new grid's values, whose codes the numpy grid turns back into values
    codes = np.rint(np.log(pt.astype(np.float64)) / step)
    expected = np.exp(codes * step).astype(np.float32)
    rows = np.flatnonzero(np.abs(old["pt"] / expected - 1) > 1e-6)  # exceptions: stored exactly
    assert rows.size < 20
    np.testing.assert_array_equal(np.delete(old["pt"], rows), np.delete(expected, rows))
    description["columns"]["pt"]["grid"] = "exactmath-9"
    with pytest.raises(CorruptFileError, match="unknown quantisation grid"):
        decode_chunk(description, dict(chunk.parts), plans, False, None)


def test_integer_decoder_rows_are_independent_and_close_to_the_float_decoder(model_dir, tmp_path):
    """The bounded mode's model prediction: each row's output depends on its latent only (any
    batching gives the same bits), it stays close to the float decoder, and files record it."""
    from jetzip.codec import compress_table
    from jetzip.models import TrainedModel
    from jetzip.models.integer_decoder import PREDICTOR, integer_decoder

    model = TrainedModel.load(model_dir)
    fixed = integer_decoder(model)
    jets = synthetic_jets(5_000, seed=9)
    latent = model.encode(jets.matrix(model.columns))
    whole = fixed.decode(latent)
    batches = np.concatenate([fixed.decode(latent[i : i + 777]) for i in range(0, 5_000, 777)])
    np.testing.assert_array_equal(whole.view(np.uint64), batches.view(np.uint64))
    floats = model.decode(latent)
    for j, name in enumerate(model.columns):
        if name in ("m", "pt"):  # relative closeness where values are far from zero
            assert np.max(np.abs(whole[:, j] / floats[:, j] - 1)) < 1e-3, name
    path = tmp_path / "b.jz"
    compress_table(jets, path, tolerances="m=0.1%,pt=0.1%,eta=0.001,phi=0.001", model=model_dir)
    assert describe_file(path)["header"]["model"]["predictor"] == PREDICTOR
    back = decompress_file(path)
    for name, tolerance in parse_tolerances("m=0.1%,pt=0.1%,eta=0.001,phi=0.001").items():
        assert not tolerance.violations(jets[name], back[name]).any(), name
