"""Whole files through .jz: synthetic events of every layout, then every real ROOT file.

Decoded events are compared with the originals here, value by value, without the codec's help:
same branches, entries, types and jagged counts; integers, bools and uncovered floats exact;
bounded floats within their rule."""

from __future__ import annotations

import io
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

import jetzip
from conftest import ROOT_DIR, require_shared
from jetzip.cli.main import main
from jetzip.codec import wholefile
from jetzip.codec.entropy import encode_lossless
from jetzip.codec.policy import parse_policy
from jetzip.codec.tolerance import Tolerance
from jetzip.codec.wholefile import EventsReader, compress_events, describe_events
from jetzip.container import ContainerWriter, open_reader
from jetzip.errors import CorruptFileError
from jetzip.events import EventChunk, TreeInfo, read_events, write_events
from jetzip.io import read_table

RNG = np.random.default_rng(7)


# ---------------------------------------------------------------------- independent checks
def assert_close(original: ak.Array, restored: ak.Array, tol: Tolerance | None, where: str):
    """Same type, same structure at every depth, values exact or within `tol`."""
    assert str(original.type) == str(restored.type), where
    if original.fields:
        for field in original.fields:
            assert_close(original[field], restored[field], tol, f"{where}.{field}")
        return
    if "string" in str(original.type) or "?" in str(original.type):
        assert ak.to_list(original) == ak.to_list(restored), where
        return
    for axis in range(1, original.ndim):
        a = ak.flatten(ak.num(original, axis=axis), axis=None)
        b = ak.flatten(ak.num(restored, axis=axis), axis=None)
        assert np.array_equal(ak.to_numpy(a), ak.to_numpy(b)), f"{where}: counts at depth {axis}"
    a = ak.to_numpy(ak.flatten(original, axis=None))
    b = ak.to_numpy(ak.flatten(restored, axis=None))
    assert a.dtype == b.dtype, where
    if a.dtype.kind != "f" or tol is None:
        assert a.tobytes() == b.tobytes(), f"{where} is not exact"
        return
    assert not tol.violations(a, b).any(), f"{where} misses {tol.to_text()}"


def assert_events_close(original: ak.Array, restored: ak.Array, rules: dict) -> None:
    assert list(restored.fields) == list(original.fields)
    assert len(restored) == len(original)
    for name in original.fields:
        rule = rules.get(name)
        assert_close(original[name], restored[name], rule and rule.tolerance, name)


def chunk_of(arrays: dict, first: int = 0) -> EventChunk:
    array = ak.zip(arrays, depth_limit=1)
    branches = {n: {"type": str(array[n].type.content)} for n in array.fields}
    info = TreeInfo("synthetic.root", "root", "Events", "TTree", branches, {"Jet": ["Jet_pt"]})
    return EventChunk(array, first, info)


def synthetic(n: int, first: int = 0) -> EventChunk:
    counts = RNG.poisson(2.5, n)
    counts[::7] = 0  # empty events
    jets = int(counts.sum())
    pt = (RNG.exponential(30.0, jets) + 20).astype(np.float32)
    nullable = ak.Array([None if i % 5 == 0 else i for i in range(first, first + n)])
    return chunk_of(
        {
            "run": np.full(n, 1, np.uint32),
            "event": np.arange(first, first + n, dtype=np.uint64),
            "nJet": counts.astype(np.uint32),
            "Jet_pt": ak.unflatten(pt, counts),
            "Jet_eta": ak.unflatten(RNG.uniform(-2.5, 2.5, jets).astype(np.float32), counts),
            "Jet_id": ak.unflatten(RNG.integers(0, 7, jets).astype(np.int32), counts),
            "Jet_good": ak.unflatten(RNG.random(jets) > 0.3, counts),
            "MET_pt": RNG.exponential(40.0, n),
            "weights": RNG.normal(1, 0.1, (n, 3)).astype(np.float32),  # fixed-size array
            "tracks": ak.unflatten(ak.unflatten(RNG.random(jets * 2), np.full(jets, 2)), counts),
            "maybe": nullable,
            "label": [f"e{i}" for i in range(first, first + n)],
        },
        first,
    )


TOLERANCE = "*_pt=0.1%,*_eta=0.001,MET_pt=0.5%"


@pytest.fixture(scope="module")
def two_chunk_file(tmp_path_factory) -> tuple[Path, list[EventChunk]]:
    chunks = [synthetic(300), synthetic(257, first=300)]
    path = tmp_path_factory.mktemp("wf") / "events.jz"
    compress_events(chunks, path, policy=parse_policy(TOLERANCE))
    return path, chunks


