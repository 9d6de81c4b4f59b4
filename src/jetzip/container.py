"""The `.jz` file format. Nothing else in jetzip reads or writes the bytes of a `.jz` file.

Layout (all integers little-endian):

    prelude   MAGIC (8 bytes) + format version (u16)
    sections  tag (4 ASCII bytes) + payload length (u64) + payload + xxh64(prelude? tag, length,
              payload) (u64). Tags, in order: HEAD (JSON header), CHNK (one per chunk of rows),
              FOOT (JSON footer: row counts, chunk index, statistics); MODL (the embedded
              model's bytes) comes once, just before the first chunk that needs the model,
              and not at all when no chunk does (version 1 files have it right after HEAD).
    trailer   offset of the FOOT section (u64) + END_MAGIC (8 bytes)

The header is written before the first chunk and the footer after the last, so a file is written
in one pass with bounded memory and read back chunk by chunk. Every section carries its own
checksum (the HEAD checksum also covers the prelude), so a flipped bit anywhere, a truncated file,
wrong magic or a newer format version all end in one CorruptFileError.

A chunk payload is a u32 length + a JSON object (the codec's description of the chunk, with
`parts`: [[name, n_bytes], ...]) followed by the parts' bytes in that order. Part names are
`column:role` so that sizes can be attributed to columns without knowing the codec.

Since version 4 every chunk is bound to its place: the writer adds `chunk`: {"index": k,
"first_row": rows before it, "file": the header's checksum} (and "first_event" when the
description counts `n_events`) to each description, inside the chunk's checksummed bytes, and
the footer's chunk index lists each chunk's offset, size, rows and checksum. The reader checks
each chunk against its position and the header as it comes, and the whole index and the row
total against the footer, so a reordered, duplicated, dropped or foreign chunk is one
CorruptFileError instead of silently wrong rows. Every JSON section is checked
(`jetzip.validate`) before its values are used.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import xxhash

from jetzip.errors import CorruptFileError, InputError
from jetzip.validate import (
    MAX_CHUNK_ROWS,
    check_column_statistics,
    check_table_header,
    load_json,
    require_dict,
    require_int,
    require_list,
    require_rows,
    require_str,
)

MAGIC = b"\x89JZIP\r\n\x1a"
END_MAGIC = b"JZEND\r\n\x1a"
#: 2: the model section comes before the first chunk that needs it, or not at all.
#: 3: integer streams (quantised codes) may be int32 as well as int64.
#: 4: chunks record their index, first row and file; the footer index their rows and checksums.
#: 5: integer streams may be rANS streams (codec/entropy.py) as well as pcodec ones.
#: 6: integer streams may be escape streams (rANS over a window of the codes, plus the escaped
#: values apart), for codes too wide for a rANS table (codec/entropy.py).
#: 7: entropy-model columns may be coded per event (`events` in their description), and
#: their context is the model's (no longer listed in the description).
FORMAT_VERSION = 7
#: First version whose chunks are bound to their place (older ones are read without that).
BOUND_CHUNKS_VERSION = 4
_PRELUDE = struct.Struct("<8sH")
_SECTION = struct.Struct("<4sQ")
_CHECKSUM = struct.Struct("<Q")
_TRAILER = struct.Struct("<Q8s")
_U32 = struct.Struct("<I")
#: Refuse absurd section lengths before allocating (a flipped bit in a length field).
_MAX_SECTION = 1 << 40


def _checksum(*pieces: bytes) -> int:
    digest = xxhash.xxh64()
    for piece in pieces:
        digest.update(piece)
    return digest.intdigest()


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


class ContainerWriter:
    """Writes a `.jz` file section by section to an open binary file."""

    def __init__(self, stream: BinaryIO, header: dict[str, Any], model_bytes: bytes | None) -> None:
        """`model_bytes`: the model to embed, written before the first chunk that needs it."""
        self._stream = stream
        self._offset = 0
        self.chunk_index: list[dict[str, int]] = []
        self._model_to_embed = model_bytes
        self.model_embedded = False
        self.n_rows = 0
        self._n_events = 0
        prelude = _PRELUDE.pack(MAGIC, FORMAT_VERSION)
        self._write(prelude)
        self.header_bytes, self._file_id = self._section(b"HEAD", _dumps(header), extra=prelude)

    def _write(self, data: bytes) -> None:
        self._stream.write(data)
        self._offset += len(data)

    def _section(self, tag: bytes, payload: bytes, extra: bytes = b"") -> tuple[int, str]:
        """Write one section; returns its size and its checksum (hex)."""
        head = _SECTION.pack(tag, len(payload))
        checksum = _checksum(extra, head, payload)
        self._write(head)
        self._write(payload)
        self._write(_CHECKSUM.pack(checksum))
        return _SECTION.size + len(payload) + _CHECKSUM.size, f"{checksum:016x}"

    def write_chunk(
        self, description: dict[str, Any], parts: list[tuple[str, bytes]], needs_model: bool
    ) -> int:
        """Append one chunk (after the model, if it is the first to need it); `description`
        must be JSON-able and count its rows in `n_rows` (events in `n_events`, if it has
        them). The chunk's place in the file is recorded in it. Returns the chunk's bytes."""
        n_rows = description["n_rows"]
        if not 0 <= n_rows <= MAX_CHUNK_ROWS:
            raise InputError(f"a chunk holds at most {MAX_CHUNK_ROWS:,} rows, not {n_rows:,}")
        if needs_model and self._model_to_embed is not None and not self.model_embedded:
            self._section(b"MODL", self._model_to_embed)
            self.model_embedded = True
        place = {"index": len(self.chunk_index), "first_row": self.n_rows, "file": self._file_id}
        if "n_events" in description:
            place["first_event"] = self._n_events
            self._n_events += description["n_events"]
        described = dict(
            description, chunk=place, parts=[[name, len(data)] for name, data in parts]
        )
        meta = _dumps(described)
        payload = b"".join([_U32.pack(len(meta)), meta, *(data for _, data in parts)])
        offset = self._offset
        size, checksum = self._section(b"CHNK", payload)
        self.chunk_index.append(
            {"offset": offset, "bytes": size, "n_rows": n_rows, "checksum": checksum}
        )
        self.n_rows += n_rows
        return size

    def finish(self, footer: dict[str, Any]) -> None:
        """Write the footer (with the chunk index and the row and chunk counts) and the
        trailer."""
        offset = self._offset
        counted = {"chunk_index": self.chunk_index, "n_rows": self.n_rows}
        counted["n_chunks"] = len(self.chunk_index)
        self._section(b"FOOT", _dumps(dict(footer, **counted)))
        self._write(_TRAILER.pack(offset, END_MAGIC))


class ContainerReader:
    """Reads and verifies a `.jz` file from an open binary stream, chunk by chunk."""

    def __init__(self, stream: BinaryIO, name: str = "file") -> None:
        self._stream = stream
        self._name = name
        self._offset = 0
        self._size: int | None = None
        if stream.seekable():
            start = stream.tell()
            self._size = stream.seek(0, os.SEEK_END) - start
            stream.seek(start)
        prelude = self._read_exact(_PRELUDE.size, "the file header")
        magic, version = _PRELUDE.unpack(prelude)
        if magic != MAGIC:
            raise CorruptFileError(f"{name} is not a jetzip .jz file (wrong magic bytes)")
        if version > FORMAT_VERSION:
            raise CorruptFileError(
                f"{name} uses .jz format version {version}, newer than this jetzip supports "
                f"({FORMAT_VERSION}); upgrade jetzip"
            )
        if version < 1:
            raise CorruptFileError(f"{name} has an invalid .jz format version {version}")
        self.version = version
        tag, payload, self.header_size, self._file_id = self._section(extra=prelude)
        self._expect(tag, b"HEAD")
        self.header: dict[str, Any] = self._json(payload, "header")
        self.model_bytes: bytes | None = None
        self.model_size = 0
        self.footer: dict[str, Any] | None = None
        # the first section after the header is read by `chunks()`, so that a reader that
        # seeks (`read_footer`, `read_chunk`) reads no chunk it does not need
        self._pending: tuple[bytes, bytes, int, str] | None = None

    def _read_exact(self, n: int, what: str) -> bytes:
        data = self._stream.read(n)
        if len(data) != n:
            raise CorruptFileError(f"{self._name} is truncated (ends inside {what})")
        self._offset += n
        return data

    def _section(self, extra: bytes = b"") -> tuple[bytes, bytes, int, str]:
        """The next section's tag, payload, size and checksum (hex), verified."""
        head = self._read_exact(_SECTION.size, "a section header")
        tag, length = _SECTION.unpack(head)
        if tag not in (b"HEAD", b"MODL", b"CHNK", b"FOOT"):
            raise CorruptFileError(
                f"{self._name} is damaged (unknown section at byte {self._offset})"
            )
        room = _MAX_SECTION if self._size is None else self._size - self._offset
        if length > room:
            raise CorruptFileError(
                f"{self._name} is truncated or damaged (a section runs past the end of the file)"
            )
        payload = self._read_exact(length, f"a {tag.decode()} section")
        (stored,) = _CHECKSUM.unpack(self._read_exact(_CHECKSUM.size, "a checksum"))
        if stored != _checksum(extra, head, payload):
            raise CorruptFileError(
                f"{self._name} is damaged (checksum mismatch in {tag.decode()} section)"
            )
        return tag, payload, _SECTION.size + length + _CHECKSUM.size, f"{stored:016x}"

    def _expect(self, tag: bytes, wanted: bytes) -> None:
        if tag != wanted:
            raise CorruptFileError(
                f"{self._name} is damaged (found a {tag.decode()} section where {wanted.decode()} "
                "belongs)"
            )

    def _json(self, payload: bytes, what: str) -> dict[str, Any]:
        return load_json(payload, f"the {what} of {self._name}")

    def _damaged(self, reason: str) -> CorruptFileError:
        return CorruptFileError(f"{self._name} is damaged ({reason})")

    def chunks(self) -> Iterator[tuple[dict[str, Any], dict[str, bytes], int]]:
        """Yield (description, {part name: bytes}, chunk size in bytes) for every chunk, then
        read and verify the footer and trailer (available as `footer` afterwards). An embedded
        model is in `model_bytes` from the first chunk that needs it on.

        Each description is checked against the chunk's place in the file before it is
        yielded (version 4 on), and the chunk index and row total against the footer."""
        index: list[dict[str, Any]] = []
        n_rows = n_events = 0
        if self._pending is None:
            self._pending = self._section()
        while True:
            tag, payload, size, checksum = self._pending
            start = self._offset - size
            if tag == b"FOOT":
                break
            if tag == b"MODL" and self.model_bytes is None:
                self.model_bytes, self.model_size = payload, size
                self._pending = self._section()
                continue
            self._expect(tag, b"CHNK")
            description, parts = self._split_chunk(payload)
            rows = require_rows(description.get("n_rows"), f"chunk {len(index)}'s row count")
            if self.version >= BOUND_CHUNKS_VERSION:
                n_events = self._check_place(description, len(index), n_rows, n_events)
            index.append({"offset": start, "bytes": size, "n_rows": rows, "checksum": checksum})
            n_rows += rows
            yield description, parts, size
            self._pending = self._section()
        footer = self._json(payload, "footer")
        trailer = self._read_exact(_TRAILER.size, "the trailer")
        foot_offset, end_magic = _TRAILER.unpack(trailer)
        if end_magic != END_MAGIC or foot_offset != start or self._stream.read(1):
            raise self._damaged("bad trailer")
        self._check_footer(footer, index, n_rows)
        self.footer = footer

    def read_footer(self) -> dict[str, Any]:
        """The footer, sought from the trailer (a seekable stream; its checksum verified)
        without reading the chunks; `chunks()` after it is not possible on this reader."""
        self._stream.seek(-_TRAILER.size, os.SEEK_END)
        foot_offset, end_magic = _TRAILER.unpack(self._read_exact(_TRAILER.size, "the trailer"))
        if end_magic != END_MAGIC or foot_offset >= (self._size or 0):
            raise self._damaged("bad trailer")
        self._stream.seek(foot_offset)
        self._offset = foot_offset
        tag, payload, _, _ = self._section()
        self._expect(tag, b"FOOT")
        return self._json(payload, "footer")

    def read_chunk(
        self, position: int, entry: dict[str, Any], first_row: int, first_event: int = 0
    ) -> tuple[dict[str, Any], dict[str, bytes]]:
        """Chunk `position` sought at its footer index `entry` (format 4 on): its checksum
        verified and equal to the index's, its place, file, first row (and first event, where
        it counts events) checked."""
        if self.version < BOUND_CHUNKS_VERSION:
            raise InputError(f"{self._name} predates the chunk index (format {self.version})")
        offset = require_int(entry.get("offset"), f"chunk {position}'s offset", 0)
        self._stream.seek(offset)
        self._offset = offset
        tag, payload, size, checksum = self._section()
        self._expect(tag, b"CHNK")
        if checksum != entry.get("checksum") or size != entry.get("bytes"):
            raise self._damaged(f"chunk {position} does not match the chunk index")
        description, parts = self._split_chunk(payload)
        self._check_place(description, position, first_row, first_event)
        return description, parts

    def _check_place(
        self, description: dict[str, Any], position: int, first_row: int, first_event: int
    ) -> int:
        """Refuse a chunk that is not the one the file's order says comes here; returns the
        events counted up to the end of this chunk."""
        place = require_dict(description.get("chunk"), f"chunk {position}'s place")
        if place.get("file") != self._file_id:
            raise self._damaged(f"chunk {position} belongs to another file")
        recorded = require_int(place.get("index"), f"chunk {position}'s index")
        if recorded != position:
            raise self._damaged(
                f"chunk {recorded} found where chunk {position} belongs: chunks are reordered, "
                "duplicated or missing"
            )
        if place.get("first_row") != first_row:
            raise self._damaged(f"chunk {position} does not start at row {first_row}")
        if "n_events" in description or "first_event" in place:
            events = require_int(description.get("n_events"), f"chunk {position}'s events")
            if place.get("first_event") != first_event:
                raise self._damaged(f"chunk {position} does not start at event {first_event}")
            return first_event + events
        return first_event

    def _check_footer(self, footer: dict[str, Any], index: list[dict[str, Any]], rows: int) -> None:
        """The footer's chunk index must list exactly the chunks read, and its row total must
        be the rows they hold (older versions: offsets, and the total where recorded)."""
        listed = require_list(footer.get("chunk_index", []), "the footer's chunk index")
        if self.version >= BOUND_CHUNKS_VERSION:
            if listed != index:
                raise self._damaged("chunk index does not match: chunks are missing or replaced")
            expected_rows = require_int(footer.get("n_rows"), "the footer's row count")
            if require_int(footer.get("n_chunks"), "the footer's chunk count") != len(index):
                raise self._damaged("the footer's chunk count does not match the chunks read")
        else:
            offsets = [require_dict(c, "a chunk index entry").get("offset") for c in listed]
            if offsets != [c["offset"] for c in index]:
                raise self._damaged("chunk index does not match")
            expected_rows = require_int(footer.get("n_rows", rows), "the footer's row count")
        if expected_rows != rows:
            raise self._damaged(
                f"the footer declares {expected_rows:,} rows, the chunks hold {rows:,}"
            )

    def _split_chunk(self, payload: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
        if len(payload) < _U32.size:
            raise self._damaged("empty chunk")
        (meta_len,) = _U32.unpack_from(payload)
        description = self._json(payload[_U32.size : _U32.size + meta_len], "chunk description")
        position = _U32.size + meta_len
        parts: dict[str, bytes] = {}
        for entry in require_list(description.get("parts"), "a chunk's part list"):
            name, length = require_list(entry, "a chunk's part entry", length=2)
            name = require_str(name, "a chunk's part name")
            length = require_int(length, f"the length of part {name!r}", 0, len(payload))
            if name in parts:
                raise self._damaged(f"a chunk has two {name!r} parts")
            parts[name] = payload[position : position + length]
            position += length
        if position != len(payload):
            raise self._damaged("chunk parts do not add up")
        return description, parts


def open_reader(
    source: str | os.PathLike[str] | BinaryIO,
) -> tuple[BinaryIO, ContainerReader]:
    """Open `source` (a path or a binary stream positioned at the file's start) and read its
    header; the caller closes the returned stream."""
    if hasattr(source, "read"):
        return source, ContainerReader(source, name=getattr(source, "name", "stream"))
    path = Path(source)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    stream = path.open("rb")
    try:
        return stream, ContainerReader(stream, name=str(path))
    except BaseException:
        stream.close()
        raise


#: Source formats whose reader takes one collection out of a file of several (ROOT trees,
#: DarkMachines events): a flat `.jz` of them has no ratio "vs input file".
PART_OF_INPUT_FORMATS = ("root", "darkmachines")


def describe_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Header, sizes per part (model, header, each column's payload), bytes per row and ratios.

    The raw float32 reference counts 4 bytes per floating-point value (integer columns and the
    event index are extras stored losslessly). The ratio vs the input file is given only when
    the table was the whole input (not one collection of a ROOT or DarkMachines file). Reads
    and verifies the whole file (every checksum) but decodes no payload.
    """
    stream, reader = open_reader(path)
    with stream:
        column_bytes: dict[str, int] = {}
        n_chunks = 0
        for _description, parts, _size in reader.chunks():
            n_chunks += 1
            for name, data in parts.items():
                owner = name.split(":", 1)[0]
                column_bytes[owner] = column_bytes.get(owner, 0) + len(data)
        footer = reader.footer or {}
    header = check_table_header(reader.header)
    check_column_statistics(footer.get("columns", {}))
    file_bytes = Path(path).stat().st_size
    n_rows = require_int(footer.get("n_rows", 0), "the footer's row count")
    n_float_columns = sum(1 for c in header["columns"] if c["dtype"].startswith("float"))
    raw_float32 = 4 * n_rows * n_float_columns
    source_bytes = (header.get("source") or {}).get("bytes")
    source_format = (header.get("meta") or {}).get("format")
    if source_format in PART_OF_INPUT_FORMATS:
        source_bytes = None  # one collection of an event file: a ratio to it would flatter
    without_model = file_bytes - reader.model_size

    def ratio(reference: int | None, size: int) -> float | None:
        return reference / size if reference and size else None

    return {
        "path": str(path),
        "format_version": reader.version,
        "header": header,
        "footer": {k: v for k, v in footer.items() if k != "chunk_index"},
        "n_rows": n_rows,
        "n_chunks": n_chunks,
        "sizes": {
            "file": file_bytes,
            "model": reader.model_size,
            "header": reader.header_size,
            "columns": column_bytes,
            "framing": file_bytes
            - reader.model_size
            - reader.header_size
            - sum(column_bytes.values()),
        },
        "bytes_per_row": file_bytes / n_rows if n_rows else None,
        "bytes_per_row_without_model": without_model / n_rows if n_rows else None,
        "raw_float32_bytes": raw_float32,
        "ratio_vs_float32": ratio(raw_float32, file_bytes),
        "ratio_vs_float32_without_model": ratio(raw_float32, without_model),
        "ratio_vs_input": ratio(source_bytes, file_bytes),
        "ratio_vs_input_without_model": ratio(source_bytes, without_model),
    }
