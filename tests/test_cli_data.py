"""`jetzip info` and `jetzip convert` through the real CLI entry point."""

from __future__ import annotations

import re

import numpy as np
import pytest

from jetzip.cli.main import main
from jetzip.io import read_table, write_table
from jetzip.table import Table


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status: int, err: str, command: str, pattern: str) -> None:
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"jetzip {command}: error: ")
    assert re.search(pattern, lines[0]), lines[0]


@pytest.mark.parametrize(
    ("relative", "rows", "events"),
    [
        ("atlas_4d/all_jets_test_4D_100_percent.pkl", "27,945", None),
        ("darkmachines/monojet_Zp2000.0_DM_50.0_chan3.csv", "22,661", "6,399"),
        ("root/nanoAOD_2015_CMS_Open_Data_ttbar.root", "537", "200"),
        ("root/uproot-issue-123a.root", "1,005", "100"),
        ("root/uproot-HZZ.root", "2,773", "2,421"),
    ],
)
def test_info_on_every_shared_file(capsys, root_dir, relative, rows, events):
    status, out, err = run(capsys, "info", root_dir.parent / relative)
    assert status == 0 and err == ""
    assert re.search(rf"^rows:\s+{rows}$", out, re.M)
    if events:
        assert re.search(rf"^events:\s+{events}$", out, re.M)


def test_info_shows_columns_with_statistics_and_root_details(capsys, root_dir):
    status, out, _ = run(capsys, "info", root_dir / "uproot-issue-123a.root")
    assert status == 0
    assert re.search(r"^\s+pt\s+float32\s+MeV\s+\S+\s+\S+\s+\S+$", out, re.M)
    assert re.search(r"^tree:\s+CollectionTree$", out, re.M)
    assert "m <- AnalysisJetsAuxDyn.m" in out
    assert re.search(r"^skipped:\s+6$", out, re.M)
    assert "AnalysisJetsAuxDyn.NumTrkPt500: not a list of plain numbers" in out


def test_info_shows_the_pickle_index_and_darkmachines_options(
    capsys, atlas_4d_path, darkmachines_path
):
    status, out, _ = run(capsys, "info", atlas_4d_path)
    assert status == 0 and re.search(r"^\s+index\s+int64", out, re.M)
    status, out, _ = run(capsys, "info", darkmachines_path, "--objects", "b,g")
    assert status == 0 and re.search(r"^rows:\s+810$", out, re.M)


def test_convert_between_formats_keeps_the_table(capsys, tmp_path):
    table = Table(
        {"pt": np.array([30.5, 41.25, 52.0], np.float32), "eta": np.array([0.1, -0.2, 1.5])},
        event=[0, 0, 2],
        units={"pt": "GeV", "eta": ""},
    )
    write_table(table, tmp_path / "in.parquet")
    for target in ("out.h5", "out.root", "out.npz", "out.pkl"):
        status, out, _ = run(capsys, "convert", tmp_path / "in.parquet", tmp_path / target)
        assert status == 0 and "wrote 3 rows x 2 columns" in out
        assert read_table(tmp_path / target).equals(table)
    status, out, _ = run(capsys, "info", tmp_path / "out.h5")
    assert re.search(r"^from:\s+parquet file in.parquet", out, re.M)
    assert re.search(r"^\s+pt\s+float32\s+GeV", out, re.M)


def test_convert_refuses_nan_unless_asked_to_drop(capsys, tmp_path):
    table = Table({"pt": np.array([1.0, np.nan, 3.0, np.inf]), "eta": np.zeros(4)})
    write_table(table, tmp_path / "nan.parquet")
    status, _, err = run(capsys, "convert", tmp_path / "nan.parquet", tmp_path / "out.csv")
    assert_one_line_error(status, err, "convert", r"non-finite values .*pt: 2.*--drop-nonfinite")
    assert not (tmp_path / "out.csv").exists()
    status, out, _ = run(
        capsys, "convert", tmp_path / "nan.parquet", tmp_path / "out.csv", "--drop-nonfinite"
    )
    assert status == 0 and "2 rows with NaN/inf dropped" in out
    assert read_table(tmp_path / "out.csv")["pt"].tolist() == [1.0, 3.0]


def test_bad_inputs_end_in_one_line(capsys, tmp_path, root_dir):
    (tmp_path / "text.parquet").write_text("not parquet")
    (tmp_path / "empty.csv").write_text("pt,eta\n")
    (tmp_path / "t.txt").write_text("1\n")
    hzz = root_dir / "uproot-HZZ.root"
    cases = [
        (["info", tmp_path / "absent.root"], "no such file"),
        (["info", tmp_path / "t.txt"], r"supported: \.parquet"),
        (["info", tmp_path / "text.parquet"], "cannot read .* as parquet"),
        (["info", tmp_path / "empty.csv"], "empty"),
        (["info", hzz, "--tree", "Jets"], "no tree 'Jets' in the file; trees: events"),
        (["info", hzz, "--columns", "pt"], "missing column.*pt.*the table has: px, py"),
        (["info", hzz, "--alias", "px"], "bad alias 'px'"),
        (["info", tmp_path / "empty.csv", "--tree", "T"], "tree does not apply to csv"),
        (["convert", hzz, tmp_path / "out.txt"], "supported: "),
    ]
    for argv, pattern in cases:
        status, _, err = run(capsys, *argv)
        assert_one_line_error(status, err, argv[0], pattern)


def test_info_on_a_jz_path_is_handed_to_the_container_layer(capsys, tmp_path):
    (tmp_path / "x.jz").write_bytes(b"not a container")
    status, _, err = run(capsys, "info", tmp_path / "x.jz")
    assert status == 1 and len(err.strip().splitlines()) == 1
