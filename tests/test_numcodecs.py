"""The numcodecs codec: bounds on every value, exact specials, config round trips, clear errors."""

from __future__ import annotations

from importlib.metadata import entry_points

import numpy as np
import pytest

numcodecs = pytest.importorskip("numcodecs", reason="numcodecs is in the 'zarr' extra")

from jetzip.codec.tolerance import Tolerance  # noqa: E402
from jetzip.errors import CorruptFileError, OptionError  # noqa: E402
from jetzip.numcodecs import JetzipCodec  # noqa: E402


def jet_like(shape: tuple[int, ...], dtype: str, seed: int = 3) -> np.ndarray:
    """Lognormal magnitudes with both signs: what pt, m or a coordinate look like."""
    rng = np.random.default_rng(seed)
    values = rng.lognormal(3.0, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    return values.astype(dtype)


def assert_within(original: np.ndarray, restored: np.ndarray, tolerance: Tolerance) -> None:
    assert restored.shape == original.shape
    assert restored.dtype == original.dtype
    assert not tolerance.violations(original.ravel(), restored.ravel()).any()


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("text", ["0.1%", "1%", "0.01", "3"])
@pytest.mark.parametrize("shape", [(0,), (5000,), (20, 30, 4)])
def test_every_value_within_the_tolerance(dtype: str, text: str, shape: tuple[int, ...]) -> None:
    codec = JetzipCodec(text)
    original = jet_like(shape, dtype)
    restored = codec.decode(codec.encode(original))
    assert_within(original, restored, Tolerance.parse(text))


def test_smaller_than_the_raw_array_and_fortran_order_kept() -> None:
    codec = JetzipCodec(0.001, relative=True)
    original = np.asfortranarray(jet_like((400, 50), "float32"))
    encoded = codec.encode(original)
    assert len(encoded) < original.nbytes / 2
    restored = codec.decode(encoded)
    assert_within(original, restored, codec.tolerance)


def test_zeros_nan_and_inf_come_back_exactly_under_a_relative_tolerance() -> None:
    codec = JetzipCodec("0.1%")
    specials = [0.0, -0.0, np.nan, np.inf, -np.inf]
    extremes = [1e-45, -3.0e38, 3.4028235e38]  # subnormal, near the float32 limit
    original = np.array([*specials, *extremes], np.float32)
    original = np.concatenate([original, jet_like((1000,), "float32")])
    restored = codec.decode(codec.encode(original))
    assert restored[: len(specials)].tobytes() == original[: len(specials)].tobytes()
    assert_within(original, restored, codec.tolerance)


def test_decoded_values_encode_to_themselves() -> None:
    """Zarr re-encodes a whole chunk when part of it is written: nothing may drift."""
    for codec in (JetzipCodec("0.1%"), JetzipCodec(0.001)):
        once = codec.decode(codec.encode(jet_like((20000,), "float32")))
        twice = codec.decode(codec.encode(once))
        assert twice.tobytes() == once.tobytes()


def test_decode_into_out() -> None:
    codec = JetzipCodec(0.01)
    original = jet_like((10, 10), "float64")
    out = np.empty_like(original)
    returned = codec.decode(codec.encode(original), out=out)
    assert returned is out
    assert_within(original, out, codec.tolerance)


def test_config_round_trip_through_the_registry() -> None:
    codec = JetzipCodec(0.00123456789, relative=True)
    config = codec.get_config()
    assert config == {"id": "jetzip", "tolerance": 0.00123456789, "relative": True}
    again = numcodecs.get_codec(dict(config))
    assert isinstance(again, JetzipCodec)
    assert again == codec
    original = jet_like((3000,), "float32")
    assert again.encode(original) == codec.encode(original)
    assert JetzipCodec("0.5%").get_config() == {
        "id": "jetzip",
        "tolerance": 0.005,
        "relative": True,
    }


def test_the_entry_point_is_installed() -> None:
    found = [e for e in entry_points(group="numcodecs.codecs") if e.name == "jetzip"]
    assert [e.value for e in found] == ["jetzip.numcodecs:JetzipCodec"], (
        "re-run `pip install -e . --no-deps` to register the entry points"
    )


@pytest.mark.parametrize(
    "config, message",
    [
        ({"id": "jetzip"}, "needs a tolerance"),
        ({"id": "jetzip", "tolerance": -1}, "positive finite"),
        ({"id": "jetzip", "tolerance": "abc"}, "malformed tolerance"),
        ({"id": "jetzip", "tolerance": True}, "must be a number"),
        ({"id": "jetzip", "tolerance": 0.1, "relative": "yes"}, "true or false"),
        ({"id": "jetzip", "tolerance": "0.1%", "relative": False}, "is relative"),
        ({"id": "jetzip", "tolerance": 0.1, "level": 3}, "unknown jetzip codec option"),
    ],
)
def test_a_bad_config_is_one_clear_error(config: dict, message: str) -> None:
    with pytest.raises(OptionError, match=message) as caught:
        numcodecs.get_codec(config)
    assert "\n" not in str(caught.value)


def test_non_float_arrays_are_refused() -> None:
    with pytest.raises(OptionError, match="float16, float32 or float64"):
        JetzipCodec(0.1).encode(np.arange(10))


@pytest.fixture(scope="module")
def encoded() -> bytes:
    return JetzipCodec("0.1%").encode(jet_like((2000,), "float32"))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b[:10], "truncated"),
        (lambda b: b"XXXX" + b[4:], "wrong magic"),
        (lambda b: b[:4] + bytes([9]) + b[5:], "version 9"),
        (lambda b: b[:-100] + bytes([b[-100] ^ 1]) + b[-99:], "checksum mismatch"),
        (lambda b: b[:-1], "checksum mismatch"),
    ],
)
def test_damaged_bytes_are_a_corrupt_file_error(encoded: bytes, damage, message: str) -> None:
    with pytest.raises(CorruptFileError, match=message) as caught:
        JetzipCodec("0.1%").decode(damage(encoded))
    assert "\n" not in str(caught.value)


