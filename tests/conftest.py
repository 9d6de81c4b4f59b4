"""Shared fixtures: where the real data live, and a skip when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ATLAS_4D = SHARED_DATA / "atlas_4d" / "all_jets_test_4D_100_percent.pkl"
DARKMACHINES = SHARED_DATA / "darkmachines" / "monojet_Zp2000.0_DM_50.0_chan3.csv"
ROOT_DIR = SHARED_DATA / "root"


def require_shared(path: Path) -> Path:
    """Return `path`, or skip the test with a reason when the shared data are absent."""
    if not path.exists():
        pytest.skip(f"real data not available: {path} is missing (it lives in ../shared/data)")
    return path


@pytest.fixture
def atlas_4d_path() -> Path:
    return require_shared(ATLAS_4D)


@pytest.fixture
def darkmachines_path() -> Path:
    return require_shared(DARKMACHINES)


@pytest.fixture
def root_dir() -> Path:
    return require_shared(ROOT_DIR)


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """Caches (exported ONNX graphs, generated jets) go to a directory of the test session's
    own, never to the user's ~/.cache/jetzip."""
    patch = pytest.MonkeyPatch()
    patch.setenv("JETZIP_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    patch.undo()
