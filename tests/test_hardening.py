"""The decoder trusts nothing: every case of issue 20 as a crafted file, built here by test code.

`assemble` writes a `.jz` from given header, chunk and footer JSON with valid checksums (and, by
default, each chunk bound to its place as the writer binds it), so the checks under test are
the ones behind the checksums: what a hostile writer, not a flipped bit, can do.
"""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import uproot
import xxhash
import zstandard
from pcodec import ChunkConfig, standalone

from jetzip.cli.main import main
from jetzip.codec import compress_table, decompress_file, decompress_to, iter_decompress
from jetzip.container import END_MAGIC, FORMAT_VERSION, MAGIC, describe_file
from jetzip.errors import CorruptFileError
from jetzip.io import FORMATS, detect_format
from jetzip.table import Table

Chunk = tuple[dict[str, Any] | bytes, list[tuple[str, bytes]]]


# ---------------------------------------------------------------------- crafting files
def _section(tag: bytes, payload: bytes, extra: bytes = b"") -> tuple[bytes, int]:
    head = struct.pack("<4sQ", tag, len(payload))
    checksum = xxhash.xxh64(extra + head + payload).intdigest()
    return head + payload + struct.pack("<Q", checksum), checksum


def _json(value: dict[str, Any] | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()  # NaN allowed


def assemble(
    header: dict[str, Any] | bytes,
    chunks: list[Chunk],
    footer: dict[str, Any] | bytes | None = None,
    *,
    version: int = FORMAT_VERSION,
    bind: bool = True,
    model: bytes | None = None,
) -> bytes:
    """A `.jz` file of these sections, every checksum valid. A chunk description given as a
    dict gets its `parts` list and (with `bind`) its place, unless it has them; the footer
    (merged into a correct one when a dict) gets the index, rows and count of the chunks."""
    prelude = struct.pack("<8sH", MAGIC, version)
    head, head_checksum = _section(b"HEAD", _json(header), prelude)
    out = bytearray(prelude + head)
    index, rows = [], 0
    for position, (description, parts) in enumerate(chunks):
        if model is not None and position == 0:
            out += _section(b"MODL", model)[0]
        n_rows = 0
        place = {"index": position, "first_row": rows, "file": f"{head_checksum:016x}"}
        if isinstance(description, dict):
            description = dict(description)
            description.setdefault("parts", [[name, len(data)] for name, data in parts])
            if bind:
                description.setdefault("chunk", place)
            n_rows = description.get("n_rows")
        elif bind and description.startswith(b"{"):  # raw JSON: the place goes in first
            description = b'{"chunk":' + _json(place) + b"," + description[1:]
        meta = _json(description)
        payload = struct.pack("<I", len(meta)) + meta + b"".join(data for _, data in parts)
        section, checksum = _section(b"CHNK", payload)
        index.append(
            {
                "offset": len(out),
                "bytes": len(section),
                "n_rows": n_rows,
                "checksum": f"{checksum:016x}",
            }
        )
        rows += n_rows if isinstance(n_rows, int) else 0
        out += section
    if not isinstance(footer, bytes):
        footer = {"n_rows": rows, "n_chunks": len(index), "chunk_index": index, **(footer or {})}
    offset = len(out)
    out += _section(b"FOOT", _json(footer))[0]
    out += struct.pack("<Q8s", offset, END_MAGIC)
    return bytes(out)


def sections(data: bytes) -> tuple[dict[str, Any], list[Chunk], dict[str, Any]]:
    """Header, chunks (description without `parts`, named parts) and footer of a valid file."""
    position = len(MAGIC) + 2
    header: dict[str, Any] = {}
    footer: dict[str, Any] = {}
    chunks: list[Chunk] = []
    while position < len(data) - 16:
        tag, length = struct.unpack_from("<4sQ", data, position)
        payload = data[position + 12 : position + 12 + length]
        position += 12 + length + 8
        if tag == b"HEAD":
            header = json.loads(payload)
        elif tag == b"FOOT":
            footer = json.loads(payload)
        elif tag == b"CHNK":
            (meta_len,) = struct.unpack_from("<I", payload)
            description = json.loads(payload[4 : 4 + meta_len])
            start, parts = 4 + meta_len, []
            for name, size in description.pop("parts"):
                parts.append((name, payload[start : start + size]))
                start += size
            chunks.append((description, parts))
    return header, chunks, footer


def unbound(chunks: list[Chunk]) -> list[Chunk]:
    """The chunks without their recorded place (so that `assemble` binds them anew)."""
    return [({k: v for k, v in d.items() if k != "chunk"}, p) for d, p in chunks]  # type: ignore[union-attr]


def decode(data: bytes) -> Table:
    return decompress_file(io.BytesIO(data))


# ---------------------------------------------------------------------- fixtures
def table(n: int = 400, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    return Table(
        {
            "pt": rng.lognormal(10, 1, n).astype(np.float32),
            "eta": rng.uniform(-3, 3, n),
            "n": rng.integers(0, 9, n),
        },
        event=np.arange(n) // 4,
    )


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Four chunks of 100 rows, each the same size (the case of the issue)."""
    path = tmp_path_factory.mktemp("hardening") / "jets.jz"
    compress_table(table(), path, tolerances="pt=0.1%,eta=0.001", chunk_rows=100)
    return path.read_bytes()


def chunk_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every CHNK section."""
    position, spans = len(MAGIC) + 2, []
    while position < len(data) - 16:
        tag, length = struct.unpack_from("<4sQ", data, position)
        end = position + 12 + length + 8
        if tag == b"CHNK":
            spans.append((position, end))
        position = end
    return spans


def test_assembled_file_reads_like_the_original(original: bytes) -> None:
    header, chunks, footer = sections(original)
    assert assemble(header, chunks, footer, bind=False) == original
    assert decode(assemble(header, unbound(chunks))).equals(decode(original))


# ---------------------------------------------------------------------- chunks out of place
def _same_size_chunks(original: bytes) -> tuple[list[tuple[int, int]], list[bytes]]:
    spans = chunk_spans(original)
    blobs = [original[a:b] for a, b in spans]
    return spans, blobs


def _replace(original: bytes, spans: list[tuple[int, int]], blobs: list[bytes]) -> bytes:
    return original[: spans[0][0]] + b"".join(blobs) + original[spans[-1][1] :]


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ([1, 0, 2, 3], "reordered"),
        ([0, 2, 1, 3], "reordered"),
        ([0, 1, 1, 3], "reordered, duplicated or missing"),
        ([0, 0, 2, 3], "reordered, duplicated or missing"),
    ],
)
def test_swapped_or_duplicated_chunks_are_refused(
    original: bytes, order: list[int], message: str
) -> None:
    spans, blobs = _same_size_chunks(original)
    assert len({len(b) for b in blobs[:3]}) == 1 or order[3] == 3
    crafted = _replace(original, spans, [blobs[i] for i in order])
    with pytest.raises(CorruptFileError, match=message):
        decode(crafted)


