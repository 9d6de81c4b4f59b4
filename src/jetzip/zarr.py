"""jetzip's bounded codec as a Zarr v3 array -> bytes codec (zarr-python 3).

It takes the place of Zarr's `bytes` codec (an array goes in, bytes come out), because the
quantiser needs the values and their dtype, not their raw bytes; bytes -> bytes codecs
(zstd, crc32c) may still follow it. Registered as "jetzip" through the `zarr.codecs` entry
point, so an array's metadata `{"name": "jetzip", "configuration": {"tolerance": 0.001,
"relative": true}}` opens in any zarr-python with jetzip installed:

    zarr.create_array(store, shape=..., chunks=..., dtype="float32",
                      serializer=JetzipZarrCodec(tolerance="0.1%"))

Each chunk is stored as `jetzip.numcodecs` bytes (self-describing, checksummed). Decoded values
re-encode to themselves, so writing part of a chunk does not move the values already there.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from zarr.abc.codec import ArrayBytesCodec
from zarr.core.array_spec import ArraySpec
from zarr.core.buffer import Buffer, NDBuffer

from jetzip.codec.tolerance import Tolerance
from jetzip.errors import CorruptFileError, OptionError
from jetzip.numcodecs import (
    CODEC_ID,
    JetzipCodec,
    check_float_dtype,
    decode_array,
    encode_array,
)


@dataclass(frozen=True)
class JetzipZarrCodec(ArrayBytesCodec):
    """Zarr v3 serializer: every value within `tolerance` (see `jetzip.numcodecs.JetzipCodec`
    for the arguments), NaN, inf and zeros under a relative tolerance kept exactly."""

    is_fixed_size = False
    tolerance: Tolerance

    def __init__(self, *, tolerance: float | str | Tolerance, relative: bool | None = None) -> None:
        if not isinstance(tolerance, Tolerance):
            tolerance = JetzipCodec(tolerance, relative).tolerance
        object.__setattr__(self, "tolerance", tolerance)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """The codec of `{"name": "jetzip", "configuration": {...}}`; a bad one is OptionError."""
        if data.get("name") != CODEC_ID:
            raise OptionError(f"not a jetzip codec configuration: name {data.get('name')!r}")
        configuration = data.get("configuration")
        if not isinstance(configuration, dict):
            raise OptionError("the jetzip codec needs a configuration with a tolerance")
        return cls(tolerance=JetzipCodec.from_config(configuration).tolerance)

    def to_dict(self) -> dict[str, Any]:
        config = JetzipCodec(self.tolerance.value, self.tolerance.relative).get_config()
        del config["id"]
        return {"name": CODEC_ID, "configuration": config}

    def validate(self, *, shape: tuple[int, ...], dtype: Any, chunk_grid: Any) -> None:
        """Refuse, when the array is created, a dtype the codec cannot store."""
        check_float_dtype(np.dtype(dtype.to_native_dtype()))

    def _decode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        values = decode_array(chunk_bytes.as_numpy_array().data)
        expected = np.dtype(chunk_spec.dtype.to_native_dtype())
        if values.shape != chunk_spec.shape or values.dtype != expected:
            raise CorruptFileError(
                f"jetzip chunk holds {values.dtype} {values.shape}, the array expects "
                f"{expected} {chunk_spec.shape}"
            )
        return chunk_spec.prototype.nd_buffer.from_numpy_array(values)

    def _encode_sync(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
        data = encode_array(chunk_array.as_numpy_array(), self.tolerance)
        return chunk_spec.prototype.buffer.from_bytes(data)

    async def _decode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)

    async def _encode_single(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
        return await asyncio.to_thread(self._encode_sync, chunk_array, chunk_spec)

    def compute_encoded_size(self, input_byte_length: int, chunk_spec: ArraySpec) -> int:
        raise NotImplementedError("jetzip chunks are variable-sized")
