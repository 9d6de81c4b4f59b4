"""The speed paths of the codec (sampled choices, threads, batched model calls) must not change
what is guaranteed: the bound on every value, exact lossless round trips, and the same bytes
whatever the thread count."""

from __future__ import annotations

import numpy as np
import pytest

from jetzip.codec import compress_table, decompress_file, parse_tolerances
from jetzip.codec.entropy import SELECTION_ROWS, decode_lossless, encode_lossless
from jetzip.table import Table

#: More rows than the selection sample, so the sampled code paths run.
ROWS = 2 * SELECTION_ROWS + 5_000
TOLERANCES = "m=0.1%,pt=0.1%,eta=0.001,phi=0.001"


@pytest.fixture(scope="module")
def table() -> Table:
    rng = np.random.default_rng(7)
    pt = rng.lognormal(10.8, 0.7, ROWS)
    m = pt * rng.uniform(0.02, 0.2, ROWS)
    m[::997] = 0.0  # zeros cannot meet a relative bound on a log grid: exceptions
    m[1::991] *= -1  # negative masses keep their sign
    return Table(
        {
            "m": m.astype(np.float32),
            "pt": pt.astype(np.float32),
            "eta": rng.uniform(-2.5, 2.5, ROWS).astype(np.float32),
            "phi": rng.uniform(-np.pi, np.pi, ROWS).astype(np.float32),
            "n_constituents": rng.integers(1, 60, ROWS).astype(np.int32),
        }
    )


@pytest.mark.parametrize("mode", ["bounded", "lossless"])
def test_same_bytes_whatever_the_thread_count(table, tmp_path, mode):
    tolerances = TOLERANCES if mode == "bounded" else None
    written = []
    for threads in (1, 2, 3):
        path = tmp_path / f"t{threads}.jz"
        compress_table(table, path, mode=mode, tolerances=tolerances, threads=threads)
        written.append(path.read_bytes())
    assert written[0] == written[1] == written[2]
    back = decompress_file(tmp_path / "t2.jz", threads=2)
    assert back.names == table.names


def test_bound_holds_on_every_value_of_a_sampled_chunk(table, tmp_path):
    tolerances = parse_tolerances(TOLERANCES)
    compress_table(table, tmp_path / "b.jz", tolerances=tolerances, threads=2)
    back = decompress_file(tmp_path / "b.jz", threads=2)
    for name, tolerance in tolerances.items():
        assert back[name].dtype == table[name].dtype
        assert not tolerance.violations(table[name], back[name]).any(), name
    np.testing.assert_array_equal(back["n_constituents"], table["n_constituents"])


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(1).normal(size=ROWS).astype(np.float32),
        np.repeat(np.arange(ROWS // 4, dtype=np.int64), 4),  # event-level values in runs
        np.random.default_rng(2).integers(0, 2, ROWS).astype(bool),
    ],
    ids=["floats", "runs", "bools"],
)
def test_lossless_choice_on_a_sample_round_trips_exactly(values):
    method, data = encode_lossless(values)
    np.testing.assert_array_equal(decode_lossless(method, data, values.dtype.name, ROWS), values)


def test_runs_are_found_on_the_sample():
    values = np.repeat(np.arange(ROWS // 4, dtype=np.int64), 4)
    assert encode_lossless(values)[0].startswith("runs+")


def test_a_damaged_predictor_reference_fails_cleanly_with_threads(table):
    """A column may only be predicted from columns decoded before it; a damaged file naming a
    later one must raise, not leave two decoding threads waiting on each other."""
    from concurrent.futures import ThreadPoolExecutor

    from jetzip.codec.chunk import ColumnPlan, decode_chunk, encode_chunk
    from jetzip.errors import CorruptFileError

    small = table.slice(0, 1000)
    tolerances = parse_tolerances(TOLERANCES)
    plans = [ColumnPlan(name, "float32", "bounded", tolerances[name]) for name in tolerances]
    plans.append(ColumnPlan("n_constituents", "int32", "lossless"))
    chunk = encode_chunk(small.columns, None, plans, None, "float16")
    description = chunk.stored_description()
    description["columns"]["eta"]["predictor"] = "ratio:pt"  # eta is decoded before pt
    with ThreadPoolExecutor(2) as pool, pytest.raises(CorruptFileError, match="predictor"):
        decode_chunk(description, dict(chunk.parts), plans, False, None, pool)


@pytest.fixture
def throughput_script(monkeypatch):
    """benchmarks/throughput.py as a module (its helpers import as when run as a script)."""
    import importlib.util
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "throughput.py"
    monkeypatch.syspath_prepend(str(script.parent))
    spec = importlib.util.spec_from_file_location("throughput", script)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "throughput", module)
    spec.loader.exec_module(module)
    return module


def test_reference_bits_are_what_a_search_finds_on_the_atlas_jets(atlas_4d_path, throughput_script):
    """The reference rounds to bits chosen beforehand: they must be the fewest that meet the
    benchmark's tolerances on the ATLAS jets, as a user would have configured them."""
    from jetzip import baselines
    from jetzip.io import read_table

    table = read_table(atlas_4d_path)
    for name, tolerance in parse_tolerances(throughput_script.TOLERANCES).items():
        values = table[name].astype(np.float32)
        assert (
            baselines.fewest_mantissa_bits(values, tolerance) == throughput_script.FIXED_BITS[name]
        )


@pytest.mark.parametrize("method", ["rounding+zstd", "pcodec-lossless", "sz3"])
def test_reference_files_round_trip(atlas_4d_path, throughput_script, tmp_path, method):
    """Each reference's file decodes to its values: rounding within the tolerances, pcodec exact."""
    from jetzip.io import read_table, write_table

    table = throughput_script.input_table(5_000, None)
    source = tmp_path / "in.parquet"
    write_table(table, source)
    throughput_script._reference_compress(method, source, tmp_path / "x.bin")
    throughput_script._reference_decompress(method, tmp_path / "x.bin", tmp_path / "out.parquet")
    back = read_table(tmp_path / "out.parquet")
    for name, tolerance in parse_tolerances(throughput_script.TOLERANCES).items():
        assert back[name].dtype == np.float32
        if method == "pcodec-lossless":
            np.testing.assert_array_equal(back[name], table[name])
        elif method == "rounding+zstd":
            assert not tolerance.violations(table[name], back[name]).any(), name
        else:  # SZ3 bounds the transformed values; the float32 cast may cost a few values
            assert tolerance.violations(table[name], back[name]).mean() < 0.01, name