def test_every_layout_round_trips_within_its_rule(two_chunk_file) -> None:
    path, chunks = two_chunk_file
    original = ak.concatenate([c.arrays for c in chunks])
    reader = EventsReader(path)
    assert reader.info == chunks[0].info  # stored without what the catalogue says
    restored = ak.concatenate([c.arrays for c in reader.iter_chunks()])
    rules = parse_policy(TOLERANCE).resolve({n: True for n in original.fields})
    assert_events_close(original, restored, rules)
    assert reader.num_entries == 557
    # bounded columns really were quantised (not stored exactly by accident)
    assert not np.array_equal(ak.flatten(restored.Jet_pt), ak.flatten(original.Jet_pt))


def test_entry_ranges_across_chunks_and_branch_subsets(two_chunk_file) -> None:
    path, chunks = two_chunk_file
    original = ak.concatenate([c.arrays for c in chunks])
    reader = EventsReader(path)
    parts = list(reader.iter_chunks(["nJet", "label", "maybe"], entry_start=290, entry_stop=310))
    assert [(p.first_event, p.n_events) for p in parts] == [(290, 10), (300, 10)]
    got = ak.concatenate([p.arrays for p in parts])
    assert got.fields == ["nJet", "label", "maybe"]
    assert ak.to_list(got) == ak.to_list(original[["nJet", "label", "maybe"]][290:310])


def test_shared_counts_are_stored_once_and_info_lists_rules(two_chunk_file) -> None:
    path, _ = two_chunk_file
    info = describe_events(path)
    by_name = {b["name"]: b for b in info["branches"]}
    # nJet equals the Jet_* offsets' counts: stored once, referenced by the others
    assert by_name["nJet"]["bytes"] + by_name["Jet_eta"]["bytes"] > 0
    assert by_name["Jet_id"]["bytes"] < by_name["Jet_eta"]["bytes"]
    assert by_name["Jet_pt"]["rule"].startswith("0.1% (*_pt")
    assert by_name["Jet_id"]["rule"] == "exact"
    assert by_name["MET_pt"]["max_rel_error"] <= 0.005
    assert info["n_events"] == 557


def test_bounded_column_never_larger_than_lossless(tmp_path) -> None:
    noise = RNG.random(5000).astype(np.float32) + 1  # a bound finer than float32's own steps
    chunk = chunk_of({"x": noise, "Jet_pt": ak.unflatten(noise, np.ones(5000, int))})
    compress_events([chunk], tmp_path / "a.jz", policy=parse_policy("x=1e-9%"))
    info = describe_events(tmp_path / "a.jz")
    x = next(b for b in info["branches"] if b["name"] == "x")
    assert x["lossless_fallbacks"] == 1 and x["max_abs_error"] == 0.0
    assert x["bytes"] <= 4 * 5000
    restored = next(EventsReader(tmp_path / "a.jz").iter_chunks()).arrays
    assert np.array_equal(ak.to_numpy(restored.x), noise)


def test_flat_and_jagged_branches_decompose_as_awkward_does() -> None:
    jagged32 = ak.contents.ListOffsetArray(
        ak.index.Index32(np.array([0, 2, 2, 5], np.int32)),
        ak.contents.NumpyArray(np.arange(6, dtype=np.float32)),
    )
    layouts = [
        *wholefile._branch_layouts(synthetic(40).arrays).values(),
        ak.Array([[1.5, 2.0], [3.0], [], [4.0, 5.0, 6.0]])[1:].layout,  # offsets from 2
        jagged32,
        ak.contents.NumpyArray(np.array([True, False])),
    ]
    direct = 0
    for layout in layouts:
        fast = wholefile._simple_buffers(layout)
        if fast is None:
            continue
        direct += 1
        form, length, buffers = ak.to_buffers(layout.to_packed())
        assert fast[0] == form.to_dict(verbose=False) and fast[1] == length
        assert fast[2].keys() == buffers.keys()
        for key, expected in buffers.items():
            expected = np.diff(expected) if key.endswith("-offsets") else np.asarray(expected)
            assert fast[2][key].dtype == expected.dtype
            assert fast[2][key].tobytes() == expected.tobytes(), key
    assert direct >= 8


