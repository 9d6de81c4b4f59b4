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

MAGIC = b"\x89JZIP\r\n\x1a"
END_MAGIC = b"JZEND\r\n\x1a"
#: 2: the model section comes before the first chunk that needs it, or not at all.
#: 3: integer streams (quantised codes) may be int32 as well as int64.
FORMAT_VERSION = 3
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
        prelude = _PRELUDE.pack(MAGIC, FORMAT_VERSION)
        self._write(prelude)
        self.header_bytes = self._section(b"HEAD", _dumps(header), extra=prelude)

    def _write(self, data: bytes) -> None:
        self._stream.write(data)
        self._offset += len(data)

    def _section(self, tag: bytes, payload: bytes, extra: bytes = b"") -> int:
        head = _SECTION.pack(tag, len(payload))
        self._write(head)
        self._write(payload)
        self._write(_CHECKSUM.pack(_checksum(extra, head, payload)))
        return _SECTION.size + len(payload) + _CHECKSUM.size

    def write_chunk(
        self, description: dict[str, Any], parts: list[tuple[str, bytes]], needs_model: bool
    ) -> int:
        """Append one chunk (after the model, if it is the first to need it); `description`
        must be JSON-able. Returns the bytes of the chunk section."""
        if needs_model and self._model_to_embed is not None and not self.model_embedded:
            self._section(b"MODL", self._model_to_embed)
            self.model_embedded = True
        described = dict(description, parts=[[name, len(data)] for name, data in parts])
        meta = _dumps(described)
        payload = b"".join([_U32.pack(len(meta)), meta, *(data for _, data in parts)])
        offset = self._offset
        size = self._section(b"CHNK", payload)
        self.chunk_index.append({"offset": offset, "bytes": size})
        return size

    def finish(self, footer: dict[str, Any]) -> None:
        """Write the footer (with the chunk index) and the trailer."""
        offset = self._offset
        self._section(b"FOOT", _dumps(dict(footer, chunk_index=self.chunk_index)))
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
        tag, payload, self.header_size = self._section(extra=prelude)
        self._expect(tag, b"HEAD")
        self.header: dict[str, Any] = self._json(payload, "header")
        self.model_bytes: bytes | None = None
        self.model_size = 0
        self.footer: dict[str, Any] | None = None
        self._pending = self._section()

    def _read_exact(self, n: int, what: str) -> bytes:
        data = self._stream.read(n)
        if len(data) != n:
            raise CorruptFileError(f"{self._name} is truncated (ends inside {what})")
        self._offset += n
        return data

    def _section(self, extra: bytes = b"") -> tuple[bytes, bytes, int]:
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
        return tag, payload, _SECTION.size + length + _CHECKSUM.size

    def _expect(self, tag: bytes, wanted: bytes) -> None:
        if tag != wanted:
            raise CorruptFileError(
                f"{self._name} is damaged (found a {tag.decode()} section where {wanted.decode()} "
                "belongs)"
            )

    def _json(self, payload: bytes, what: str) -> dict[str, Any]:
        try:
            data = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise CorruptFileError(f"{self._name} is damaged (unreadable {what})") from None
        if not isinstance(data, dict):
            raise CorruptFileError(f"{self._name} is damaged (unreadable {what})")
        return data

    def chunks(self) -> Iterator[tuple[dict[str, Any], dict[str, bytes], int]]:
        """Yield (description, {part name: bytes}, chunk size in bytes) for every chunk, then
        read and verify the footer and trailer (available as `footer` afterwards). An embedded
        model is in `model_bytes` from the first chunk that needs it on."""
        offsets = []
        while True:
            tag, payload, size = self._pending
            start = self._offset - size
            if tag == b"FOOT":
                break
            if tag == b"MODL" and self.model_bytes is None:
                self.model_bytes, self.model_size = payload, size
                self._pending = self._section()
                continue
            self._expect(tag, b"CHNK")
            offsets.append(start)
            yield (*self._split_chunk(payload), size)
            self._pending = self._section()
        footer = self._json(payload, "footer")
        trailer = self._read_exact(_TRAILER.size, "the trailer")
        foot_offset, end_magic = _TRAILER.unpack(trailer)
        if end_magic != END_MAGIC or foot_offset != start or self._stream.read(1):
            raise CorruptFileError(f"{self._name} is damaged (bad trailer)")
        if [c.get("offset") for c in footer.get("chunk_index", [])] != offsets:
            raise CorruptFileError(f"{self._name} is damaged (chunk index does not match)")
        self.footer = footer

    def _split_chunk(self, payload: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
        if len(payload) < _U32.size:
            raise CorruptFileError(f"{self._name} is damaged (empty chunk)")
        (meta_len,) = _U32.unpack_from(payload)
        description = self._json(payload[_U32.size : _U32.size + meta_len], "chunk description")
        position = _U32.size + meta_len
        parts: dict[str, bytes] = {}
        try:
            for name, length in description["parts"]:
                parts[name] = payload[position : position + length]
                position += length
        except (KeyError, TypeError, ValueError):
            raise CorruptFileError(f"{self._name} is damaged (bad chunk description)") from None
        if position != len(payload):
            raise CorruptFileError(f"{self._name} is damaged (chunk parts do not add up)")
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


def describe_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Header, sizes per part (model, header, each column's payload), bytes per row and ratios.

    The raw float32 reference counts 4 bytes per floating-point value (integer columns and the
    event index are extras stored losslessly). Reads and verifies the whole file (every
    checksum) but decodes no payload.
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
    header = reader.header
    file_bytes = Path(path).stat().st_size
    n_rows = int(footer.get("n_rows", 0))
    n_float_columns = sum(
        1 for c in header.get("columns", []) if str(c.get("dtype", "")).startswith("float")
    )
    raw_float32 = 4 * n_rows * n_float_columns
    source_bytes = (header.get("source") or {}).get("bytes")
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