def test_dropped_chunk_is_refused(original: bytes) -> None:
    header, chunks, footer = sections(original)
    with pytest.raises(CorruptFileError, match="reordered, duplicated or missing"):
        decode(assemble(header, chunks[:1] + chunks[2:], footer, bind=False))
    # the last chunk dropped, the rest untouched: the footer still lists it
    with pytest.raises(CorruptFileError, match="missing or replaced"):
        decode(assemble(header, chunks[:3], footer, bind=False))


def test_footer_row_total_must_match(original: bytes) -> None:
    header, chunks, _ = sections(original)
    with pytest.raises(CorruptFileError, match="declares 401 rows"):
        decode(assemble(header, unbound(chunks), {"n_rows": 401}))


def test_foreign_chunk_is_refused(original: bytes, tmp_path: Path) -> None:
    other = tmp_path / "other.jz"  # another header (its source differs), same chunk sizes
    compress_table(table(), other, tolerances="pt=0.1%,eta=0.002", chunk_rows=100)
    spans, blobs = _same_size_chunks(original)
    foreign = _same_size_chunks(other.read_bytes())[1]
    with pytest.raises(CorruptFileError, match="belongs to another file"):
        decode(_replace(original, spans, [blobs[0], foreign[1], *blobs[2:]]))


def test_chunk_from_a_file_with_the_same_header_is_refused(original: bytes, tmp_path: Path) -> None:
    """Same header (same columns and options), other data: only the footer's record of each
    chunk's checksum tells the chunks apart."""
    other = tmp_path / "other.jz"
    compress_table(table(seed=5), other, tolerances="pt=0.1%,eta=0.001", chunk_rows=100)
    header, chunks, footer = sections(original)
    other_header, other_chunks, _ = sections(other.read_bytes())
    assert other_header == header
    crafted = assemble(header, [chunks[0], other_chunks[1], *chunks[2:]], footer, bind=False)
    with pytest.raises(CorruptFileError, match="missing or replaced"):
        decode(crafted)


