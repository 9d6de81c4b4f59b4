"""Entropy model: the distribution against hand-computed probabilities, the coder's bytes
against those probabilities, round trips through the codec with every bound checked, refused
models, and the same bytes under every numpy SIMD setting, torch CPU capability and thread
count (subprocesses)."""

from __future__ import annotations

import hashlib
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jetzip.codec.pipeline import compress_table, decompress_file
from jetzip.codec.tolerance import Tolerance
from jetzip.entropy.coder import Tables, decode_codes, encode_codes
from jetzip.entropy.distributions import (
    ESCAPE,
    FRACTIONS,
    HALF_WIDTH,
    LOG2_ONE,
    MAX_LOW_BITS,
    N_SMALL,
    N_TABLES,
    QUARTERS,
    SHAPE_LO,
    SHAPE_ONE,
    SHAPE_POINTS,
    SHAPE_RES,
    SMALL_OCTAVES,
    RowTables,
    Shape,
    log2_fixed,
)
from jetzip.entropy.model import (
    FEATURE_BITS,
    FEATURE_LIMIT,
    OUTPUT_BITS,
    SIGMA_SHIFT,
    ColumnModel,
    EntropyModel,
    features,
)
from jetzip.entropy.training import choose_order, train_entropy_model
from jetzip.errors import CorruptFileError, InputError
from jetzip.models.integer import IntegerLinear, IntegerMLP, LookupActivation
from jetzip.table import Table
from native import baseline_build


def _uniform_shape() -> Shape:
    """Standardised residuals uniform on [-1, 1]: F(t) = (t + 1) / 2 inside."""
    t = SHAPE_LO + np.arange(SHAPE_POINTS) / SHAPE_RES
    cdf = np.clip((t + 1) / 2, 0, 1) * SHAPE_ONE
    return Shape(np.rint(cdf).astype(np.int64))