def test_decoded_buffers_that_do_not_fit_their_form_name_the_branch(two_chunk_file) -> None:
    path, _ = two_chunk_file
    reader = EventsReader(path)
    names = ["nJet", "Jet_pt", "tracks"]
    ids = {b.id for n in names for b in reader.buffers[n]}
    decoded = next(reader._read_in_order(ids, 0, 300, wholefile.codec_executor(1)))[1]
    assert len(reader._events_array(names, 300, decoded)) == 300
    for name in ("Jet_pt", "tracks"):  # one built directly, one by ak.from_buffers
        data = next(b.id for b in reader.buffers[name] if b.role == "data")
        damaged = dict(decoded, **{data: decoded[data][:-1]})
        with pytest.raises(CorruptFileError, match=f"branch '{name}' does not rebuild"):
            reader._events_array(names, 300, damaged)


def test_small_collections_share_a_section_and_big_ones_keep_theirs(tmp_path, monkeypatch):
    n = 500
    jets, muons = np.full(n, 12), np.full(n, 1)
    arrays = {
        "run": np.ones(n, np.uint32),
        "MET_pt": RNG.exponential(40.0, n).astype(np.float32),
        "Jet_pt": ak.unflatten(RNG.random(12 * n).astype(np.float32), jets),  # 24 kB
        "Jet_eta": ak.unflatten(RNG.random(12 * n).astype(np.float32), jets),
        "Muon_pt": ak.unflatten(RNG.random(n).astype(np.float32), muons),  # 2 kB, length n
        "Tau_pt": ak.unflatten(RNG.random(3).astype(np.float32), [3] + [0] * (n - 1)),
    }
    array = ak.zip(arrays, depth_limit=1)
    branches = {k: {"type": str(array[k].type.content)} for k in array.fields}
    collections = {"Jet": ["Jet_pt", "Jet_eta"], "Muon": ["Muon_pt"], "Tau": ["Tau_pt"]}
    chunk = EventChunk(
        array, 0, TreeInfo("s.root", "root", "Events", "TTree", branches, collections)
    )
    compress_events([chunk], tmp_path / "a.jz", policy=parse_policy("Muon_pt=0.1%"))
    reader = EventsReader(tmp_path / "a.jz")
    branch_of = {b.id: name for name, bs in reader.buffers.items() for b in bs}
    sections = [sorted({branch_of[c] for c in ids}) for ids in reader.index["groups"]]
    # the jets' values and their counts apart; the small collections' columns of n rows
    # (run, MET_pt, the muons, the taus' counts) together; the taus' 3 values
    assert sorted(sections) == [
        ["Jet_eta", "Jet_pt"],
        ["Jet_eta", "Jet_pt"],
        ["MET_pt", "Muon_pt", "Tau_pt", "run"],
        ["Tau_pt"],
    ]
    restored = next(reader.iter_chunks()).arrays
    rules = parse_policy("Muon_pt=0.1%").resolve({k: True for k in array.fields})
    assert_events_close(array, restored, rules)
    jz = tmp_path / "a.jz"
    jets, _ = bytes_read(monkeypatch, jz, lambda: list(EventsReader(jz).iter_chunks(["Jet_pt"])))
    met, _ = bytes_read(monkeypatch, jz, lambda: list(EventsReader(jz).iter_chunks(["MET_pt"])))
    assert jets > 20_000 > 12_000 > met


def test_tiny_exact_columns_are_coded_stacked_per_dtype(tmp_path) -> None:
    chunk = synthetic(100)  # at most STACK_MAX_ROWS rows per section: stacks
    arrays = {n: chunk.arrays[n] for n in chunk.arrays.fields}
    arrays.update({f"HLT_{i}": RNG.random(100) > 0.5 for i in range(30)})
    arrays["nan"] = np.where(RNG.random(100) > 0.5, np.nan, 1.0)
    arrays["minus_zero"] = np.where(RNG.random(100) > 0.5, -0.0, 2.0)
    original = chunk_of(arrays)
    compress_events([original], tmp_path / "a.jz", policy=parse_policy(TOLERANCE))
    reader = EventsReader(tmp_path / "a.jz")
    branch_of = {b.id: name for name, bs in reader.buffers.items() for b in bs}
    stacks: dict[str, set[str]] = {}
    for section in reader.index["sections"]:
        for sid, spec in section.get("stacked", {}).items():
            stacks.setdefault(sid, set()).update(branch_of[m] for m in spec["members"])
    assert stacks["s.bool"] >= {f"HLT_{i}" for i in range(30)}
    assert stacks["s.float64"] >= {"nan", "minus_zero"}
    restored = next(reader.iter_chunks()).arrays
    rules = parse_policy(TOLERANCE).resolve({n: True for n in arrays})
    assert_events_close(original.arrays, restored, rules)
    one = next(EventsReader(tmp_path / "a.jz").iter_chunks(["HLT_7"], 10, 20)).arrays
    assert ak.to_list(one.HLT_7) == ak.to_list(original.arrays.HLT_7[10:20])
    info = describe_events(tmp_path / "a.jz")
    assert sum(b["bytes"] for b in info["branches"]) == info["file_bytes"] - sum(
        info["overhead"].values()
    )


