"""Compression modes without a model: round trips, the error bound on every value, bad input."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jetzip.codec import compress_table, compress_tables, decompress_file, parse_tolerances
from jetzip.codec.tolerance import Tolerance
from jetzip.errors import InputError, OptionError
from jetzip.table import Table

ATLAS_TOLERANCE = "pt=0.1%,m=0.1%,eta=0.001,phi=0.001"


def jets(n: int = 2000, seed: int = 0, dtype: type = np.float32) -> Table:
    """Jet-like columns plus an integer column, an event index, units and metadata."""
    rng = np.random.default_rng(seed)
    pt = rng.lognormal(10.5, 0.7, n)
    m = pt * rng.uniform(0.02, 0.3, n)
    m[:10] = 0.0
    m[10:15] = -rng.uniform(0, 0.05, 5)
    columns = {
        "m": m.astype(dtype),
        "pt": pt.astype(dtype),
        "eta": rng.uniform(-4.5, 4.5, n).astype(dtype),
        "phi": rng.uniform(-np.pi, np.pi, n).astype(dtype),
        "n_constituents": rng.integers(1, 60, n).astype(np.int32),
    }
    event = np.repeat(np.arange(n // 4 + 1), 4)[:n] + 1000
    return Table(
        columns, event=event, units={"m": "MeV", "pt": "MeV"}, meta={"source": "test", "k": [1, 2]}
    )


def assert_within(original: Table, restored: Table, tolerances: dict[str, Tolerance]) -> None:
    assert restored.names == original.names
    for name in original.names:
        a, b = original[name], restored[name]
        assert a.dtype == b.dtype, name
        if name in tolerances:
            bad = tolerances[name].violations(a, b)
            assert not bad.any(), f"{name}: {bad.sum()} values miss {tolerances[name]}"
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_lossless_round_trip_is_exact(tmp_path):
    table = jets()
    info = compress_table(table, tmp_path / "a.jz", mode="lossless")
    restored = decompress_file(tmp_path / "a.jz")
    assert restored.equals(table)
    assert restored.units == table.units and restored.meta == table.meta
    assert info["n_rows"] == table.n_rows
    assert info["header"]["mode"] == "lossless"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bounded_meets_every_tolerance_and_keeps_integers(tmp_path, dtype):
    table = jets(dtype=dtype)
    tolerances = parse_tolerances(ATLAS_TOLERANCE)
    info = compress_table(table, tmp_path / "b.jz", tolerances=tolerances, chunk_rows=700)
    restored = decompress_file(tmp_path / "b.jz")
    assert_within(table, restored, tolerances)
    np.testing.assert_array_equal(restored.event, table.event)
    assert info["n_chunks"] == 3
    stats = info["footer"]["columns"]
    assert stats["m"]["n_exceptions"] >= 10  # the zeros cannot be met relatively, only exactly
    assert stats["pt"]["max_rel_error"] <= 0.001
    assert stats["n_constituents"]["kind"] == "lossless"
    float_bytes = sum(info["sizes"]["columns"][name] for name in tolerances)
    assert float_bytes < 0.5 * info["raw_float32_bytes"]


def test_default_tolerance_covers_unnamed_float_columns(tmp_path):
    table = jets()
    compress_table(table, tmp_path / "c.jz", tolerances="pt=1%", default_tolerance="0.01")
    restored = decompress_file(tmp_path / "c.jz")
    tolerances = {"pt": Tolerance(0.01, True)} | {
        name: Tolerance(0.01, False) for name in ("m", "eta", "phi")
    }
    assert_within(table, restored, tolerances)


def test_chunked_and_whole_give_the_same_values(tmp_path):
    table = jets(3000)
    compress_table(table, tmp_path / "one.jz", tolerances=ATLAS_TOLERANCE)
    compress_table(table, tmp_path / "many.jz", tolerances=ATLAS_TOLERANCE, chunk_rows=1000)
    assert decompress_file(tmp_path / "one.jz").equals(decompress_file(tmp_path / "many.jz"))


def test_compression_is_deterministic(tmp_path):
    table = jets()
    compress_table(table, tmp_path / "1.jz", tolerances=ATLAS_TOLERANCE)
    compress_table(table, tmp_path / "2.jz", tolerances=ATLAS_TOLERANCE)
    assert (tmp_path / "1.jz").read_bytes() == (tmp_path / "2.jz").read_bytes()


def test_energy_predicted_from_pt_and_eta(tmp_path):
    """E of a light jet is close to pt cosh(eta): the kinematic predictor wins and round-trips."""
    rng = np.random.default_rng(3)
    pt, eta = rng.lognormal(10, 0.8, 5000), rng.uniform(-3, 3, 5000)
    m = pt * rng.uniform(0.01, 0.1, 5000)
    energy = np.hypot(pt * np.cosh(eta), m)
    table = Table({"E": energy, "pt": pt, "eta": eta, "phi": rng.uniform(-3, 3, 5000)})
    tolerances = parse_tolerances("E=0.1%,pt=0.1%,eta=0.001,phi=0.001")
    info = compress_table(table, tmp_path / "e.jz", tolerances=tolerances)
    assert_within(table, decompress_file(tmp_path / "e.jz"), tolerances)
    assert info["footer"]["columns"]["E"]["predictor"] == {"E(pt,eta)": 1}


# ------------------------------------------------------------------ property test of the bound
edge_values = st.sampled_from(
    [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1e-30, 3.4e38, -3.4e38, 1e300, 1.0, -1.0, 0.5]
)
finite_values = st.floats(allow_nan=False, allow_infinity=False, width=64) | edge_values


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(finite_values, min_size=1, max_size=60),
    relative=st.booleans(),
    exponent=st.floats(-9, 1),
    float32=st.booleans(),
)
def test_every_value_meets_its_bound(values, relative, exponent, float32):
    dtype = np.float32 if float32 else np.float64
    with np.errstate(over="ignore"):
        x = np.asarray(values).astype(dtype)
    x = np.where(np.isfinite(x), x, 0).astype(dtype)
    tol = Tolerance(10.0**exponent, relative)
    table = Table({"x": x, "y": x[::-1].copy()})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.jz"
        compress_table(table, path, tolerances={"x": tol, "y": tol}, chunk_rows=25)
        restored = decompress_file(path)
    assert_within(table, restored, {"x": tol, "y": tol})


# ------------------------------------------------------------------ non-finite values
def with_nonfinite() -> Table:
    table = jets(500)
    table.columns["pt"][[3, 7]] = np.nan
    table.columns["eta"][5] = np.inf
    table.columns["eta"][9] = -np.inf
    return table


def test_nonfinite_values_are_refused_with_counts(tmp_path):
    with pytest.raises(InputError, match=r"pt: 2, eta: 2.*--allow-nonfinite"):
        compress_table(with_nonfinite(), tmp_path / "n.jz", tolerances=ATLAS_TOLERANCE)
    assert not (tmp_path / "n.jz").exists()


def test_nonfinite_values_are_stored_exactly_on_request(tmp_path):
    table = with_nonfinite()
    tolerances = parse_tolerances(ATLAS_TOLERANCE)
    compress_table(table, tmp_path / "n.jz", tolerances=tolerances, allow_nonfinite=True)
    restored = decompress_file(tmp_path / "n.jz")
    assert_within(table, restored, tolerances)
    assert np.isnan(restored["pt"][[3, 7]]).all()
    assert restored["eta"][5] == np.inf and restored["eta"][9] == -np.inf


def test_lossless_mode_keeps_nonfinite_values(tmp_path):
    table = with_nonfinite()
    compress_table(table, tmp_path / "n.jz", mode="lossless")
    assert decompress_file(tmp_path / "n.jz").equals(table)


# ------------------------------------------------------------------ bad options and input
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tolerances": "energy=0.1%"}, "does not have|do not have"),
        ({"tolerances": "n_constituents=1"}, "integer column"),
        ({"tolerances": "pt=-1%"}, "positive"),
        ({"tolerances": "pt:0.1"}, "malformed"),
        ({"mode": "bounded"}, "needs tolerances"),
        ({"mode": "latent"}, "needs a model"),
        ({"mode": "lossless", "tolerances": "pt=1%"}, "neither"),
        ({"mode": "fast"}, "unknown mode"),
        ({"tolerances": "pt=1%", "latent_dtype": "int8"}, "latent dtype"),
        ({"tolerances": "pt=1%", "chunk_rows": 0}, "chunk rows"),
    ],
)
def test_bad_options_are_refused_and_nothing_written(tmp_path, options, message):
    with pytest.raises(OptionError, match=message):
        compress_table(jets(100), tmp_path / "x.jz", **options)
    assert list(tmp_path.iterdir()) == []


def test_empty_input_is_refused(tmp_path):
    with pytest.raises(InputError, match="no rows"):
        compress_tables(iter([]), tmp_path / "x.jz", mode="lossless")


def test_chunks_with_different_columns_are_refused(tmp_path):
    first = jets(100)
    second = first.select(["pt", "m", "eta", "phi", "n_constituents"])
    with pytest.raises(InputError, match="a chunk of the input has columns"):
        compress_tables(iter([first, second]), tmp_path / "x.jz", mode="lossless")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("threads", [1, 2])
def test_interruption_leaves_no_file(tmp_path, threads):
    def interrupted():
        yield from (jets(100, seed) for seed in range(3))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compress_tables(
            interrupted(), tmp_path / "x.jz", tolerances=ATLAS_TOLERANCE, threads=threads
        )
    assert list(tmp_path.iterdir()) == []


def test_chunks_coded_at_once_give_the_same_file_and_values(tmp_path):
    """Several chunks in flight on three threads: the file is byte for byte the one a single
    thread writes, and decoding on three threads gives the same values in the same order."""
    table = jets(5000)
    for threads in (1, 3):
        compress_table(
            table,
            tmp_path / f"{threads}.jz",
            tolerances=ATLAS_TOLERANCE,
            chunk_rows=700,
            threads=threads,
        )
    assert (tmp_path / "1.jz").read_bytes() == (tmp_path / "3.jz").read_bytes()
    one, three = (decompress_file(tmp_path / "1.jz", threads=t) for t in (1, 3))
    assert one.equals(three)
    assert_within(table, three, parse_tolerances(ATLAS_TOLERANCE))
    assert np.array_equal(three.event, table.event)


def test_a_failing_chunk_among_several_in_flight_stops_the_run(tmp_path, monkeypatch):
    import jetzip.codec.pipeline as pipeline

    encode = pipeline.encode_chunk

    def fail_on_short_chunk(columns, *args):
        if len(columns["pt"]) < 700:  # the last chunk
            raise RuntimeError("chunk failed")
        return encode(columns, *args)

    monkeypatch.setattr(pipeline, "encode_chunk", fail_on_short_chunk)
    with pytest.raises(RuntimeError, match="chunk failed"):
        compress_table(
            jets(3000), tmp_path / "x.jz", tolerances=ATLAS_TOLERANCE, chunk_rows=700, threads=2
        )
    assert list(tmp_path.iterdir()) == []


def test_a_column_that_fails_fails_the_columns_predicted_from_it(tmp_path, monkeypatch):
    """pt is predicted from m and waits for m's values on another thread: when m fails, pt
    must fail with it instead of waiting for ever."""
    import threading

    import jetzip.codec.chunk as chunk

    quantise_with = chunk._quantise_with

    def fail_on_m(plan, *args):
        if plan.name == "m":
            raise RuntimeError("m failed")
        return quantise_with(plan, *args)

    predictors = {"eta": "none", "phi": "none", "m": "none", "pt": "ratio:m"}
    monkeypatch.setattr(chunk, "_choose_predictors", lambda *args, **kw: (predictors, 0.0))
    monkeypatch.setattr(chunk, "_quantise_with", fail_on_m)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            compress_table(jets(3000), tmp_path / "x.jz", tolerances=ATLAS_TOLERANCE, threads=2)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)  # a hang must not block the exit
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "a column predicted from a failed one waited for ever"
    assert len(outcome) == 1 and "m failed" in str(outcome[0])
    assert list(tmp_path.iterdir()) == []


def test_ordered_map_keeps_order_and_holds_at_most_workers_items():
    import threading
    import time

    from jetzip.codec.pipeline import ordered_map

    read, done = [], []
    lock = threading.Lock()

    def items():
        for i in range(20):
            with lock:
                assert len(read) - len(done) <= 3  # never more than `workers` held
                read.append(i)
            yield i

    def slow_square(i):
        time.sleep(0.002 * (i % 4))  # later items often finish first
        return i * i

    for i, result in enumerate(ordered_map(slow_square, items(), workers=3)):
        assert result == i * i
        with lock:
            done.append(i)
    assert done == list(range(20))


def test_ordered_map_stopped_early_drops_the_rest():
    from jetzip.codec.pipeline import ordered_map

    started = []
    mapped = ordered_map(started.append, iter(range(100)), workers=2)
    next(mapped)
    mapped.close()
    assert len(started) <= 3


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        decompress_file(tmp_path / "absent.jz")


# ------------------------------------------------------------------ real data
def test_atlas_bounded_is_small_and_within_bounds(atlas_4d_path, tmp_path):
    import pandas as pd

    frame = pd.read_pickle(atlas_4d_path)
    table = Table({c: frame[c].to_numpy() for c in frame.columns})
    tolerances = parse_tolerances(ATLAS_TOLERANCE)
    info = compress_table(table, tmp_path / "atlas.jz", tolerances=tolerances)
    assert_within(table, decompress_file(tmp_path / "atlas.jz"), tolerances)
    assert info["bytes_per_row"] < 6.0  # mantissa rounding meeting the same bound needs more
    for stats in info["footer"]["columns"].values():
        assert abs(stats["entropy_gap"]) < 0.05  # pcodec within 5 % of the order-0 entropy


def test_event_level_columns_are_stored_as_runs_bit_exactly(tmp_path):
    """MET-like values repeat on every object of an event: run-length coding, NaN and -0.0 kept."""
    rng = np.random.default_rng(5)
    per_event = rng.normal(50.0, 20.0, 400)
    per_event[[3, 4]] = [-0.0, np.nan]
    met = np.repeat(per_event, rng.integers(1, 6, 400))
    table = Table({"MET": met, "pt": rng.lognormal(3, 1, met.size)})
    info = compress_table(table, tmp_path / "r.jz", mode="lossless")
    restored = decompress_file(tmp_path / "r.jz")["MET"]
    assert restored.tobytes() == met.tobytes()
    assert list(info["footer"]["columns"]["MET"]["methods"]) == ["runs+pcodec"]


def test_footer_errors_are_those_of_the_decoded_values(tmp_path):
    """The largest errors recorded at compression (measured by the quantiser) are exactly the
    largest errors of what decompression gives back."""
    table = jets(dtype=np.float64)
    info = compress_table(table, tmp_path / "e.jz", tolerances=ATLAS_TOLERANCE, chunk_rows=700)
    restored = decompress_file(tmp_path / "e.jz")
    for name in ("m", "pt", "eta", "phi"):
        error = np.abs(restored[name] - table[name])
        magnitude = np.abs(table[name])
        relative = np.divide(error, magnitude, out=np.zeros_like(error), where=magnitude > 0)
        stats = info["footer"]["columns"][name]
        assert stats["max_abs_error"] == error.max() > 0, name
        assert stats["max_rel_error"] == relative.max() > 0, name


def test_compression_refuses_a_chunk_that_decodes_to_other_values(tmp_path, monkeypatch):
    """Verification decodes every coded stream again: a coder that gives back codes other
    than those checked against the tolerance (here one code off by one) is caught."""
    import jetzip.codec.chunk as chunk

    decode_ints = chunk.decode_ints

    def one_code_off(data, n):
        codes = decode_ints(data, n).copy()
        codes[-1] += 1
        return codes

    monkeypatch.setattr(chunk, "decode_ints", one_code_off)
    with pytest.raises(AssertionError, match="does not decode to the codes checked"):
        compress_table(jets(), tmp_path / "x.jz", tolerances=ATLAS_TOLERANCE)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("symbols", "bits"),
    [
        ([7, 7, 7, 7], 0.0),
        ([1, 1, 2, 2], 4.0),
        ([-3, 0, 0, 0], 4 * np.log2(4) - 3 * np.log2(3)),
        ([0, 10**15, 0, 10**15, 5, 5, 5, 5], 12.0),  # sparse alphabet: counted by sorting
    ],
)
def test_empirical_entropy_matches_hand_counts(symbols, bits):
    from jetzip.codec.entropy import empirical_entropy_bits

    assert empirical_entropy_bits(np.array(symbols, dtype=np.int64)) == pytest.approx(bits)


@pytest.mark.parametrize("spread", [3.0, 2_000.0, 20_000.0, 200_000.0])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_empirical_entropy_is_the_same_however_the_symbols_are_counted(spread, dtype):
    """Small alphabets are counted block by block, wider ones at once or by sorting: each way
    must give the entropy of the whole array's counts (blocks and a ragged tail included)."""
    from jetzip.codec.entropy import COUNT_BLOCK_ROWS, empirical_entropy_bits

    n = 3 * COUNT_BLOCK_ROWS + 123
    symbols = np.rint(np.random.default_rng(5).normal(-40, spread, n)).astype(dtype)
    _, counts = np.unique(symbols, return_counts=True)
    expected = n * np.log2(n) - (counts * np.log2(counts)).sum()
    assert empirical_entropy_bits(symbols) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("structured", [True, False])