# ---------------------------------------------------------------------- hostile JSON
def _with_header(original: bytes, **changes: Any) -> bytes:
    header, chunks, _ = sections(original)
    return assemble(dict(header, **changes), unbound(chunks))


def _with_column(original: bytes, position: int, **changes: Any) -> bytes:
    header, chunks, _ = sections(original)
    columns = list(header["columns"])
    columns[position] = dict(columns[position], **changes)
    return assemble(dict(header, columns=columns), unbound(chunks))


def _with_chunk_column(original: bytes, column: str, **changes: Any) -> bytes:
    header, chunks, _ = sections(original)
    first, parts = chunks[0]
    assert isinstance(first, dict)
    columns = dict(first["columns"])
    columns[column] = {k: v for k, v in dict(columns[column], **changes).items() if v is not None}
    return assemble(header, unbound([(dict(first, columns=columns), parts), *chunks[1:]]))


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("crafted", "message"),
    [
        (lambda o: _with_header(o, meta={"deep": json.loads(_deep(60))}), None),  # deep but allowed
        (
            lambda o: assemble(
                _json(sections(o)[0])[:-1] + b',"deep":' + _deep(100_000) + b"}",
                unbound(sections(o)[1]),
            ),
            "nested too deep",
        ),
        (lambda o: _with_header(o, meta={"deep": json.loads(_deep(70))}), "nested more than 64"),
        (lambda o: _with_header(o, columns={"pt": 1}), "expected a list"),
        (lambda o: _with_header(o, columns=[1, 2, 3]), "expected an object"),
        (lambda o: _with_header(o, mode="fast"), "not one of"),
        (lambda o: _with_header(o, event_index="yes"), "true or false"),
        (lambda o: _with_header(o, engine="tensorflow"), "not one of"),
        (lambda o: _with_header(o, model={"sha256": "x"}), "not a digest"),
        (lambda o: _with_column(o, 0, dtype=">f8"), "dtype '>f8' is not allowed"),
        (lambda o: _with_column(o, 0, dtype="complex128"), "is not allowed"),
        (lambda o: _with_column(o, 0, dtype="object"), "is not allowed"),
        (lambda o: _with_column(o, 2, kind="bounded"), "without a tolerance"),
        (lambda o: _with_column(o, 0, tolerance={"value": -1, "relative": True}), "<= 0"),
        (lambda o: _with_column(o, 0, tolerance={"value": "big", "relative": 1}), "finite"),
        (lambda o: _with_column(o, 1, name="pt"), "twice"),
        (lambda o: _with_chunk_column(o, "n", method=None), "method of column 'n'"),
        (lambda o: _with_chunk_column(o, "n", method="runs+runs+pcodec"), "unknown lossless"),
        (lambda o: _with_chunk_column(o, "n", encoding="magic"), "unknown encoding"),
        (lambda o: _with_chunk_column(o, "pt", n_exceptions=10**9), "outside"),
        (lambda o: _with_chunk_column(o, "pt", predictor="ratio:nope"), "unusable predictor"),
        (lambda o: _with_chunk_column(o, "pt", negative="yes"), "true or false"),
        (lambda o: _with_chunk_column(o, "pt", grid=[]), "grid of column 'pt'"),
    ],
)
def test_hostile_json_is_one_clear_error(
    original: bytes, crafted: Any, message: str | None
) -> None:
    data = crafted(original)
    if message is None:
        assert decode(data).n_rows == 400
        return
    with pytest.raises(CorruptFileError, match=message):
        decode(data)


@pytest.mark.parametrize(
    "description",
    [
        b'{"n_rows":Infinity,"columns":{}}',
        b'{"n_rows":NaN,"columns":{}}',
        b'{"n_rows":1e400,"columns":{}}',
        b'{"n_rows":"abc","columns":{}}',
        b'{"n_rows":-1,"columns":{}}',
        b'{"n_rows":100,"columns":[]}',
        b'{"n_rows":100,"columns":{},"parts":{"a":1}}',
        b'{"n_rows":100,"columns":{},"parts":[["a",-5]]}',
        b'{"n_rows":100,"columns":{},"parts":[["a"]]}',
        b"[]",
    ],
)
def test_hostile_chunk_descriptions(original: bytes, description: bytes) -> None:
    header, chunks, _ = sections(original)
    with pytest.raises(CorruptFileError):
        decode(assemble(header, [(description, []), *chunks[1:]], bind=False))