def test_tiny_bounded_columns_no_smaller_than_exact_join_the_stack(tmp_path) -> None:
    values = RNG.exponential(30.0, 100).astype(np.float32) + 20
    arrays = {"a": _rounded(values, 8), "b": values, "c": values + 1, "Jet_pt": [[1.0]] * 100}
    chunk = chunk_of(arrays)
    compress_events([chunk], tmp_path / "a.jz", policy=parse_policy("a=0.0122%,b=1%"))
    reader = EventsReader(tmp_path / "a.jz")
    branch_of = {b.id: name for name, bs in reader.buffers.items() for b in bs}
    stacked = {
        branch_of[m]
        for section in reader.index["sections"]
        for spec in section.get("stacked", {}).values()
        for m in spec["members"]
    }
    assert {"a", "c"} <= stacked and "b" not in stacked  # b is quantised
    by_name = {b["name"]: b for b in describe_events(tmp_path / "a.jz")["branches"]}
    assert by_name["a"]["lossless_fallbacks"] == 1 and by_name["a"]["max_rel_error"] == 0
    restored = next(reader.iter_chunks()).arrays
    assert ak.to_numpy(restored.a).tobytes() == arrays["a"].tobytes()
    assert 0 < by_name["b"]["max_rel_error"] <= 0.01
    assert not Tolerance(0.01, True).violations(values, ak.to_numpy(restored.b)).any()


def test_a_damaged_list_of_stacks_is_one_line(tmp_path) -> None:
    compress_events([synthetic(50)], tmp_path / "a.jz", policy=parse_policy(TOLERANCE))
    reader = EventsReader(tmp_path / "a.jz")
    section = next(s for s in reader.index["sections"] if s.get("stacked"))
    sid, spec = next(iter(section["stacked"].items()))
    for damaged in (
        {sid: dict(spec, members=spec["members"] + spec["members"][:1])},  # twice
        {"s.float32": spec},  # another dtype
        {sid: {"members": spec["members"]}},  # no method
        [sid],
    ):
        section["stacked"] = damaged
        with pytest.raises(CorruptFileError, match="damaged list of stacked columns"):
            list(reader.iter_chunks())


def _rounded(values: np.ndarray, bits: int) -> np.ndarray:
    """float32 values rounded to `bits` mantissa bits (as CMS NanoAOD stores them)."""
    drop = 23 - bits
    raw = values.astype(np.float32).view(np.uint32)
    raw = (raw + np.uint32(1 << (drop - 1))) & ~np.uint32((1 << drop) - 1)
    return raw.view(np.float32)


def test_values_already_rounded_below_the_bound_are_stored_exactly(tmp_path) -> None:
    values = RNG.exponential(30.0, 4000).astype(np.float32) + 20
    rounded = _rounded(values, 10)  # grid steps >= 2^-11 relative; the bound is 2^-13
    chunk = chunk_of({"x": rounded, "z": values, "Jet_pt": ak.unflatten(rounded, [4000])})
    policy = parse_policy("x=0.0122%,z=0.0122%")
    compress_events([chunk], tmp_path / "a.jz", policy=policy)
    by_name = {b["name"]: b for b in describe_events(tmp_path / "a.jz")["branches"]}
    assert by_name["x"]["lossless_fallbacks"] == 1 and by_name["x"]["max_rel_error"] == 0.0
    # full-precision values under the same bound are quantised
    assert by_name["z"]["lossless_fallbacks"] == 0
    assert 0 < by_name["z"]["max_rel_error"] <= 0.000122
    restored = next(EventsReader(tmp_path / "a.jz").iter_chunks()).arrays
    assert ak.to_numpy(restored.x).tobytes() == rounded.tobytes()
    assert not Tolerance(0.000122, True).violations(values, ak.to_numpy(restored.z)).any()


