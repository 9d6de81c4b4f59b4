"""Entropy-model columns coded per event: the events of a chunk's rows, the exact transverse
sum the leaders read, round trips with every bound checked, a value repeated on each row of
its event costing nothing after the first, the same bytes under every numpy SIMD setting,
and one-line refusals of streams, descriptions and models that do not fit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jetzip.codec.chunk import decode_chunk, encode_chunk
from jetzip.codec.pipeline import _plans, compress_table, decompress_file
from jetzip.codec.tolerance import Tolerance, parse_tolerances
from jetzip.container import describe_file
from jetzip.entropy.events import (
    MULTIPLICITY_LIMIT,
    RANK_LIMIT,
    EventRows,
    _atan2,
    _cos_sin,
    transverse_sum,
)
from jetzip.entropy.model import EntropyModel
from jetzip.entropy.training import train_entropy_model
from jetzip.errors import CorruptFileError
from jetzip.table import Table

TOLERANCES = "pt=0.1%,MET=0.1%,eta=0.001,phi=0.001,METphi=0.001"


def _events(n_events: int, seed: int, first_id: int = 5) -> Table:
    """Monojet-like events: 1-6 jets sorted by falling pt, and the event's MET (balancing the
    jets' vector sum, to a few per cent), MET phi and id repeated on each of its jets."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 7, n_events)
    n = int(counts.sum())
    event = np.repeat(np.arange(n_events) * 3 + first_id, counts)  # ids need not be 0, 1, 2...
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rank = np.arange(n) - np.repeat(starts, counts)
    pt = np.exp(rng.normal(12.5, 0.5, n) - 0.6 * rank)
    phi = rng.uniform(-np.pi, np.pi, n)
    sums = [np.bincount(np.repeat(np.arange(n_events), counts), weights=pt * f(phi))
            for f in (np.cos, np.sin)]  # fmt: skip
    met = np.hypot(*sums) * np.exp(rng.normal(0, 0.03, n_events))
    met_phi = np.arctan2(-sums[1], -sums[0])
    columns = {
        "pt": pt.astype(np.float32),
        "eta": rng.normal(0, 1.5, n).astype(np.float32),
        "phi": phi.astype(np.float32),
        "MET": np.repeat(met, counts).astype(np.float32),
        "METphi": np.repeat(met_phi, counts).astype(np.float32),
        "event_id": event.astype(np.int64),
    }
    return Table(columns, event=event)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[EntropyModel, Path]:
    trained = train_entropy_model(_events(4000, 0), hidden=(16,), progress=False)
    return trained, trained.save(tmp_path_factory.mktemp("em")).parent


# ---------------------------------------------------------------------- events of the rows
def test_event_rows_of_hand_cases() -> None:
    event = np.array([7, 7, 7, 2, 9, 9] + [4] * 12)
    rows = EventRows(event)
    assert rows.leaders.tolist() == [0, 3, 4, 6]
    assert rows.followers.tolist() == [1, 2, 5, *range(7, 18)]
    assert rows.follower_leader.tolist() == [0, 0, 2] + [3] * 11
    assert rows.leader_multiplicity.tolist() == [3, 1, 2, MULTIPLICITY_LIMIT]
    assert rows.follower_rank.tolist() == [1, 2, 1, 1, 2] + [RANK_LIMIT] * 9
    assert rows.follower_multiplicity.tolist() == [3, 3, 2] + [MULTIPLICITY_LIMIT] * 11
    empty = EventRows(np.zeros(0, dtype=np.int64))
    assert empty.leaders.size == empty.followers.size == 0
    assert empty.share_of_followers == 0.0


def test_trigonometry_and_the_transverse_sum_are_exact_operations_close_to_numpy() -> None:
    phi = np.linspace(-40, 40, 200_001)
    cos, sin = _cos_sin(phi)
    assert np.abs(cos - np.cos(phi)).max() < 1e-13
    assert np.abs(sin - np.sin(phi)).max() < 1e-13
    rng = np.random.default_rng(0)
    x, y = (rng.normal(size=100_000) * 10.0 ** rng.uniform(-5, 5, 100_000) for _ in range(2))
    assert np.abs(_atan2(y, x) - np.arctan2(y, x)).max() < 1e-14
    special = np.array([0.0, 1.0, -1.0, np.inf, np.nan])
    assert _atan2(special, special[::-1]).tolist() == [0.0, 0.0, -3 * np.pi / 4, 0.0, 0.0]
    table = _events(50, 1)
    rows = EventRows(table.event)
    magnitude, direction = transverse_sum(table.columns["pt"], table.columns["phi"], rows)
    leaders = rows.leaders  # the events are made to balance MET to a few per cent
    assert np.all(np.abs(np.log(magnitude / table.columns["MET"][leaders])) < 0.2)
    assert np.allclose(direction, table.columns["METphi"][leaders], atol=1e-5)
    nan, _ = transverse_sum(np.array([1.0, np.nan]), np.array([0.0, np.inf]), EventRows([1, 1]))
    assert np.isnan(nan).all()


