"""`jetzip compress`, `decompress` and `info FILE.jz` end to end, and their one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from jetzip.cli.main import main
from jetzip.codec import parse_tolerances
from jetzip.io import read_table, write_table
from jetzip.table import Table

TOLERANCE = "pt=0.1%,m=0.1%,eta=0.001,phi=0.001"


@pytest.fixture
def parquet_jets(tmp_path):
    rng = np.random.default_rng(7)
    n = 3000
    pt = rng.lognormal(10.5, 0.7, n)
    table = Table(
        {
            "m": (pt * rng.uniform(0.02, 0.3, n)).astype(np.float32),
            "pt": pt.astype(np.float32),
            "eta": rng.uniform(-4, 4, n).astype(np.float32),
            "phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
            "n_tracks": rng.integers(0, 40, n).astype(np.int64),
        },
        event=np.arange(n) // 3,
    )
    path = tmp_path / "jets.parquet"
    write_table(table, path)
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_bounded_round_trip_through_files(tmp_path, capsys, parquet_jets):
    jz, out = tmp_path / "jets.jz", tmp_path / "back.parquet"
    status, stdout, _ = run(
        capsys,
        "compress",
        str(parquet_jets),
        "-o",
        str(jz),
        "--tolerance",
        TOLERANCE,
        "--chunk-rows",
        "1000",
    )
    assert status == 0
    assert "mode        bounded" in stdout and "3 chunk(s)" in stdout and "vs input file" in stdout
    status, stdout, _ = run(capsys, "decompress", str(jz), "-o", str(out))
    assert status == 0 and "3,000 rows" in stdout
    original, restored = read_table(parquet_jets), read_table(out)
    assert restored.names == original.names
    np.testing.assert_array_equal(restored.event, original.event)
    np.testing.assert_array_equal(restored["n_tracks"], original["n_tracks"])
    for name, tol in parse_tolerances(TOLERANCE).items():
        assert restored[name].dtype == original[name].dtype
        assert not tol.violations(original[name], restored[name]).any()


def test_lossless_to_pickle_and_info(tmp_path, capsys, parquet_jets):
    jz, out = tmp_path / "jets.jz", tmp_path / "back.pkl"
    assert (
        run(
            capsys, "compress", str(parquet_jets), "-o", str(jz), "--chunk-rows", "1000", "--quiet"
        )[0]
        == 0
    )
    status, stdout, _ = run(capsys, "info", str(jz))
    assert status == 0
    assert "mode        lossless" in stdout and "3 chunk(s)" in stdout and "(event)" in stdout
    assert run(capsys, "decompress", str(jz), "-o", str(out))[0] == 0
    assert read_table(out).equals(read_table(parquet_jets))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tolerance", "pt=0%"], "positive"),
        (["--tolerance", "energy=1%"], "energy"),
        (["--tolerance", "pt~1"], "malformed"),
        (["--mode", "latent"], "needs a model"),
        (["--model", "no_such_dir"], "not a jetzip model directory"),
    ],
)
def test_bad_options_give_one_line_and_no_file(tmp_path, capsys, parquet_jets, extra, message):
    jz = tmp_path / "x.jz"
    status, _, stderr = run(capsys, "compress", str(parquet_jets), "-o", str(jz), *extra)
    assert status == 1
    assert (
        stderr.count("\n") == 1
        and message in stderr
        and stderr.startswith("jetzip compress: error:")
    )
    assert not jz.exists()


def test_corrupt_file_gives_one_line(tmp_path, capsys, parquet_jets):
    jz = tmp_path / "x.jz"
    run(capsys, "compress", str(parquet_jets), "-o", str(jz), "--quiet")
    data = bytearray(jz.read_bytes())
    data[len(data) // 2] ^= 0x10
    jz.write_bytes(bytes(data))
    for command in (["decompress", str(jz), "-o", str(tmp_path / "y.parquet")], ["info", str(jz)]):
        status, _, stderr = run(capsys, *command)
        assert status == 1 and stderr.count("\n") == 1 and "checksum" in stderr
    assert not (tmp_path / "y.parquet").exists()


def test_nonfinite_input_is_refused_with_counts(tmp_path, capsys):
    table = Table({"pt": np.array([1.0, np.nan, 3.0, np.inf]), "eta": np.zeros(4)})
    source = tmp_path / "bad.parquet"
    write_table(table, source)
    jz = tmp_path / "bad.jz"
    status, _, stderr = run(capsys, "compress", str(source), "-o", str(jz), "--tolerance", "pt=1%")
    assert status == 1 and "pt: 2" in stderr and not jz.exists()
    args = [
        "compress",
        str(source),
        "-o",
        str(jz),
        "--tolerance",
        "pt=1%",
        "--allow-nonfinite",
        "--quiet",
    ]
    assert run(capsys, *args)[0] == 0
    out = tmp_path / "back.parquet"
    assert run(capsys, "decompress", str(jz), "-o", str(out))[0] == 0
    restored = read_table(out)["pt"]
    assert np.isnan(restored[1]) and restored[3] == np.inf
    assert not parse_tolerances("pt=1%")["pt"].violations(table["pt"], restored).any()


def test_atlas_file_round_trip(tmp_path, capsys, atlas_4d_path):
    jz, out = tmp_path / "atlas.jz", tmp_path / "atlas.pkl"
    args = ["compress", str(atlas_4d_path), "-o", str(jz), "--tolerance", TOLERANCE, "--quiet"]
    assert run(capsys, *args)[0] == 0
    assert run(capsys, "decompress", str(jz), "-o", str(out))[0] == 0
    original, restored = read_table(atlas_4d_path), read_table(out)
    assert restored.names == original.names
    for name, tol in parse_tolerances(TOLERANCE).items():
        assert not tol.violations(original[name], restored[name]).any()


def test_thread_count_does_not_change_the_file(parquet_jets, tmp_path, capsys):
    files = []
    for threads in ("1", "2"):
        jz = tmp_path / f"t{threads}.jz"
        argv = ["compress", str(parquet_jets), "-o", str(jz), "--tolerance", TOLERANCE]
        assert run(capsys, *argv, "--threads", threads, "--quiet")[0] == 0
        files.append(jz.read_bytes())
    assert files[0] == files[1]
    back = ["decompress", str(tmp_path / "t1.jz"), "-o", str(tmp_path / "back.parquet")]
    assert run(capsys, *back, "--threads", "2")[0] == 0
    bad = ["compress", str(parquet_jets), "-o", str(tmp_path / "x.jz"), "--threads", "0"]
    status, _, err = run(capsys, *bad)
    assert status == 1 and "threads must be positive" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.jz").exists()