def test_a_quantised_column_larger_than_lossless_is_stored_losslessly(tmp_path) -> None:
    noise = RNG.random(3000).astype(np.float32) + 1  # 6e-8: about float32's own step
    chunk = chunk_of(
        {"x": noise, "y": noise * np.float32(1.5), "Jet_pt": ak.unflatten(noise, [3000])}
    )
    compress_events([chunk], tmp_path / "a.jz", policy=parse_policy("x=6e-6%,y=1e-4%"))
    by_name = {b["name"]: b for b in describe_events(tmp_path / "a.jz")["branches"]}
    x, y = by_name["x"], by_name["y"]
    assert x["lossless_fallbacks"] == 1 and x["max_rel_error"] == 0.0
    assert x["bytes"] <= len(encode_lossless(noise)[1])
    assert y["lossless_fallbacks"] == 0 and 0 < y["max_rel_error"] <= 1e-6
    restored = next(EventsReader(tmp_path / "a.jz").iter_chunks()).arrays
    assert ak.to_numpy(restored.x).tobytes() == noise.tobytes()
    assert not Tolerance(1e-6, True).violations(noise * np.float32(1.5), restored.y).any()


def test_a_root_input_is_opened_once_and_its_share_measured(tmp_path, monkeypatch) -> None:
    chunk = synthetic(120)
    simple = chunk_of({n: chunk.arrays[n] for n in ("run", "nJet", "Jet_pt", "Jet_eta")})
    write_events([simple], tmp_path / "in.root")
    opened: list[str] = []
    real = uproot.open

    def counting(path, *args, **kwargs):
        opened.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(uproot, "open", counting)
    source = wholefile.compress_source(tmp_path / "in.root", tmp_path / "x.jz")["source"]
    assert opened == [str(tmp_path / "in.root")]
    assert source["whole"] is True and 0 < source["stored_bytes"] < source["bytes"]


# ---------------------------------------------------------------------- real files
#: Files with hundreds of branches: checked whole in tests/test_wholefile_wide_1.py and _2.py
#: (about equal times, so that `pytest -n 2 --dist loadfile` runs them side by side), from the
#: events read once; the others here, through the command line.
WIDE_1 = (
    "nanoAOD_2015_CMS_Open_Data_ttbar.root",
    "cmsopendata2015_ttbar_19980_NANOAOD_RNTupleImporter_rntuple_v1-0-0-1.root",
    "uproot-mc10events.root",
    "uproot-issue-798.root",
)
WIDE_2 = (
    "uproot-issue-123a.root",
    "uproot-issue-951.root",
    "uproot-physlite-rntuple_v1-0-0-0.root",
    "uproot-issue513.root",
)
ROOT_FILES = sorted(p.name for p in ROOT_DIR.glob("*.root")) if ROOT_DIR.exists() else []
NARROW_FILES = [name for name in ROOT_FILES if name not in WIDE_1 + WIDE_2]
RULE = "*=0.1%"


def rules_of(arrays: ak.Array) -> dict:
    return parse_policy(RULE).resolve({n: "float" in str(arrays[n].type) for n in arrays.fields})


def assert_every_branch_matches(original: ak.Array, restored: ak.Array, rules: dict) -> None:
    """Every branch of every event, independently of the codec: same names, entries and types,
    then per branch awkward's own buffers of both (packed) compared: equal bytes, or for float
    data under a rule within it. A branch whose layouts differ (an option type as another
    reader builds it) is compared by `assert_close`. ~0.5 ms per branch, where `assert_close`
    takes a few."""
    assert list(restored.fields) == list(original.fields)
    assert len(restored) == len(original)
    assert str(restored.type) == str(original.type)
    packed_a, packed_b = ak.to_packed(original).layout, ak.to_packed(restored).layout
    for name in original.fields:
        rule = rules.get(name)
        tol = rule and rule.tolerance
        form_a, _, buffers_a = ak.to_buffers(packed_a.content(name))
        form_b, _, buffers_b = ak.to_buffers(packed_b.content(name))
        if form_a != form_b:
            assert_close(original[name], restored[name], tol, name)
            continue
        for key, a in buffers_a.items():
            a, b = np.asarray(a), np.asarray(buffers_b[key])
            assert a.dtype == b.dtype and a.shape == b.shape, f"{name} {key}"
            if tol is not None and key.endswith("-data") and a.dtype.kind == "f":
                assert not tol.violations(a, b).any(), f"{name} misses {tol.to_text()}"
            else:
                assert a.tobytes() == b.tobytes(), f"{name} ({key}) is not exact"