# ---------------------------------------------------------------------- the numpy definition
def _oracle_table_choice(
    mu: np.ndarray, log2_sigma: np.ndarray, step: float, log2_step: int
) -> RowTables:
    """The table choice as `distributions` describes it, in numpy (the compiled kernel's
    oracle), with the groups by a stable argsort."""
    c = np.clip(mu / step, -(2.0**52), 2.0**52)
    centre = np.floor(c + 0.5)
    fraction = np.clip(np.floor((c - centre + 0.5) * FRACTIONS).astype(np.int64), 0, FRACTIONS - 1)
    log2_rho = log2_sigma.astype(np.int64) - log2_step
    quarter = log2_rho >> 6
    low_bits = np.clip((log2_rho >> 8) - 2, 0, MAX_LOW_BITS)
    table = np.clip(quarter - 4 * SMALL_OCTAVES[0], 0, N_SMALL // FRACTIONS - 1) * FRACTIONS
    table += fraction
    large = log2_rho >= 3 * LOG2_ONE
    table[large] = N_SMALL + (low_bits[large] - 1) * 4 + (quarter[large] & 3)
    order = np.argsort(table, kind="stable")
    counts = np.bincount(table, minlength=N_TABLES)
    present = np.flatnonzero(counts)
    starts = np.concatenate([[0], np.cumsum(counts[present])])
    return RowTables(centre.astype(np.int64), table, low_bits, order, present, starts)


def _oracle_rows(column: ColumnModel, context: dict, n: int, step: float) -> RowTables:
    """What the kernel computes, by the numpy definitions: `features`, `IntegerMLP`, the
    table choice."""
    x = np.empty((n, len(column.context)))
    for j, name in enumerate(column.context):
        with np.errstate(over="ignore"):  # huge values: inf, then clipped
            x[:, j] = features(context[name], column.context_spaces[name])
    out = column.network(x)
    mu = out[:, 0].astype(np.float64) * 2.0**-OUTPUT_BITS
    return _oracle_table_choice(mu, out[:, 1] >> SIGMA_SHIFT, step, log2_fixed(step))


def _assert_same_rows(a: RowTables, b: RowTables) -> None:
    for field in ("centre", "table", "low_bits", "order", "present", "starts"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field


def _column(network: IntegerMLP, spaces: dict[str, str]) -> ColumnModel:
    column = ColumnModel("y", "linear", list(spaces), network, _uniform_shape())
    column.context_spaces = dict(spaces)
    return column


#: A column whose network passes its two linear-space inputs through: mu = the first input,
#: log2 sigma = 256 times the second (exact for multiples of 2**-12 within +-4096).
_PASS = IntegerMLP(
    [IntegerLinear(np.array([[16, 0], [0, 16]]), np.zeros(2, np.int64), 0, 2**40, "identity")],
    FEATURE_LIMIT,
)


def _rows(mu: np.ndarray, log2_sigma: np.ndarray, step: float) -> RowTables:
    """The kernel's tables for rows of centre `mu` and scale `log2_sigma` (through `_PASS`)."""
    column = _column(_PASS, {"mu": "linear", "s": "linear"})
    context = {"mu": np.asarray(mu, np.float64), "s": np.asarray(log2_sigma) / LOG2_ONE}
    return column.row_tables(context, len(mu), step)


def test_log2_fixed_is_exact_on_hand_values() -> None:
    assert [log2_fixed(v) for v in (1.0, 2.0, 0.5, 8.0)] == [0, 256, -256, 768]
    assert log2_fixed(0.02) == math.floor(256 * math.log2(0.02))  # -1445
    assert log2_fixed(3.0) == math.floor(256 * math.log2(3.0))  # 405


def test_small_table_matches_hand_computed_cell_masses() -> None:
    tables = _uniform_shape().tables()
    # octave 0, first quarter (rho = 2**(1/8)), fraction bin 3 (centre offset -1/16)
    index = (0 - (-4)) * 4 * 8 + 0 * 8 + 3
    rho, phi = QUARTERS[0], 3.5 / 8 - 0.5
    for r in range(-2, 3):
        lo = max(-1.0, min(1.0, (r - 0.5 - phi) / rho))
        hi = max(-1.0, min(1.0, (r + 0.5 - phi) / rho))
        expected = math.floor((hi - lo) / 2 * SHAPE_ONE) + 1
        assert abs(tables[index, r + HALF_WIDTH] - expected) <= 1
    assert tables[index, ESCAPE] == 1  # no mass beyond +-64 cells
    assert tables[index, : HALF_WIDTH - 2].max() == 1  # nor far left


def test_row_tables_pick_scale_fraction_and_low_bits() -> None:
    step = 0.25  # log2_fixed: -512
    mu = np.array([1.0, 1.0625, 0.0, 0.0])
    log2_sigma = np.array([-512, -512, -512 + 256 * 5 + 70, -512 - 256 * 6])
    rows = _rows(mu, log2_sigma, step)
    assert rows.centre.tolist() == [4, 4, 0, 0]  # mu / step rounded
    # rho = 1: quarter 0 of octave 0; fraction 0 -> bin 4, 0.25 -> bin 6
    assert rows.table[:2].tolist() == [16 * 8 + 4, 16 * 8 + 6]
    # rho = 2**(5 + 70/256): three low bits, second quarter of its octave
    assert rows.low_bits.tolist() == [0, 0, 3, 0]
    assert rows.table[2] == 7 * 4 * 8 + (3 - 1) * 4 + 1
    assert rows.table[3] == 0 * 8 + 4  # below the smallest scale: clamped to it


def _ideal_bits(codes: np.ndarray, rows: RowTables, tables: np.ndarray) -> float:
    """-sum log2 P of each code's symbol, with uniform low bits (escapes left out)."""
    offset = codes - rows.centre
    high = offset >> rows.low_bits
    p = tables[rows.table, high + HALF_WIDTH] / tables[rows.table].sum(axis=1)
    return float(-np.log2(p).sum() + rows.low_bits.sum())


@pytest.mark.parametrize("log2_sigma", [-700, 0, 1400])  # rho ~ 1/2, 4, 180 (with low bits)
def test_coder_round_trip_costs_what_the_probabilities_say(log2_sigma: int) -> None:
    rng = np.random.default_rng(1)
    shape = Shape.from_samples(rng.logistic(size=50_000))
    tables = Tables(shape.tables())
    step = 0.25
    n = 20_000
    mu = np.floor(rng.normal(size=n) * 4 * 2**FEATURE_BITS) / 2**FEATURE_BITS
    sigma = 2.0 ** (log2_sigma / 256)
    codes = np.rint((mu + rng.logistic(size=n) * sigma) / step).astype(np.int64)
    rows = _rows(mu, np.full(n, log2_sigma), step)
    data = encode_codes(codes, rows, tables)
    assert np.array_equal(decode_codes(data, rows, tables), codes)
    ideal = _ideal_bits(codes, rows, tables.probabilities)
    assert 8 * len(data) <= ideal * 1.01 + 8 * 64  # 15-bit tables, the rANS body's head


def test_escapes_store_far_codes_exactly() -> None:
    tables = Tables(_uniform_shape().tables())
    n = 1000
    rows = _rows(np.zeros(n), np.zeros(n, np.int64), 1.0)
    codes = np.zeros(n, dtype=np.int64)
    codes[::97] = [10**9, -(10**12), 65, -65, 3, 7, -500, 2**40, 0, 1, -1][: codes[::97].size]
    data = encode_codes(codes, rows, tables)
    assert np.array_equal(decode_codes(data, rows, tables), codes)
    with pytest.raises(CorruptFileError):
        decode_codes(data[:10], rows, tables)
    (first,) = struct.unpack_from("<Q", data)  # the layout byte, then the escape count
    for wrong in (first - 1, first + 1):  # the header's escape count must be the stream's
        with pytest.raises(CorruptFileError, match="escapes than recorded"):
            decode_codes(struct.pack("<Q", wrong) + data[8:], rows, tables)


# ---------------------------------------------------------------------- with a trained model
def _jets(n: int, seed: int) -> Table:
    """Correlated jet-like columns: a multiplicity, a scale, a ratio, an angle."""
    rng = np.random.default_rng(seed)
    count = rng.poisson(20, n).astype(np.int32)
    charged = rng.binomial(count, 0.6).astype(np.int32)
    pt = np.exp(rng.normal(11, 0.6, n) + 0.02 * count).astype(np.float32)
    m = (pt * np.exp(rng.normal(-2.5, 0.3, n)) * (1 + count / 40)).astype(np.float32)
    width = (0.3 * m / pt + rng.normal(0, 0.01, n)).astype(np.float32)
    phi = rng.uniform(-np.pi, np.pi, n).astype(np.float32)
    columns = {"n": count, "nc": charged, "pt": pt, "m": m, "width": width, "phi": phi}
    return Table(columns, event=np.repeat(np.arange(n // 2 + 1), 2)[:n])


TOLERANCES = {"m": "1%", "pt": "1%", "width": "0.01", "phi": "0.01"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = train_entropy_model(_jets(6000, 0), hidden=(16,), epochs=6, batch_size=256, lr=1e-2)
    return model.save(tmp_path_factory.mktemp("em")).parent


def _tolerances(scale: float) -> dict[str, Tolerance]:
    out = {}
    for name, text in TOLERANCES.items():
        tol = Tolerance.parse(text)
        out[name] = Tolerance(tol.value * scale, tol.relative)
    return out


@pytest.mark.parametrize("scale", [1.0, 0.1, 0.01])
def test_round_trip_with_the_model_meets_every_bound(
    model_dir: Path, tmp_path: Path, scale: float
) -> None:
    table = _jets(20_000, 7)
    tolerances = _tolerances(scale)
    path = tmp_path / "m.jz"
    with_model = compress_table(table, path, tolerances=tolerances, model=model_dir, model_ref=True)
    plain = compress_table(table, tmp_path / "p.jz", tolerances=tolerances)
    back = decompress_file(path, model=model_dir)
    for name, tol in tolerances.items():
        assert not tol.violations(table.columns[name], back.columns[name]).any()
    for name in ("n", "nc"):
        assert np.array_equal(back.columns[name], table.columns[name])
    assert np.array_equal(back.event, table.event)
    used = [s["predictor"] for s in with_model["footer"]["columns"].values()]
    assert any("conditional" in p for p in used)
    assert with_model["sizes"]["file"] < plain["sizes"]["file"]


def test_lossless_integers_are_coded_by_the_model(model_dir: Path, tmp_path: Path) -> None:
    table = _jets(20_000, 8).select(["n", "nc"])
    info = compress_table(table, tmp_path / "i.jz", model=model_dir, model_ref=True)
    assert info["footer"]["columns"]["nc"]["methods"] == {"conditional": 1}
    back = decompress_file(tmp_path / "i.jz", model=model_dir)
    assert np.array_equal(back.columns["nc"], table.columns["nc"])


def test_model_bytes_are_stable_and_damage_is_refused(model_dir: Path) -> None:
    model = EntropyModel.load(model_dir)
    data = model.to_bytes()
    assert EntropyModel.from_bytes(data).to_bytes() == data
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0xFF
    with pytest.raises(CorruptFileError) as err:
        EntropyModel.from_bytes(bytes(damaged))
    assert "\n" not in str(err.value)
    with pytest.raises(CorruptFileError):
        EntropyModel.from_bytes(data[:-20])


def test_model_for_other_columns_is_refused(model_dir: Path, tmp_path: Path) -> None:
    table = _jets(500, 3)
    table = Table({"PT": table.columns["pt"], "M": table.columns["m"]})
    with pytest.raises(InputError) as err:
        compress_table(table, tmp_path / "x.jz", tolerances="PT=1%,M=1%", model=model_dir)
    assert "\n" not in str(err.value)


_CODE_SCRIPT = """
import hashlib, sys, numpy as np
from jetzip.codec.chunk import encode_chunk
from jetzip.codec.pipeline import _plans
from jetzip.codec.tolerance import parse_tolerances
from jetzip.entropy.model import EntropyModel
from jetzip.table import Table
stored = np.load(sys.argv[1])
table = Table({k: stored[k] for k in stored.files})
model = EntropyModel.load(sys.argv[2])
plans = _plans(table, "bounded", parse_tolerances(sys.argv[3]), None, model)
chunk = encode_chunk(table.columns, None, plans, model, "float16")
assert "entropy_model" in chunk.description
print(hashlib.sha256(b"".join(p for _, p in chunk.parts)).hexdigest(), "torch" in sys.modules)
"""


def test_same_bytes_under_every_cpu_setting_and_thread_count(
    model_dir: Path, tmp_path: Path
) -> None:
    table = _jets(30_000, 11)
    np.savez(tmp_path / "t.npz", **table.columns)
    text = ",".join(f"{k}={v}" for k, v in TOLERANCES.items())
    outputs = set()
    settings = [
        ("", "default", "1"),
        ("", "avx512", "2"),
        ("AVX512_SPR AVX512_ICL X86_V4", "avx2", "2"),
        ("AVX512_SPR AVX512_ICL X86_V4 X86_V3", "default", "1"),
    ]
    for cpu, aten, threads in settings:
        env = dict(
            os.environ,
            NPY_DISABLE_CPU_FEATURES=cpu,
            ATEN_CPU_CAPABILITY=aten,
            OMP_NUM_THREADS=threads,
            OPENBLAS_NUM_THREADS=threads,
            MKL_NUM_THREADS=threads,
        )
        result = subprocess.run(
            [sys.executable, "-c", _CODE_SCRIPT, str(tmp_path / "t.npz"), str(model_dir), text],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(result.stdout.strip())
    assert len(outputs) == 1
    digest, torch_loaded = next(iter(outputs)).split()
    assert len(digest) == len(hashlib.sha256().hexdigest())
    assert torch_loaded == "False"  # coding never runs a torch kernel


def test_cli_train_compress_info_decompress(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from jetzip.cli.main import main
    from jetzip.io import read_table, write_table

    write_table(_jets(6000, 21), tmp_path / "train.parquet")
    write_table(_jets(30_000, 22), tmp_path / "other.parquet")
    em, out = tmp_path / "em", tmp_path / "x.jz"
    assert main(["train", str(tmp_path / "train.parquet"), "-o", str(em), "--kind", "entropy",
                 "--epochs", "6", "--batch-size", "256", "--lr", "0.01", "--no-progress"]
                ) == 0  # fmt: skip
    assert "trained an entropy model of 6 columns" in capsys.readouterr().err
    refused = ["train", str(tmp_path / "train.parquet"), "-o", str(tmp_path / "em2"), "--kind",
               "entropy", "--preset", "AE_3D_200"]  # fmt: skip
    assert main(refused) != 0
    assert capsys.readouterr().err.strip().endswith("--kind entropy does not take --preset")
    text = ",".join(f"{k}={v}" for k, v in TOLERANCES.items())
    assert main(["compress", str(tmp_path / "other.parquet"), "-o", str(out), "--model",
                 str(em), "--model-ref", "--tolerance", text]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "entropy model of" in shown and "(conditional x1)" in shown
    # the header names the model; the columns it coded come from the footer
    coded = next(line for line in shown.splitlines() if line.startswith("model "))
    conditional = [line.split()[0] for line in shown.splitlines() if "(conditional" in line]
    listed = coded.split("columns ")[1].split(", ")
    assert conditional and set(conditional) <= set(listed) <= set(TOLERANCES) | {"n", "nc"}
    back = str(tmp_path / "back.parquet")
    assert main(["decompress", str(out), "-o", back, "--model", str(em)]) == 0
    back, original = read_table(tmp_path / "back.parquet"), _jets(30_000, 22)
    for name, tol in _tolerances(1.0).items():
        assert not tol.violations(original.columns[name], back.columns[name]).any()


def test_a_model_that_does_not_pay_leaves_the_file_unchanged(
    model_dir: Path, tmp_path: Path
) -> None:
    table = _jets(300, 5)  # too few rows to pay for the embedded model
    tolerances = _tolerances(1.0)
    compress_table(table, tmp_path / "plain.jz", tolerances=tolerances)
    compress_table(table, tmp_path / "with.jz", tolerances=tolerances, model=model_dir)
    assert (tmp_path / "plain.jz").read_bytes() == (tmp_path / "with.jz").read_bytes()


def _extremes(dtype: type, n: int, seed: int) -> np.ndarray:
    """Random values of `dtype` with every special one the features must map exactly: zeros,
    signed zeros, infinities, NaN, subnormals, the largest and smallest finite values."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
        special = [info.min, info.max, 0, 1, 2**20 if info.max > 2**20 else info.max]
    else:
        info = np.finfo(dtype)
        with np.errstate(over="ignore"):  # float16: some become infinities
            values = (rng.standard_cauchy(n) * 10.0 ** rng.integers(-8, 8, n)).astype(dtype)
        special = [0.0, -0.0, np.inf, -np.inf, np.nan, info.smallest_subnormal, info.max,
                   -info.max, info.tiny, 4095.9, -4096.0]  # fmt: skip
    values[: len(special)] = np.array(special, dtype=dtype)
    return rng.permutation(values)


def _random_network(rng: np.random.Generator, n_inputs: int, activation: object) -> IntegerMLP:
    """Two layers with weights as large as the 2**53 bound allows for inputs of 2**24."""
    hidden = 9
    first = IntegerLinear(
        rng.integers(-(2**19), 2**19, (hidden, n_inputs)),
        rng.integers(-(2**40), 2**40, hidden),
        rng.integers(0, 20),
        2**26,
        activation,
    )
    second = IntegerLinear(
        rng.integers(-(2**20), 2**20, (2, hidden)), rng.integers(-(2**40), 2**40, 2), 12, 2**40,
        "identity",
    )  # fmt: skip
    return IntegerMLP([first, second], FEATURE_LIMIT)


def test_kernel_is_the_numpy_definition_on_random_networks_and_extreme_inputs() -> None:
    """Every dtype path of the features (bit patterns in log space, the scaled value
    otherwise), relu / identity / lookup layers near the exactness bound, rows not a
    multiple of the kernel's block, and steps from tiny to huge."""
    rng = np.random.default_rng(7)
    n = 3001
    spaces = {"a": "log", "b": "log", "c": "linear", "d": "integer", "e": "integer",
              "f": "linear", "g": "log", "h": "linear"}  # fmt: skip
    context = {
        "a": _extremes(np.float32, n, 1),
        "b": _extremes(np.float64, n, 2),
        "c": _extremes(np.float32, n, 3),
        "d": _extremes(np.int32, n, 4),
        "e": _extremes(np.int64, n, 5),
        "f": _extremes(np.float16, n, 6),
        "g": _extremes(np.uint16, n, 7),  # an integer column in log space: scaled
        "h": _extremes(np.float64, n, 8)[::-1],  # not contiguous
    }
    lookup = LookupActivation.tabulate(np.tanh, 14, -8.0, 8.0, step_shift=2)
    for activation in ("relu", "identity", lookup):
        column = _column(_random_network(rng, len(spaces), activation), spaces)
        for step in (1.0, 0.001, 3e-9, 7e5):
            _assert_same_rows(
                column.row_tables(context, n, step), _oracle_rows(column, context, n, step)
            )
    for rows in (0, 1, 31, 33):  # empty, single and partial blocks; no context at all
        column = _column(_random_network(rng, 0, "relu"), {})
        _assert_same_rows(column.row_tables({}, rows, 0.01), _oracle_rows(column, {}, rows, 0.01))


@pytest.mark.parametrize("parts", [1, 3])
def test_kernel_is_the_numpy_definition_on_a_trained_model(
    model_dir: Path, parts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also with each column's rows split into parts computed on helper threads."""
    import jetzip.entropy.model as entropy_model

    monkeypatch.setattr(entropy_model, "PARTS", parts)
    monkeypatch.setattr(entropy_model, "SPLIT_ROWS", 1000)  # parts end mid-block
    model = EntropyModel.load(model_dir)
    table = _jets(5_000, 11)
    columns = dict(table.columns)
    for name, values in columns.items():  # special values in every context column
        columns[name] = values.copy()
        columns[name][:30] = _extremes(values.dtype.type, 30, 3)
    for name in model.columns:
        column = model.models[name]
        for step in (1.0, 0.01, 1e-5):
            _assert_same_rows(
                column.row_tables(columns, table.n_rows, step),
                _oracle_rows(column, columns, table.n_rows, step),
            )


def test_kernel_constants_are_the_python_ones() -> None:
    from jetzip.entropy import _condkernel

    python = {"FEATURE_BITS": FEATURE_BITS, "FEATURE_LIMIT": FEATURE_LIMIT,
              "OUTPUT_BITS": OUTPUT_BITS, "SIGMA_SHIFT": SIGMA_SHIFT, "FRACTIONS": FRACTIONS,
              "SMALL_OCTAVE_LOW": SMALL_OCTAVES[0], "N_SMALL": N_SMALL,
              "MAX_LOW_BITS": MAX_LOW_BITS, "N_TABLES": N_TABLES, "LOG2_ONE": LOG2_ONE,
              "HALF_WIDTH": HALF_WIDTH}  # fmt: skip
    assert {name: getattr(_condkernel, name) for name in python} == python


def test_kernel_refuses_bad_arguments() -> None:
    from jetzip.entropy import _condkernel

    column = _column(_PASS, {"mu": "linear", "s": "linear"})
    with pytest.raises(ValueError, match="does not have 10 rows"):
        column.row_tables({"mu": np.zeros(10), "s": np.zeros(9)}, 10, 1.0)
    order, counts = np.empty(3, np.int64), np.empty(N_TABLES, np.int64)
    with pytest.raises(ValueError, match="outside"):
        _condkernel.group(np.array([0, N_TABLES, 1]), order, counts)
    with pytest.raises(TypeError, match="unsupported dtype"):
        _condkernel.group(np.zeros(3, np.int64), order.astype(np.int32), counts)


def test_the_baseline_build_gives_the_same_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel built with only its baseline loops (SSE2 on x86-64, as setup.py builds it
    with JETZIP_ONE_VERSION) against the installed one, which picks AVX2 where it exists."""
    import jetzip.entropy.model as entropy_model

    baseline = baseline_build("entropy", "_condkernel", tmp_path)
    rng = np.random.default_rng(3)
    n = 2001
    spaces = {"a": "log", "b": "log", "c": "linear", "d": "integer"}
    context = {
        "a": _extremes(np.float32, n, 1),
        "b": _extremes(np.float64, n, 2),
        "c": _extremes(np.float32, n, 3),
        "d": _extremes(np.int64, n, 4),
    }
    lookup = LookupActivation.tabulate(np.tanh, 14, -8.0, 8.0, step_shift=2)
    for activation in ("relu", "identity", lookup):
        column = _column(_random_network(rng, len(spaces), activation), spaces)
        installed = column.row_tables(context, n, 0.001)
        monkeypatch.setattr(entropy_model, "_condkernel", baseline)
        _assert_same_rows(column.row_tables(context, n, 0.001), installed)
        monkeypatch.undo()


@pytest.mark.filterwarnings("error")
def test_coding_order_takes_constant_columns_without_a_division_by_zero() -> None:
    """NanoAOD's Jet collection has columns constant over a file (b-tag defaults): choosing
    the order divided 0 by 0 and printed numpy's RuntimeWarning to the user."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=500)
    table = Table({"a": x, "flat": np.full(500, 2.5), "b": x + rng.normal(0, 0.1, 500)})
    spaces = dict.fromkeys(table.names, "linear")
    assert sorted(choose_order(table, table.names, spaces)) == sorted(table.names)