def test_integer_coding_keeps_the_structure_search_only_where_it_pays(structured):
    """Smooth codes (as of sorted or event-level data) gain from pcodec's delta search, which
    a small trial must detect; codes of independent jets must be coded plainly (same bytes,
    less time)."""
    from pcodec import standalone

    from jetzip.codec.entropy import _PLAIN_INTS, decode_ints, encode_ints

    rng = np.random.default_rng(3)
    n = 200_000
    codes = np.cumsum(rng.integers(0, 4, n)) if structured else rng.integers(-2000, 2000, n)
    data = encode_ints(codes)
    plain = standalone.simple_compress(codes, _PLAIN_INTS)
    if structured:
        assert len(data) < 0.5 * len(plain)
    else:
        assert data == plain
    assert np.array_equal(decode_ints(data, n), codes)


def test_codes_are_int32_unless_a_column_needs_int64(tmp_path):
    """Codes take half the memory as int32; a column whose grid indices pass 2**31 (here a
    1e-9 absolute bound on values up to 1e3) keeps int64, and both decode within bounds."""
    from jetzip.codec.quantize import quantise

    rng = np.random.default_rng(5)
    values = rng.uniform(-1e3, 1e3, 200_000)
    assert quantise(values, Tolerance(1e-3, False)).codes.dtype == np.int32
    fine = quantise(values, Tolerance(1e-9, False))
    assert fine.codes.dtype == np.int64 and np.abs(fine.codes).max() > 2**31
    table = Table({"coarse": values, "fine": values.copy()})
    tolerances = {"coarse": Tolerance(1e-3, False), "fine": Tolerance(1e-9, False)}
    compress_table(table, tmp_path / "x.jz", tolerances=tolerances)
    restored = decompress_file(tmp_path / "x.jz")
    for name, tolerance in tolerances.items():
        assert not tolerance.violations(table[name], restored[name]).any()