@pytest.mark.parametrize(
    "footer",
    [
        {"chunk_index": {"offset": 1}},
        {"chunk_index": [1, 2, 3, 4]},
        {"n_rows": "abc"},
        {"n_rows": 1e300},
        {"n_chunks": -4},
        {"columns": {"pt": {"n_exceptions": "many"}}},
        {"columns": {"pt": {"entropy_gap": "x"}}},
        {"columns": ["pt"]},
    ],
)
def test_hostile_footers_fail_in_decompress_and_info(
    original: bytes, footer: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header, chunks, _ = sections(original)
    path = tmp_path / "hostile.jz"
    path.write_bytes(assemble(header, unbound(chunks), footer))
    with pytest.raises(CorruptFileError):
        describe_file(path)
    if "columns" not in footer:  # statistics are what info prints, not what decoding needs
        with pytest.raises(CorruptFileError):
            decompress_file(path)
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# ---------------------------------------------------------------------- bombs
def _lossless_header(n_columns: int = 1, dtype: str = "float64") -> dict[str, Any]:
    return {
        "jetzip_version": "test",
        "mode": "lossless",
        "event_index": False,
        "columns": [
            {"name": f"x{i}", "dtype": dtype, "kind": "lossless", "tolerance": None}
            for i in range(n_columns)
        ],
    }


def _peak_mib(data: bytes) -> tuple[float, BaseException | None]:
    """Peak traced memory (MiB) while decoding `data`, and the error it ended in."""
    tracemalloc.start()
    error = None
    try:
        decode(data)
    except BaseException as exc:  # returned to the test
        error = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak / 2**20, error


def test_tiny_pcodec_stream_cannot_declare_200_million_rows() -> None:
    stream = standalone.simple_compress(np.zeros(100, dtype=np.float64), ChunkConfig())
    crafted = assemble(
        _lossless_header(),
        [
            (
                {
                    "n_rows": 200_000_000,
                    "columns": {"x0": {"encoding": "lossless", "method": "pcodec"}},
                },
                [("x0:values", stream)],
            )
        ],
    )
    assert len(crafted) < 600
    peak, error = _peak_mib(crafted)
    assert isinstance(error, CorruptFileError) and "cannot hold" in str(error)
    assert peak < 16


def test_zstd_frame_declaring_8_tb_is_refused_before_allocating() -> None:
    huge = _frame_with_content_size(8 << 40)
    assert zstandard.frame_content_size(huge) == 8 << 40
    crafted = assemble(
        _lossless_header(),
        [
            (
                {
                    "n_rows": 100,
                    "columns": {"x0": {"encoding": "lossless", "method": "zstd-shuffle"}},
                },
                [("x0:values", huge)],
            )
        ],
    )
    peak, error = _peak_mib(crafted)
    assert isinstance(error, CorruptFileError) and "declares" in str(error)
    assert peak < 16


def _frame_with_content_size(size: int) -> bytes:
    """A zstd frame header declaring `size` bytes (8-byte content size, single segment), with
    one empty raw last block."""
    magic = struct.pack("<I", 0xFD2FB528)
    descriptor = bytes([0b1110_0000])  # content size field 8 bytes, single segment
    block = bytes([0x01, 0x00, 0x00])  # last block, raw, size 0
    return magic + descriptor + struct.pack("<Q", size) + block


def test_run_lengths_cannot_exceed_the_chunk_row_limit() -> None:
    crafted = assemble(
        _lossless_header(),
        [
            (
                {
                    "n_rows": (1 << 28) + 1,
                    "columns": {"x0": {"encoding": "lossless", "method": "runs+pcodec"}},
                },
                [("x0:values", b"")],
            )
        ],
    )
    with pytest.raises(CorruptFileError, match="outside"):
        decode(crafted)


def test_wrapping_run_lengths_are_refused() -> None:
    from jetzip.codec.entropy import encode_ints

    lengths = encode_ints(np.array([2**62, 2**62, 2**62, 2**62 + 10], dtype=np.int64))
    values = standalone.simple_compress(np.arange(4, dtype=np.float64), ChunkConfig())
    payload = struct.pack("<QI", 4, len(lengths)) + lengths + values
    crafted = assemble(
        _lossless_header(),
        [
            (
                {
                    "n_rows": 10,
                    "columns": {"x0": {"encoding": "lossless", "method": "runs+pcodec"}},
                },
                [("x0:values", payload)],
            )
        ],
    )
    with pytest.raises(CorruptFileError, match="run-length"):
        decode(crafted)


def test_rans_stream_of_other_rows_is_refused() -> None:
    """A rANS stream (codec/entropy.py) behind valid checksums that holds fewer rows than the
    chunk declares: one line, before anything the size of the declared rows is allocated."""
    from jetzip.codec.entropy import _rans_encode

    lengths, _ = _rans_encode(np.ones(4, dtype=np.int64))
    values = standalone.simple_compress(np.arange(5, dtype=np.float64), ChunkConfig())
    payload = struct.pack("<QI", 5, len(lengths)) + lengths + values
    crafted = assemble(
        _lossless_header(),
        [
            (
                {
                    "n_rows": 5,
                    "columns": {"x0": {"encoding": "lossless", "method": "runs+pcodec"}},
                },
                [("x0:values", payload)],
            )
        ],
    )
    with pytest.raises(CorruptFileError, match="rANS stream holds 4 values, expected 5"):
        decode(crafted)


def test_model_spec_larger_than_its_bytes_is_refused_before_it_is_built() -> None:
    torch = pytest.importorskip("torch")
    from jetzip.models import TrainedModel
    from jetzip.models.network import build_model
    from jetzip.models.presets import preset_spec
    from jetzip.transforms import build_normaliser

    torch.manual_seed(0)
    network = build_model(preset_spec("AE_3D_200", 4))
    normaliser = build_normaliser(["m", "pt", "phi", "eta"]).fit(np.ones((10, 4)) + np.arange(4))
    data = TrainedModel(network, normaliser, {}).to_bytes()
    (length,) = struct.unpack_from("<Q", data, 8)
    header = json.loads(data[16 : 16 + length])
    header["spec"]["encoder"] = [20000, 20000, 20000]
    meta = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    hostile = data[:8] + struct.pack("<Q", len(meta)) + meta + data[16 + length :]
    tracemalloc.start()
    try:
        with pytest.raises(CorruptFileError, match="parameters"):
            TrainedModel.from_bytes(hostile)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20


# ---------------------------------------------------------------------- linear, empty, info
def test_wide_file_decodes_with_memory_linear_in_columns(tmp_path: Path) -> None:
    """3000 one-row columns: the decoder once kept a copy of its futures per column
    (quadratic); now a column holds only its predictor's inputs."""
    wide = Table({f"c{i}": np.array([float(i)]) for i in range(3000)})
    path = tmp_path / "wide.jz"
    compress_table(wide, path, threads=1)
    tracemalloc.start()
    try:
        back = decompress_file(path, threads=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert back.equals(wide)
    assert peak < 24 * 2**20


def test_zero_chunks_give_an_empty_parquet_with_the_columns(tmp_path: Path) -> None:
    empty = Table({"pt": np.zeros(0, np.float32), "n": np.zeros(0, np.int64)})
    path = tmp_path / "empty.jz"
    compress_table(empty, path, tolerances="pt=0.1%")
    assert describe_file(path)["n_chunks"] == 0
    assert main(["decompress", str(path), "-o", str(tmp_path / "empty.parquet")]) == 0
    frame = pd.read_parquet(tmp_path / "empty.parquet")
    assert list(frame.columns) == ["pt", "n"] and len(frame) == 0
    assert frame["pt"].dtype == np.float32
    tables = list(iter_decompress(path))
    assert len(tables) == 1 and tables[0].n_rows == 0
    assert decompress_to(path, tmp_path / "again.parquet") == 0


@pytest.mark.parametrize("suffix", [".csv", ".h5", ".npz", ".pkl", ".root"])
def test_zero_chunks_give_a_valid_empty_file_in_every_writable_format(
    tmp_path: Path, suffix: str
) -> None:
    empty = Table({"pt": np.zeros(0, np.float32), "n": np.zeros(0, np.int64)})
    path = tmp_path / "empty.jz"
    compress_table(empty, path, tolerances="pt=0.1%")
    target = tmp_path / f"empty{suffix}"
    assert main(["decompress", str(path), "-o", str(target)]) == 0
    if suffix == ".root":  # a tree of the columns and no entries
        with uproot.open(target) as file:
            tree = next(v for v in file.values() if hasattr(v, "num_entries"))
            assert tree.num_entries == 0 and {"pt", "n"} <= set(tree.keys())
    elif suffix == ".csv":  # the header names the columns
        assert target.read_text().splitlines() == ["pt,n"]
    else:  # the format's own reader (jetzip's read_table refuses empty tables by design)
        fmt = FORMATS[detect_format(target)]
        back = next(iter(fmt.iterate(target, None)))
        assert back.names == ["pt", "n"] and back.n_rows == 0


def test_info_escapes_strings_from_the_file(
    original: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header, chunks, _ = sections(original)
    columns = [dict(c, unit="\x1b]0;owned\x07") for c in header["columns"]]
    hostile = dict(header, columns=columns, jetzip_version="\x1b[2J\x1b[31m9.9")
    path = tmp_path / "escape.jz"
    path.write_bytes(assemble(hostile, unbound(chunks)))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J" in out


def test_absurd_tolerance_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "jets.parquet"
    table().to_pandas().to_parquet(source)
    for index, tolerance in enumerate(("eta=1e308", "pt=1e308%", "eta=1e-320")):
        code = main(
            [
                "compress",
                str(source),
                "-o",
                str(tmp_path / f"x{index}.jz"),
                "--tolerance",
                tolerance,
                "--quiet",
            ]
        )
        err = capsys.readouterr().err
        assert "Traceback" not in err
        if code:
            assert code == 1 and len(err.strip().splitlines()) == 1, err
            assert "too large" in err
        else:  # a tiny tolerance is honoured: every value an exception, stored exactly
            assert (
                decompress_file(tmp_path / f"x{index}.jz").columns["eta"].tolist()
                == table().columns["eta"].tolist()
            )


def test_csv_column_widening_from_int_to_float(tmp_path: Path) -> None:
    source = tmp_path / "mixed.csv"
    lines = (
        ["pt,n"]
        + [f"{i + 1},{i % 3}" for i in range(300)]
        + [f"{i + 0.5},{i % 3}" for i in range(300)]
    )
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "mixed.jz"
    assert main(["compress", str(source), "-o", str(out), "--chunk-rows", "100", "--quiet"]) == 0
    back = decompress_file(out)
    assert back.columns["pt"].dtype == np.float64 and back.columns["n"].dtype == np.int64
    np.testing.assert_array_equal(back.columns["pt"], pd.read_csv(source)["pt"].to_numpy())


def test_old_format_version_files_are_refused_or_read_by_version(original: bytes) -> None:
    """An older file reads without the binding checks; a newer one names both versions."""
    header, chunks, footer = sections(original)
    assert decode(assemble(header, unbound(chunks), footer, version=3)).n_rows == 400
    with pytest.raises(CorruptFileError, match=f"version {FORMAT_VERSION + 1}"):
        decode(assemble(header, chunks, footer, version=FORMAT_VERSION + 1))


def test_event_range_chunks_are_bound_by_their_first_event() -> None:
    """Chunks that count events (whole-file chunks) record where they start in events too."""
    from jetzip.container import ContainerWriter, open_reader

    stream = io.BytesIO()
    writer = ContainerWriter(stream, {"kind": "events"}, None)
    for events in (3, 5, 2):
        writer.write_chunk({"n_rows": events, "n_events": events}, [("x:data", b"ab")], False)
    writer.finish({})
    data = stream.getvalue()
    _, reader = open_reader(io.BytesIO(data))
    places = [d["chunk"]["first_event"] for d, _, _ in reader.chunks()]
    assert places == [0, 3, 8] and reader.footer["n_rows"] == 10

    header, chunks, _ = sections(data)
    first, parts = chunks[1]
    assert isinstance(first, dict)
    moved = dict(first, chunk=dict(first["chunk"], first_event=4))
    _, reader = open_reader(io.BytesIO(assemble(header, [chunks[0], (moved, parts)], bind=False)))
    with pytest.raises(CorruptFileError, match="does not start at event 3"):
        list(reader.chunks())


def test_writer_refuses_a_chunk_beyond_the_row_limit() -> None:
    from jetzip.container import ContainerWriter
    from jetzip.errors import InputError
    from jetzip.validate import MAX_CHUNK_ROWS

    writer = ContainerWriter(io.BytesIO(), {}, None)
    with pytest.raises(InputError, match="at most"):
        writer.write_chunk({"n_rows": MAX_CHUNK_ROWS + 1}, [], False)