def assert_whole_file_round_trips(name: str, tmp_path: Path) -> None:
    """Every branch --skip-unsupported keeps, through .jz to jetzip.open, Parquet and the
    source's tree kind, each checked against the events read from the source."""
    source = require_shared(ROOT_DIR / name)
    original = read_events(source, skip_unsupported=True)
    rules = rules_of(original.arrays)
    jz = tmp_path / "x.jz"
    compress_events([original], jz, policy=parse_policy(RULE))
    assert EventsReader(jz).info == original.info  # names, types, counts, units, collections
    opened = jetzip.open(jz).arrays(how=None)
    assert_every_branch_matches(original.arrays, opened, rules)
    records = jetzip.open(jz).arrays()  # collections zipped (vector records where they fit)
    assert len(records) == len(original.arrays)
    for collection, members in original.info.collections.items():
        assert collection in records.fields or set(members) <= set(records.fields), collection
    for suffix in (".parquet", ".root"):
        out = tmp_path / f"back{suffix}"
        assert wholefile.decompress_events(jz, out) == len(original.arrays)
        restored = read_events(out)
        assert_every_branch_matches(original.arrays, restored.arrays, rules)
    with uproot.open(out) as f:
        tree = f[original.info.tree]
        assert tree.num_entries == len(original.arrays)
        assert ("RNTuple" in type(tree).__name__) == (original.info.kind == "RNTuple")


