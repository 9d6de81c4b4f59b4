"""The Zarr v3 codec in zarr-python: arrays on disk read back within the tolerance, by name."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest

zarr = pytest.importorskip("zarr", reason="zarr is in the 'zarr' extra")

from jetzip.codec.tolerance import Tolerance  # noqa: E402
from jetzip.errors import CorruptFileError, OptionError  # noqa: E402
from jetzip.zarr import JetzipZarrCodec  # noqa: E402


def jet_like(shape: tuple[int, ...], seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.lognormal(10.0, 1.0, shape).astype(np.float32)
    values.flat[:4] = [0.0, np.nan, np.inf, -2.5]
    return values


def within(original: np.ndarray, restored: np.ndarray, tolerance: Tolerance) -> bool:
    return not tolerance.violations(original.ravel(), restored.ravel()).any()


def test_an_array_on_disk_reads_back_within_the_tolerance(tmp_path: Path) -> None:
    original = jet_like((250, 90))  # edge chunks are partial
    tolerance = Tolerance(0.001, relative=True)
    array = zarr.create_array(
        tmp_path / "jets.zarr",
        shape=original.shape,
        chunks=(64, 64),
        dtype="float32",
        serializer=JetzipZarrCodec(tolerance="0.1%"),
    )
    array[:] = original
    metadata = json.loads((tmp_path / "jets.zarr" / "zarr.json").read_text())
    assert metadata["codecs"][0] == {
        "name": "jetzip",
        "configuration": {"tolerance": 0.001, "relative": True},
    }
    reopened = zarr.open_array(tmp_path / "jets.zarr", mode="r")
    restored = reopened[:]
    assert within(original, restored, tolerance)
    assert restored.flat[0] == 0.0 and np.isnan(restored.flat[1]) and restored.flat[2] == np.inf
    stored = sum(p.stat().st_size for p in (tmp_path / "jets.zarr" / "c").rglob("*"))
    assert stored < 4 * 8 * 64 * 64 / 2  # 8 chunks, edge ones padded, float32: 2x smaller


def test_absolute_tolerance_with_a_compressor_after_it(tmp_path: Path) -> None:
    original = np.random.default_rng(2).uniform(-np.pi, np.pi, (3, 1000)).astype(np.float64)
    array = zarr.create_array(
        tmp_path / "phi.zarr",
        shape=original.shape,
        chunks=(1, 400),
        dtype="float64",
        serializer={"name": "jetzip", "configuration": {"tolerance": 0.001}},
        compressors=[{"name": "zstd", "configuration": {"level": 3}}],
    )
    array[:] = original
    restored = zarr.open_array(tmp_path / "phi.zarr", mode="r")[:]
    assert within(original, restored, Tolerance(0.001, relative=False))


def test_writing_part_of_a_chunk_leaves_the_rest_where_it_was(tmp_path: Path) -> None:
    original = jet_like((100, 100))
    array = zarr.create_array(
        tmp_path / "a.zarr",
        shape=original.shape,
        chunks=(100, 100),
        dtype="float32",
        serializer=JetzipZarrCodec(tolerance=0.01, relative=True),
    )
    array[:] = original
    before = array[:]
    array[10:20, 10:20] = 1.0
    after = array[:]
    untouched = np.ones(original.shape, dtype=bool)
    untouched[10:20, 10:20] = False
    assert after[untouched].tobytes() == before[untouched].tobytes()
    assert np.all(np.abs(after[10:20, 10:20] - 1.0) <= 0.01)


def test_zarr_v2_takes_the_numcodecs_codec_as_a_filter(tmp_path: Path) -> None:
    """Zarr v2 hands filters the array (compressors get bytes): the filter is the place."""
    from jetzip.numcodecs import JetzipCodec

    original = jet_like((100, 50))
    array = zarr.create_array(
        tmp_path / "v2.zarr",
        shape=original.shape,
        chunks=(40, 40),
        dtype="float32",
        zarr_format=2,
        filters=[JetzipCodec("0.1%")],
        compressors=None,
    )
    array[:] = original
    metadata = json.loads((tmp_path / "v2.zarr" / ".zarray").read_text())
    assert metadata["filters"] == [{"id": "jetzip", "tolerance": 0.001, "relative": True}]
    restored = zarr.open_array(tmp_path / "v2.zarr", mode="r")[:]
    assert within(original, restored, Tolerance(0.001, relative=True))


def test_the_codec_is_found_by_name() -> None:
    found = [e.value for e in entry_points(group="zarr.codecs") if e.name == "jetzip"]
    assert found == ["jetzip.zarr:JetzipZarrCodec"], "re-run `pip install -e . --no-deps`"
    assert zarr.registry.get_codec_class("jetzip") is JetzipZarrCodec


def test_config_round_trip() -> None:
    codec = JetzipZarrCodec(tolerance="0.25%")
    again = JetzipZarrCodec.from_dict(codec.to_dict())
    assert again == codec
    assert again.tolerance == Tolerance(0.0025, relative=True)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"name": "jetzip"}, "needs a configuration"),
        ({"name": "jetzip", "configuration": {"tolerance": 0}}, "positive finite"),
        ({"name": "jetzip", "configuration": {"tol": 0.1}}, "unknown jetzip codec option"),
        ({"name": "bytes", "configuration": {"tolerance": 0.1}}, "not a jetzip codec"),
    ],
)
def test_a_bad_config_is_one_clear_error(config: dict, message: str) -> None:
    with pytest.raises(OptionError, match=message) as caught:
        JetzipZarrCodec.from_dict(config)
    assert "\n" not in str(caught.value)


def test_an_integer_array_is_refused_when_created(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="float16, float32 or float64"):
        zarr.create_array(
            tmp_path / "n.zarr",
            shape=(10,),
            dtype="int32",
            serializer=JetzipZarrCodec(tolerance=1),
        )


def test_a_damaged_chunk_is_a_corrupt_file_error(tmp_path: Path) -> None:
    array = zarr.create_array(
        tmp_path / "d.zarr",
        shape=(1000,),
        chunks=(1000,),
        dtype="float32",
        serializer=JetzipZarrCodec(tolerance="1%"),
    )
    array[:] = jet_like((1000,))
    (chunk,) = (p for p in (tmp_path / "d.zarr" / "c").rglob("*") if p.is_file())
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="checksum mismatch"):
        zarr.open_array(tmp_path / "d.zarr", mode="r")[:]


def test_atlas_jets_in_zarr_meet_the_reference_tolerances(tmp_path: Path, atlas_4d_path) -> None:
    from jetzip.io import read_table

    table = read_table(atlas_4d_path)
    for name, text in (("pt", "0.1%"), ("m", "0.1%"), ("eta", "0.001"), ("phi", "0.001")):
        original = table[name].astype(np.float32)
        array = zarr.create_array(
            tmp_path / f"{name}.zarr",
            shape=original.shape,
            chunks=(8192,),
            dtype="float32",
            serializer=JetzipZarrCodec(tolerance=text),
        )
        array[:] = original
        restored = zarr.open_array(tmp_path / f"{name}.zarr", mode="r")[:]
        assert within(original, restored, Tolerance.parse(text)), name
