"""Every mode round-trips the real shared files through the CLI, in the files' own formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import ATLAS_4D, DARKMACHINES, ROOT_DIR, require_shared
from jetzip.cli.main import main
from jetzip.codec import parse_tolerances
from jetzip.io import read_table
from jetzip.models import TrainedModel
from jetzip.training import TrainConfig, train

SHARED_FILES = {
    "atlas_pickle": (ATLAS_4D, ".pkl"),
    "darkmachines": (DARKMACHINES, ".parquet"),
    "nanoaod_root": (ROOT_DIR / "nanoAOD_2015_CMS_Open_Data_ttbar.root", ".root"),
    "physlite_root": (ROOT_DIR / "uproot-issue-123a.root", ".root"),
}


def compress_and_back(tmp_path: Path, source: Path, suffix: str, *options: str):
    jz, out = tmp_path / "data.jz", tmp_path / f"back{suffix}"
    if source.suffix == ".root":  # a whole tree: branches uproot cannot store are refused
        options = ("--skip-unsupported", *options)
    assert main(["compress", str(source), "-o", str(jz), "--quiet", *options]) == 0
    assert main(["decompress", str(jz), "-o", str(out)]) == 0
    original, restored = read_table(source), read_table(out)
    # a whole tree comes back with object branches' members as plain branches (uproot writes
    # no ROOT object streamers), which the jets reader then finds as extra per-jet columns
    return original, restored.select(original.names)


@pytest.mark.parametrize("name", SHARED_FILES)
def test_lossless_gives_back_every_value(name: str, tmp_path: Path) -> None:
    source, suffix = SHARED_FILES[name]
    original, restored = compress_and_back(tmp_path, require_shared(source), suffix)
    assert restored.equals(original)


@pytest.mark.parametrize("name", SHARED_FILES)
def test_bounded_meets_a_default_tolerance_on_every_float_column(name: str, tmp_path) -> None:
    source, suffix = SHARED_FILES[name]
    original, restored = compress_and_back(
        tmp_path, require_shared(source), suffix, "--default-tolerance", "0.1%"
    )
    assert restored.names == original.names
    bound = parse_tolerances("x=0.1%")["x"]
    for column in original.names:
        if original[column].dtype.kind == "f":
            assert not bound.violations(original[column], restored[column]).any(), column
        else:
            np.testing.assert_array_equal(restored[column], original[column])


def test_latent_mode_with_a_model_trained_on_the_atlas_jets(tmp_path: Path) -> None:
    table = read_table(require_shared(ATLAS_4D))
    columns = ["m", "pt", "phi", "eta"]
    config = TrainConfig(preset="AE_3D_50", columns=columns, epochs=2, seed=0, threads=1)
    train(table.take(np.arange(3000)), config, tmp_path / "model", progress=False)
    original, restored = compress_and_back(
        tmp_path, ATLAS_4D, ".parquet", "--model", str(tmp_path / "model")
    )
    assert restored.names == original.names and restored.n_rows == original.n_rows
    np.testing.assert_array_equal(restored["index"], original["index"])
    # What latent storage promises: the model's own reconstruction, whatever its quality.
    expected = TrainedModel.load(tmp_path / "model").reconstruct(original.matrix(columns))
    for j, column in enumerate(columns):
        np.testing.assert_allclose(restored[column], expected[:, j].astype(np.float32), rtol=1e-5)