# ---------------------------------------------------------------------- codec
def test_trained_model_has_per_event_forms(model: tuple[EntropyModel, Path]) -> None:
    trained, _ = model
    forms = {name: c.events for name, c in trained.models.items()}
    assert forms["MET"] is not None and forms["MET"].follower is None  # repeated per event
    assert forms["METphi"] is not None and forms["METphi"].follower is None
    # values of the event come after its rows' columns: MET from the rows' vector sum
    assert min(trained.columns.index(c) for c in ("MET", "METphi")) > trained.columns.index("pt")
    assert forms["MET"].balance == forms["METphi"].balance == ("pt", "phi")
    assert forms["pt"] is not None and forms["pt"].follower is not None


@pytest.mark.parametrize("scale", [1.0, 0.1])
def test_round_trip_per_event_meets_every_bound(
    model: tuple[EntropyModel, Path], tmp_path: Path, scale: float
) -> None:
    table = _events(3000, 2, first_id=10**7)  # ids the model never saw: it codes them badly
    tolerances = {
        name: Tolerance(tol.value * scale, tol.relative)
        for name, tol in parse_tolerances(TOLERANCES).items()
    }
    path = tmp_path / "m.jz"
    with_model = compress_table(table, path, tolerances=tolerances, model=model[1], model_ref=True)
    plain = compress_table(table, tmp_path / "p.jz", tolerances=tolerances)
    back = decompress_file(path, model=model[1])
    assert np.array_equal(back.event, table.event)
    for name, tol in tolerances.items():
        assert not tol.violations(table.columns[name], back.columns[name]).any(), name
    for name in ("MET", "METphi"):  # still repeated exactly on each row of its event
        rows = EventRows(table.event)
        values = back.columns[name]
        assert np.array_equal(values[rows.followers], values[rows.leaders][rows.follower_leader])
    assert np.array_equal(back.columns["event_id"], table.columns["event_id"])
    columns = with_model["footer"]["columns"]
    # (a column the model codes worse, the ids, does not keep it from the others)
    assert columns["MET"]["predictor"] == {"conditional": 1}
    assert columns["event_id"]["methods"] != {"conditional": 1}
    # MET from the jets' sum: smaller than the plain file's MET, itself coded once per event
    assert columns["MET"]["bytes"] < 0.9 * plain["footer"]["columns"]["MET"]["bytes"]
    assert with_model["sizes"]["file"] < plain["sizes"]["file"]


def test_rows_that_do_not_repeat_fall_back_to_another_coding(
    model: tuple[EntropyModel, Path], tmp_path: Path
) -> None:
    table = _events(2000, 3)
    table.columns["MET"] = table.columns["MET"] * np.float32(1.01) ** np.arange(table.n_rows)
    path = tmp_path / "x.jz"
    compress_table(table, path, tolerances=TOLERANCES, model=model[1], model_ref=True)
    back = decompress_file(path, model=model[1])
    tolerance = parse_tolerances(TOLERANCES)["MET"]
    assert not tolerance.violations(table.columns["MET"], back.columns["MET"]).any()


def _chunk(model: EntropyModel, table: Table):
    plans = _plans(table, "bounded", parse_tolerances(TOLERANCES), None, model)
    chunk = encode_chunk(table.columns, table.event, plans, model, "float16")
    per_event = [n for n, d in chunk.description["columns"].items() if d.get("events")]
    assert {"MET", "METphi"} <= set(per_event)
    return plans, chunk


def test_damaged_per_event_streams_and_descriptions_are_one_line(
    model: tuple[EntropyModel, Path],
) -> None:
    trained = model[0]
    table = _events(500, 4)
    plans, chunk = _chunk(trained, table)
    parts = dict(chunk.parts)
    decoded, _ = decode_chunk(chunk.description, parts, plans, True, trained)
    assert all(np.array_equal(decoded[c], chunk.checked[c]) for c in chunk.checked)

    def refused(description: dict, stored: dict, has_event: bool = True) -> str:
        with pytest.raises(CorruptFileError) as err:
            decode_chunk(description, stored, plans, has_event, trained)
        assert "\n" not in str(err.value)
        return str(err.value)

    met = parts["MET:codes"]
    for damaged in (met[:3], met[:-1], met + b"\0", b"\xff\xff\xff\x7f" + met[4:]):
        refused(chunk.description, {**parts, "MET:codes": damaged})
    columns = chunk.description["columns"]
    flagged = dict(columns, MET=dict(columns["MET"], events="yes"))
    assert "per-event flag" in refused(dict(chunk.description, columns=flagged), parts)
    no_events = {k: v for k, v in parts.items() if not k.startswith("(event)")}
    assert "without events" in refused(chunk.description, no_events, has_event=False)