def _correlated_pair_by_pair(values: np.ndarray, restored: dict[str, np.ndarray]) -> list[str]:
    """The ratio candidates as chosen before they were vectorised: np.corrcoef per pair."""
    from jetzip.codec import chunk

    scores = []
    for other, decoded in restored.items():
        r = chunk._pair_correlation(chunk._log_magnitude(values), chunk._log_magnitude(decoded))
        if r is not None and r > chunk.RATIO_MIN_CORRELATION:
            scores.append((-r, other))
    return [other for _, other in sorted(scores)[: chunk.RATIO_CANDIDATES]]


@pytest.mark.parametrize("seed", range(6))
def test_ratio_candidates_are_those_of_np_corrcoef_pair_by_pair(seed):
    """Wide tables with zeros (log -inf), NaN, constant and tied columns and a target exactly
    at ties: the vectorised scoring picks exactly what np.corrcoef pair by pair picks."""
    from jetzip.codec.chunk import LogMagnitudes, _correlated

    rng = np.random.default_rng(seed)
    n = int(rng.choice([3, 50, 700]))
    base = rng.lognormal(3.0, 1.0, n)
    restored: dict[str, np.ndarray] = {}
    for i in range(70):  # more than one block of _SCREEN_SOURCES
        kind = i % 5
        if kind == 0:  # correlated with the target at a spread of strengths
            column = base * rng.lognormal(0.0, rng.uniform(0.01, 3.0), n)
        elif kind == 1:  # an exact copy of another column: tied correlations, ties by name
            column = restored[f"c{i - 1:02d}"].copy()
        elif kind == 2:  # constant, or constant but for zeros
            column = np.full(n, 7.5)
            column[rng.random(n) < 0.3] = 0.0
        elif kind == 3:  # zeros and NaN where the log is not finite
            column = base * rng.lognormal(0.0, 0.5, n)
            column[rng.random(n) < 0.2] = 0.0
            column[rng.random(n) < 0.05] = np.nan
        else:  # unrelated, sometimes nearly constant (ill-conditioned)
            column = 1e6 + rng.normal(0, 1e-3 if i % 2 else 1e3, n)
        restored[f"c{i:02d}"] = column.astype(np.float32 if i % 3 else np.float64)
    magnitudes = LogMagnitudes()
    for k in (0, 1, 7, 40, 70):  # as a chunk restores its columns, the same cache growing
        part = dict(list(restored.items())[:k])
        magnitudes.update(part)
        for target in (base, restored["c00"], restored["c02"], restored["c03"]):
            assert _correlated(target, magnitudes) == _correlated_pair_by_pair(target, part)
