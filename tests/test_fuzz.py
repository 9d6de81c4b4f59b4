"""Fuzzing the container and chunk decoders: whatever the bytes, and whatever JSON or part bytes
sit behind valid checksums, decoding a `.jz` gives a table or one JetzipError, never another
exception (a traceback).

In `make test` each property runs a few dozen examples (a few seconds); `make fuzz` runs them
again and again for JETZIP_FUZZ_SECONDS (FUZZ_SECONDS in the Makefile, 10 minutes by default).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pcodec import ChunkConfig, standalone

from jetzip.codec import compress_table, decompress_file
from jetzip.codec.entropy import _rans_encode, decode_ints
from jetzip.container import describe_file
from jetzip.errors import CorruptFileError, JetzipError
from jetzip.table import Table
from test_hardening import assemble, sections, unbound

FUZZ_SECONDS = float(os.environ.get("JETZIP_FUZZ_SECONDS", "0"))
EXAMPLES = 40
#: `make test` draws the same examples every run (a red CI names a change, not a draw);
#: `make fuzz` draws new ones for as long as it runs.
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=not FUZZ_SECONDS,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@functools.cache
def seed_files() -> tuple[bytes, ...]:
    """Small files that between them use every encoding a flat table's chunk can have:
    relative and absolute bounds, signs, exceptions, ratio and E(pt,eta) predictors, lossless
    pcodec, zstd and run-length columns, the event index, codes stored once per event (met), a
    bool column."""
    rng = np.random.default_rng(7)
    n = 300
    pt = rng.lognormal(10, 1, n)
    eta = rng.uniform(-3, 3, n)
    pt[::37] = 0.0  # exceptions under a relative bound
    charge = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    event = np.arange(n) // 3
    jets = Table(
        {
            "pt": pt.astype(np.float32),
            "eta": eta,
            "m": (pt * rng.uniform(0.05, 0.2, n)).astype(np.float32),
            "E": pt * np.cosh(eta),
            "q": charge * pt,
            "n": rng.integers(0, 9, n),
            "met": np.repeat(rng.lognormal(3, 1, n // 3), 3),
            "tag": rng.random(n) < 0.3,
        },
        event=event,
    )
    directory = Path(tempfile.mkdtemp(prefix="jetzip-fuzz-"))
    files = []
    for name, options in [
        ("bounded", {"tolerances": "pt=0.1%,m=0.1%,E=0.1%,q=1%,eta=0.001,met=1%"}),
        ("lossless", {}),
    ]:
        path = directory / f"{name}.jz"
        compress_table(jets, path, chunk_rows=100, threads=1, **options)
        files.append(path.read_bytes())
    return tuple(files)


#: Files decoded and files refused, for the summary of a long run.
OUTCOMES = {"decoded": 0, "refused": 0}


def decodes_or_refuses(data: bytes) -> None:
    """The property: a table, or a JetzipError; anything else propagates and fails the test."""
    try:
        decompress_file(io.BytesIO(data), threads=1)
    except JetzipError:
        OUTCOMES["refused"] += 1
    else:
        OUTCOMES["decoded"] += 1


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "pcodec",
            "zstd-shuffle",
            "runs+pcodec",
            "quantised",
            "lossless",
            "latent",
            "float64",
            "int32",
            ">f8",
            "ratio:pt",
            "E(pt,eta)",
            "model",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and indices) into a JSON value, the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutated(value: Any, path: tuple, new: Any, delete: bool) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if delete and not rest:
            copy.pop(head, None)
        else:
            copy[head] = _mutated(value[head], rest, new, delete)
        return copy
    copy = list(value)
    copy[head] = _mutated(value[head], rest, new, delete)
    return copy


@FUZZ
@given(st.data())
def test_any_bytes(data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(seed_files()))
    crafted = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(crafted) - 1))
        action = data.draw(st.sampled_from(["flip", "set", "insert", "delete", "cut"]))
        byte = data.draw(st.integers(0, 255))
        if action == "flip":
            crafted[position] ^= 1 << (byte % 8)
        elif action == "set":
            crafted[position] = byte
        elif action == "insert":
            crafted.insert(position, byte)
        elif action == "delete":
            del crafted[position]
        else:
            del crafted[position:]
        if not crafted:
            crafted.append(byte)
    decodes_or_refuses(bytes(crafted))


@FUZZ
@given(st.data())
def test_any_json_behind_valid_checksums(data: st.DataObject) -> None:
    header, chunks, footer = sections(data.draw(st.sampled_from(seed_files())))
    chunks = unbound(chunks)
    target = data.draw(st.sampled_from(["header", "chunk", "footer"]))
    position = data.draw(st.integers(0, len(chunks) - 1))
    value = {"header": header, "footer": footer, "chunk": chunks[position][0]}[target]
    path = data.draw(st.sampled_from(_paths(value)))
    new = data.draw(json_values)
    changed = _mutated(value, path, new, data.draw(st.booleans()))
    if not isinstance(changed, dict):
        changed = json.dumps(changed).encode()
    if target == "header":
        header = changed
    elif target == "footer":
        footer = changed
    else:
        chunks[position] = (changed, chunks[position][1])
    crafted = assemble(header, chunks, None if target != "footer" else changed)
    decodes_or_refuses(crafted)
    with tempfile.NamedTemporaryFile(suffix=".jz") as handle:
        handle.write(crafted)
        handle.flush()
        with contextlib.suppress(JetzipError):
            describe_file(handle.name)


def _part_bytes(data: st.DataObject, original: bytes) -> bytes:
    kind = data.draw(st.sampled_from(["random", "cut", "pcodec", "zstd", "rans", "mutate"]))
    if kind == "random":
        return data.draw(st.binary(max_size=64))
    if kind == "cut":
        return original[: data.draw(st.integers(0, max(len(original) - 1, 0)))]
    if kind == "pcodec":
        dtype = data.draw(st.sampled_from(["int32", "int64", "float32", "float64", "uint16"]))
        count = data.draw(st.integers(0, 400))
        values = np.arange(count, dtype=np.float64) * data.draw(st.integers(-9, 9))
        return standalone.simple_compress(values.astype(dtype), ChunkConfig())
    if kind == "zstd":
        size = data.draw(st.integers(0, 5000))
        return zstandard.ZstdCompressor().compress(bytes(size))
    if kind == "rans":  # a valid rANS stream, of whatever count, perhaps with a byte changed
        count = data.draw(st.integers(1, 400))
        codes = np.arange(count, dtype=np.int32) % data.draw(st.integers(1, 300))
        original = _rans_encode(codes)[0]
        if data.draw(st.booleans()):
            return original
    mutated = bytearray(original)
    if mutated:
        mutated[data.draw(st.integers(0, len(mutated) - 1))] ^= data.draw(st.integers(1, 255))
    return bytes(mutated)


@FUZZ
@given(st.data())
def test_any_part_bytes_behind_valid_checksums(data: st.DataObject) -> None:
    header, chunks, _ = sections(data.draw(st.sampled_from(seed_files())))
    chunks = unbound(chunks)
    position = data.draw(st.integers(0, len(chunks) - 1))
    description, parts = chunks[position]
    index = data.draw(st.integers(0, len(parts) - 1))
    name, original = parts[index]
    parts = [*parts[:index], (name, _part_bytes(data, original)), *parts[index + 1 :]]
    chunks[position] = (description, parts)
    decodes_or_refuses(assemble(header, chunks))


@FUZZ
@given(st.data())
def test_any_damage_to_a_rans_stream(data: st.DataObject) -> None:
    """A rANS stream cut, extended or with bytes changed decodes to the rows asked for or ends
    in one CorruptFileError (codec/entropy.py, _rans.c)."""
    n = data.draw(st.integers(1, 3000))
    codes = data.draw(st.sampled_from([np.int32, np.int64]))(
        np.random.default_rng(data.draw(st.integers(0, 9))).geometric(0.2, n)
        * data.draw(st.sampled_from([1, -1, 1000]))
    )
    stream = bytearray(_rans_encode(codes)[0])
    for _ in range(data.draw(st.integers(1, 3))):
        how = data.draw(st.sampled_from(["flip", "cut", "extend"]))
        if how == "flip":
            stream[data.draw(st.integers(0, len(stream) - 1))] ^= data.draw(st.integers(1, 255))
        elif how == "cut":
            del stream[data.draw(st.integers(1, len(stream))) :]
        else:
            stream += data.draw(st.binary(min_size=1, max_size=8))
    asked = data.draw(st.sampled_from([n, n + 1, max(n - 1, 1)]))
    with contextlib.suppress(CorruptFileError):
        assert decode_ints(bytes(stream), asked).size == asked


@pytest.mark.skipif(not FUZZ_SECONDS, reason="long fuzzing runs with `make fuzz` only")
def test_fuzz_for_a_while() -> None:
    """Every property again and again until JETZIP_FUZZ_SECONDS have passed."""
    deadline = time.monotonic() + FUZZ_SECONDS
    rounds = 0
    while time.monotonic() < deadline:
        for prop in (
            test_any_bytes,
            test_any_json_behind_valid_checksums,
            test_any_part_bytes_behind_valid_checksums,
            test_any_damage_to_a_rans_stream,
        ):
            prop()
        rounds += 1
    assert rounds
    sys.stderr.write(
        f"\nfuzzed {FUZZ_SECONDS:.0f} s: {rounds} rounds, {OUTCOMES['decoded']:,} files decoded, "
        f"{OUTCOMES['refused']:,} refused with a JetzipError, nothing else\n"
    )