def _resealed(data: bytes, **changes) -> bytes:
    """`data` with header entries changed and a valid checksum again (a forged header)."""
    import json
    import struct

    import xxhash

    magic, version, meta_len = struct.unpack_from("<4sBI", data)
    header = json.loads(data[9 : 9 + meta_len])
    header.update(changes)
    meta = json.dumps(header).encode()
    body = struct.pack("<4sBI", magic, version, len(meta)) + meta + data[9 + meta_len : -8]
    return body + struct.pack("<Q", xxhash.xxh64_intdigest(body))


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"dtype": "int32"}, "is bounded but int32"),
        ({"dtype": ">f8"}, "dtype '>f8' is not allowed"),
        ({"shape": [-1, -2000]}, "-1 is outside"),
        ({"shape": "2000"}, "expected a list"),
        ({"shape": [2**62, 2**62]}, "cannot hold"),
        ({"shape": [5]}, "does not hold 5 values"),
        ({"tolerance": {"value": -1, "relative": True}}, "tolerance <= 0"),
        ({"tolerance": {"value": 0.001, "relative": "yes"}}, "expected true or false"),
        ({"column": []}, "expected an object"),
        ({"column": {"negative": 1}}, "expected true or false"),
        ({"column": {"grid": "other"}}, "unknown quantisation grid"),
        ({"parts": [["values:codes", 3]]}, "parts do not add up"),
        ({"parts": [["values:codes"]]}, "1 items, expected 2"),
        ({"parts": [[7, 3]]}, "expected a string"),
        ({"parts": [["values:codes", 1e30]]}, "expected an integer"),
        ({"extra": _nested(65)}, "nested more than 64"),
    ],
)
def test_a_checksummed_but_inconsistent_header_is_refused(
    encoded: bytes, changes: dict, message: str
) -> None:
    with pytest.raises(CorruptFileError, match=message) as caught:
        JetzipCodec("0.1%").decode(_resealed(encoded, **changes))
    assert "\n" not in str(caught.value)


def test_a_header_nested_beyond_the_stack_is_one_corrupt_file_error(encoded: bytes) -> None:
    """A header too deep for Python's parser itself (not only for jetzip's depth limit)."""
    import struct

    import xxhash

    meta = b'{"x":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    body = struct.pack("<4sBI", b"JZNC", 1, len(meta)) + meta
    forged = body + struct.pack("<Q", xxhash.xxh64_intdigest(body))
    with pytest.raises(CorruptFileError, match="nested too deep") as caught:
        JetzipCodec("0.1%").decode(forged)
    assert "\n" not in str(caught.value)