def test_model_bytes_with_per_event_forms_round_trip_and_damage_is_refused(
    model: tuple[EntropyModel, Path],
) -> None:
    trained = model[0]
    data = trained.to_bytes()
    again = EntropyModel.from_bytes(data)
    assert again.to_bytes() == data
    assert again.models["MET"].events.balance == ("pt", "phi")
    # a balance naming a column the model does not read first is refused, in one line
    column = again.models["MET"]
    column.events.balance = ("pt", "nope")
    with pytest.raises(CorruptFileError) as err:
        EntropyModel(list(again.models.values()), again.meta)
    assert "\n" not in str(err.value)


def test_descriptions_that_list_the_context_still_decode(model: tuple[EntropyModel, Path]) -> None:
    """Files before format 7 listed each model-coded column's context in its description."""
    trained = model[0]
    table = _events(300, 5)
    plans, chunk = _chunk(trained, table)
    columns = {
        name: dict(desc, context=trained.models[name].context)
        if desc.get("predictor") == "conditional"
        else desc
        for name, desc in chunk.description["columns"].items()
    }
    decoded, _ = decode_chunk(dict(chunk.description, columns=columns), dict(chunk.parts), plans,
                              True, trained)  # fmt: skip
    assert all(np.array_equal(decoded[c], chunk.checked[c]) for c in chunk.checked)


_CODE_SCRIPT = """
import hashlib, sys, numpy as np
from jetzip.codec.chunk import encode_chunk
from jetzip.codec.pipeline import _plans
from jetzip.codec.tolerance import parse_tolerances
from jetzip.entropy.model import EntropyModel
stored = np.load(sys.argv[1])
from jetzip.table import Table
table = Table({k: stored[k] for k in stored.files if k != "event"}, event=stored["event"])
model = EntropyModel.load(sys.argv[2])
plans = _plans(table, "bounded", parse_tolerances(sys.argv[3]), None, model)
chunk = encode_chunk(table.columns, table.event, plans, model, "float16")
assert any(d.get("events") for d in chunk.description["columns"].values())
print(hashlib.sha256(b"".join(p for _, p in chunk.parts)).hexdigest())
"""


def test_same_bytes_per_event_under_every_cpu_setting(
    model: tuple[EntropyModel, Path], tmp_path: Path
) -> None:
    table = _events(3000, 6)
    np.savez(tmp_path / "t.npz", event=table.event, **table.columns)
    outputs = set()
    for cpu in ("", "AVX512_SPR AVX512_ICL X86_V4", "AVX512_SPR AVX512_ICL X86_V4 X86_V3"):
        env = dict(os.environ, NPY_DISABLE_CPU_FEATURES=cpu)
        result = subprocess.run(
            [sys.executable, "-c", _CODE_SCRIPT, str(tmp_path / "t.npz"), str(model[1]),
             TOLERANCES],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        outputs.add(result.stdout.strip())
    assert len(outputs) == 1


def test_files_coded_per_event_are_format_7(
    model: tuple[EntropyModel, Path], tmp_path: Path
) -> None:
    path = tmp_path / "m.jz"
    compress_table(_events(500, 7), path, tolerances=TOLERANCES, model=model[1], model_ref=True)
    info = describe_file(path)
    assert info["format_version"] == 7
    assert info["footer"]["columns"]["MET"]["predictor"] == {"conditional": 1}


# ---------------------------------------------------------------------- without a model
def test_values_repeated_per_event_are_stored_once_without_a_model(tmp_path: Path) -> None:
    table = _events(3000, 8)
    path = tmp_path / "p.jz"
    info = compress_table(table, path, tolerances=TOLERANCES)
    flat = compress_table(Table(dict(table.columns)), tmp_path / "f.jz", tolerances=TOLERANCES)
    back = decompress_file(path)
    for name, tol in parse_tolerances(TOLERANCES).items():
        assert not tol.violations(table.columns[name], back.columns[name]).any(), name
    rows = EventRows(table.event)
    values = back.columns["MET"]
    assert np.array_equal(values[rows.followers], values[rows.leaders][rows.follower_leader])
    stored = info["footer"]["columns"]
    assert stored["MET"]["bytes"] < 0.8 * flat["footer"]["columns"]["MET"]["bytes"]
    assert stored["pt"]["bytes"] == flat["footer"]["columns"]["pt"]["bytes"]  # jets: untouched


def test_codes_stored_per_event_refuse_a_chunk_without_events() -> None:
    table = _events(400, 9)
    plans = _plans(table, "bounded", parse_tolerances(TOLERANCES), None, None)
    chunk = encode_chunk(table.columns, table.event, plans, None, "float16")
    assert chunk.description["columns"]["MET"].get("events") is True
    parts = dict(chunk.parts)
    decoded, _ = decode_chunk(chunk.description, parts, plans, True, None)
    assert all(np.array_equal(decoded[c], chunk.checked[c]) for c in chunk.checked)
    no_events = {k: v for k, v in parts.items() if not k.startswith("(event)")}
    with pytest.raises(CorruptFileError, match="without events") as err:
        decode_chunk(chunk.description, no_events, plans, False, None)
    assert "\n" not in str(err.value)