@pytest.mark.parametrize("name", NARROW_FILES or ["(no shared data)"])
def test_real_file_round_trips_to_root_and_parquet(name: str, tmp_path: Path, capsys) -> None:
    source = require_shared(ROOT_DIR / name)
    jz = tmp_path / "x.jz"
    argv = ["compress", str(source), "-o", str(jz), "--tolerance", RULE, "--quiet"]
    assert main([*argv, "--skip-unsupported"]) == 0
    original = read_events(source, skip_unsupported=True)
    assert EventsReader(jz).info == original.info
    rules = rules_of(original.arrays)
    kind = original.info.kind
    for suffix in (".root", ".parquet"):
        out = tmp_path / f"back{suffix}"
        assert main(["decompress", str(jz), "-o", str(out)]) == 0
        restored = read_events(out)
        assert_events_close(original.arrays, restored.arrays, rules)
        if suffix == ".root":
            with uproot.open(out) as f:
                tree = f[original.info.tree]
                assert tree.num_entries == len(original.arrays)
                assert ("RNTuple" in type(tree).__name__) == (kind == "RNTuple")
    capsys.readouterr()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--branches", "Nope_*"], "Nope_*"),
        (["--tolerance", "Nope_*=0.1%"], "matches no branch"),
        (["--precision", "cms"], "unknown precision preset"),
        ([], "--skip-unsupported"),
    ],
)
def test_bad_whole_file_input_is_one_line_and_nothing_written(
    extra, message, tmp_path, capsys
) -> None:
    source = require_shared(ROOT_DIR / "uproot-issue-816.root")  # has nested-list branches
    if extra:
        extra = [*extra, "--skip-unsupported"]
    out = tmp_path / "x.jz"
    assert main(["compress", str(source), "-o", str(out), *extra]) != 0
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err, err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_a_damaged_parquet_input_is_one_line(tmp_path, capsys) -> None:
    """Deciding whether a .parquet input is a whole file reads its schema: a file that is not
    Parquet ends there in one line, not in pyarrow's traceback."""
    source = tmp_path / "bad.parquet"
    source.write_bytes(b"not parquet at all" * 20)
    out = tmp_path / "x.jz"
    assert main(["compress", str(source), "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert "cannot read" in err and "\n" not in err, err
    assert not out.exists()


def test_decompress_one_collection_as_a_flat_table(two_chunk_file, tmp_path, capsys) -> None:
    path, chunks = two_chunk_file
    original = ak.concatenate([c.arrays for c in chunks])
    out = tmp_path / "jets.parquet"
    assert main(["decompress", str(path), "-o", str(out), "--collection", "Jet"]) == 0
    table = read_table(out)
    counts = ak.to_numpy(ak.num(original.Jet_pt))
    assert table.names == ["pt"] and table.n_rows == counts.sum()
    np.testing.assert_array_equal(table.event, np.repeat(np.arange(len(original)), counts))
    pt = ak.to_numpy(ak.flatten(original.Jet_pt))
    assert not Tolerance(1e-3, True).violations(pt, table["pt"]).any()
    assert main(["decompress", str(path), "-o", str(tmp_path / "x.csv"), "--collection", "Nope"])
    assert "no collection 'Nope'" in capsys.readouterr().err


def test_event_parquet_input_compresses_as_a_whole_file(two_chunk_file, tmp_path, capsys):
    path, _ = two_chunk_file
    events = tmp_path / "events.parquet"
    assert main(["decompress", str(path), "-o", str(events)]) == 0
    jz = tmp_path / "again.jz"
    assert main(["compress", str(events), "-o", str(jz), "--quiet"]) == 0  # lossless
    capsys.readouterr()
    first = ak.concatenate([c.arrays for c in EventsReader(path).iter_chunks()])
    again = ak.concatenate([c.arrays for c in EventsReader(jz).iter_chunks()])  # a whole file
    assert_events_close(first, again, {})


# ---------------------------------------------------------------------- seeking
class CountingReader(io.BufferedReader):
    """A file whose reads add up the bytes they return."""

    total = 0

    def read(self, n: int | None = -1) -> bytes:
        data = super().read(n)
        CountingReader.total += len(data)
        return data


def bytes_read(monkeypatch, path: Path, read) -> tuple[int, object]:
    """The bytes of `path` that `read()` takes from disk, through real .jz readers."""
    real = wholefile.open_reader
    monkeypatch.setattr(
        wholefile, "open_reader", lambda source: real(CountingReader(io.FileIO(source)))
    )
    CountingReader.total = 0
    result = read()
    monkeypatch.setattr(wholefile, "open_reader", real)
    return CountingReader.total, result


def sections_of(path: Path) -> list[tuple[tuple[int, int], int, set[str]]]:
    """Each section's events, bytes and column ids, from the file's own footer."""
    footer = EventsReader(path).footer
    index = wholefile._unpack_json(footer["index"])
    events = [(c["start"], c["stop"], g) for c in index["event_chunks"] for g in c["sections"]]
    return [
        ((a, b), entry["bytes"], set(index["groups"][g]))
        for (a, b, g), entry in zip(events, footer["chunk_index"], strict=True)
    ]


def test_a_late_range_of_one_branch_reads_only_its_sections(two_chunk_file, monkeypatch):
    path, _ = two_chunk_file
    reader = EventsReader(path)
    everything, full = bytes_read(monkeypatch, path, lambda: list(reader.iter_chunks()))
    assert everything >= path.stat().st_size  # the whole file, checked in order
    late, parts = bytes_read(
        monkeypatch, path, lambda: list(reader.iter_chunks(["Jet_pt"], 300, 557))
    )
    # Jet_pt's data and its counts (stored once, as nJet's) of the second chunk, plus the
    # header, footer and trailer: never a section of the first chunk or of other columns
    needed = {b.id for b in reader.buffers["Jet_pt"]}
    sections = sections_of(path)
    wanted = sum(n for events, n, ids in sections if events == (300, 557) and needed & ids)
    first_chunk = sum(n for events, n, _ in sections if events == (0, 300))
    framing = path.stat().st_size - sum(n for _, n, _ in sections)
    assert wanted < late <= wanted + 2 * framing  # the header is read twice (open, seek)
    assert late < everything - first_chunk
    assert [p.first_event for p in parts] == [300]
    assert ak.to_list(parts[0].arrays.Jet_pt) == ak.to_list(full[1].arrays.Jet_pt)


def test_a_sought_section_is_checked_and_unread_ones_are_not_needed(two_chunk_file, tmp_path):
    path, _ = two_chunk_file
    sections = sections_of(path)
    index = EventsReader(path).footer["chunk_index"]
    data = bytearray(path.read_bytes())
    first = next(i for i, (events, _, _) in enumerate(sections) if events == (0, 300))
    data[index[first]["offset"] + index[first]["bytes"] // 2] ^= 0xFF  # inside the first chunk
    damaged = tmp_path / "damaged.jz"
    damaged.write_bytes(bytes(data))
    reader = EventsReader(damaged)
    assert len(list(reader.iter_chunks(["Jet_pt"], 300, 557))) == 1  # never reads chunk 0
    for request in (lambda: list(reader.iter_chunks(["Jet_pt"], 0, 10)), reader.iter_chunks):
        with pytest.raises(CorruptFileError, match="damaged"):
            list(request())


def as_written_before(path: Path, out: Path) -> None:
    """`path` rewritten in the layout of files before the compact catalogue, the joined parts
    and the descriptions in the footer: every catalogue key, the whole `TreeInfo` (its branch
    table and collections), each codec part its own container
    part, each section's codec description packed in it, and footer groups that do not list
    the aliased columns a section answers."""
    stream, reader = open_reader(path)
    with stream:
        header = dict(reader.header)
        chunks = list(reader.chunks())
        footer = reader.footer
    catalogue = wholefile._unpack_json(header["catalogue"])
    catalogue["tree"] = EventsReader(path).info.to_json()  # the whole TreeInfo
    for position, entry in enumerate(catalogue["branches"]):
        entry["form"] = ak.forms.from_dict(entry["form"]).to_dict()
        for key in ("collection", "unit", "rule", "tolerance"):
            entry.setdefault(key, None)
        entry["buffers"] = [vars(b) for b in wholefile._buffers(position, entry)]
    header["catalogue"] = wholefile._pack_json(catalogue)
    aliases = set()
    index = wholefile._unpack_json(footer["index"])
    with out.open("wb") as f:
        writer = ContainerWriter(f, header, None)
        for (description, parts, _), packed in zip(chunks, index.pop("sections"), strict=True):
            aliases |= set(packed["aliases"])
            pieces, start = [], 0
            for name, length in packed.pop("split"):
                pieces.append((name, parts["parts"][start : start + length]))
                start += length
            kept = {k: v for k, v in description.items() if k not in ("chunk", "parts")}
            writer.write_chunk(dict(kept, packed=wholefile._pack_json(packed)), pieces, False)
        index["groups"] = [[i for i in ids if i not in aliases] for ids in index["groups"]]
        assert aliases and index["groups"] != wholefile._unpack_json(footer["index"])["groups"]
        counted = ("chunk_index", "n_rows", "n_chunks")
        rest = {k: v for k, v in footer.items() if k not in counted}
        writer.finish(dict(rest, index=wholefile._pack_json(index)))


def test_files_written_before_read_the_same(two_chunk_file, tmp_path) -> None:
    path, _ = two_chunk_file
    older = tmp_path / "older.jz"
    as_written_before(path, older)
    new, old = EventsReader(path), EventsReader(older)
    assert old.branches["run"]["form"]["parameters"] == {}  # the older, verbose catalogue
    assert old.info == new.info
    for request in ((), (["Jet_pt"], 300, 557), (["nJet", "maybe"], 290, 310)):
        a = ak.concatenate([c.arrays for c in new.iter_chunks(*request)])
        b = ak.concatenate([c.arrays for c in old.iter_chunks(*request)])
        assert a.fields == b.fields and len(a) == len(b)
        assert all(ak.array_equal(a[f], b[f], equal_nan=True) for f in a.fields)


def test_a_branch_table_that_disagrees_with_the_catalogue_is_one_line(tmp_path) -> None:
    compress_events([synthetic(30)], tmp_path / "a.jz", policy=parse_policy(TOLERANCE))
    stream, reader = open_reader(tmp_path / "a.jz")
    with stream:
        header, chunks, footer = dict(reader.header), list(reader.chunks()), reader.footer
    catalogue = wholefile._unpack_json(header["catalogue"])
    assert isinstance(catalogue["tree"]["branches"], list)  # stored compact
    catalogue["tree"]["branches"].pop()
    header["catalogue"] = wholefile._pack_json(catalogue)
    with (tmp_path / "b.jz").open("wb") as f:
        writer = ContainerWriter(f, header, None)
        for description, parts, _ in chunks:
            kept = {k: v for k, v in description.items() if k != "chunk"}
            writer.write_chunk(kept, list(parts.items()), False)
        counted = ("chunk_index", "n_rows", "n_chunks")
        writer.finish({k: v for k, v in footer.items() if k not in counted})
    with pytest.raises(CorruptFileError, match="incomplete header"):
        EventsReader(tmp_path / "b.jz")


def test_a_column_referenced_in_one_chunk_and_stored_in_the_next(tmp_path) -> None:
    n = 50
    first, pt = np.arange(n, dtype=np.int32), np.ones(n, np.float32)
    chunks = [
        chunk_of({"a": first, "b": first.astype(np.int64), "Jet_pt": pt}),  # b refers to a
        chunk_of({"a": first, "b": first[::-1].astype(np.int64), "Jet_pt": pt}, n),  # stored
    ]
    path = tmp_path / "ref.jz"
    compress_events(chunks, path)
    restored = ak.concatenate([c.arrays for c in EventsReader(path).iter_chunks()])
    assert ak.to_list(restored) == ak.to_list(ak.concatenate([c.arrays for c in chunks]))
    by_name = {b["name"]: b for b in describe_events(path)["branches"]}
    assert by_name["b"]["bytes"] > 0
