"""The .jz container: every kind of damage is caught, and `describe_file` explains the file."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from jetzip.codec import compress_table, decompress_file
from jetzip.container import FORMAT_VERSION, MAGIC, describe_file
from jetzip.errors import CorruptFileError
from jetzip.table import Table


@pytest.fixture
def small_file(tmp_path):
    """A small two-chunk file with an event index, lossless and quantised columns."""
    rng = np.random.default_rng(1)
    n = 120
    table = Table(
        {
            "pt": rng.lognormal(10, 1, n).astype(np.float32),
            "eta": rng.uniform(-3, 3, n),
            "n": rng.integers(0, 9, n),
        },
        event=np.arange(n) // 3,
        units={"pt": "MeV"},
    )
    path = tmp_path / "small.jz"
    compress_table(table, path, tolerances="pt=0.1%,eta=0.001", chunk_rows=70)
    return path


def test_intact_stream_decodes_like_the_file(small_file):
    from_stream = decompress_file(io.BytesIO(small_file.read_bytes()))
    assert from_stream.equals(decompress_file(small_file))


def test_every_flipped_bit_position_is_caught(small_file):
    data = small_file.read_bytes()
    for position in range(len(data)):
        flipped = bytearray(data)
        flipped[position] ^= 1 << (position % 8)
        with pytest.raises(CorruptFileError):
            decompress_file(io.BytesIO(bytes(flipped)))


def test_every_truncation_is_caught(small_file, tmp_path):
    data = small_file.read_bytes()
    for length in range(len(data)):
        with pytest.raises(CorruptFileError):
            decompress_file(io.BytesIO(data[:length]))
    (tmp_path / "cut.jz").write_bytes(data[:-1])
    with pytest.raises(CorruptFileError, match="truncated"):
        decompress_file(tmp_path / "cut.jz")


def test_trailing_bytes_are_caught(small_file):
    small_file.write_bytes(small_file.read_bytes() + b"\0")
    with pytest.raises(CorruptFileError, match="trailer"):
        decompress_file(small_file)


def test_wrong_magic(tmp_path):
    path = tmp_path / "table.jz"
    path.write_bytes(b"m,pt,eta,phi\n1,2,3,4\n")
    with pytest.raises(CorruptFileError, match="not a jetzip"):
        decompress_file(path)


def test_newer_format_version(small_file):
    data = bytearray(small_file.read_bytes())
    struct.pack_into("<H", data, len(MAGIC), FORMAT_VERSION + 1)
    small_file.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="newer"):
        decompress_file(small_file)
    with pytest.raises(CorruptFileError, match="newer"):
        describe_file(small_file)


def test_describe_file_accounts_for_every_byte(small_file):
    info = describe_file(small_file)
    sizes = info["sizes"]
    assert sizes["file"] == small_file.stat().st_size
    assert sizes["model"] == 0
    assert set(sizes["columns"]) == {"pt", "eta", "n", "(event)"}
    assert sizes["header"] + sum(sizes["columns"].values()) + sizes["framing"] == sizes["file"]
    assert sizes["framing"] > 0
    assert info["n_rows"] == 120 and info["n_chunks"] == 2
    assert info["bytes_per_row"] == pytest.approx(sizes["file"] / 120)
    assert info["ratio_vs_float32"] == pytest.approx(120 * 2 * 4 / sizes["file"])  # 2 floats
    assert info["ratio_vs_input"] is None  # compressed from memory: no input file
    header = info["header"]
    assert [c["name"] for c in header["columns"]] == ["pt", "eta", "n"]
    assert [c["kind"] for c in header["columns"]] == ["bounded", "bounded", "lossless"]
    assert header["columns"][0]["unit"] == "MeV"
    assert header["event_index"] is True


@pytest.mark.parametrize("version", [1, 2, 3])
def test_older_format_versions_are_still_read(small_file, version):
    """Version 2 only moved the model section, version 3 allowed int32 codes and version 4 bound
    chunks to their place; a file of an older version reads the same (without that binding)."""
    import xxhash

    data = bytearray(small_file.read_bytes())
    struct.pack_into("<H", data, len(MAGIC), version)
    prelude_size = len(MAGIC) + 2
    (length,) = struct.unpack_from("<Q", data, prelude_size + 4)
    head_end = prelude_size + 12 + length
    checksum = xxhash.xxh64(bytes(data[:head_end])).intdigest()
    struct.pack_into("<Q", data, head_end, checksum)
    assert describe_file(small_file)["format_version"] == FORMAT_VERSION == 7
    old = small_file.with_name("old.jz")
    old.write_bytes(bytes(data))
    assert describe_file(old)["format_version"] == version
    assert decompress_file(old).equals(decompress_file(small_file))


def test_sought_chunks_are_checked_against_their_index_and_place(small_file):
    from jetzip.container import open_reader

    data = small_file.read_bytes()
    stream, reader = open_reader(io.BytesIO(data))
    footer = reader.read_footer()
    index = footer["chunk_index"]
    assert len(index) == 2 and stream.tell() == len(data) - 16  # the footer, no chunk read
    first_rows = [0, index[0]["n_rows"]]
    for position in (1, 0):  # in any order
        description, parts = reader.read_chunk(position, index[position], first_rows[position])
        assert description["chunk"]["index"] == position and parts
    with pytest.raises(CorruptFileError, match="chunk 1 found where chunk 0 belongs"):
        reader.read_chunk(0, index[1], 0)  # another chunk's entry: checksum agrees, place not
    with pytest.raises(CorruptFileError, match="does not match the chunk index"):
        reader.read_chunk(0, dict(index[0], checksum=index[1]["checksum"]), 0)
    with pytest.raises(CorruptFileError, match="does not start at row"):
        reader.read_chunk(1, index[1], 0)
