"""CLI manners users of gzip / zstd / uproot expect: no clobbering without --force, `.jz`
outputs only, lossless files said to be lossless, and `info` saying what a file holds."""

from __future__ import annotations

import re

import numpy as np
import pytest

from jetzip.cli.main import main
from jetzip.container import open_reader
from jetzip.input_sizes import stored_input_bytes
from jetzip.io import write_table
from jetzip.table import Table


@pytest.fixture
def jets(tmp_path):
    rng = np.random.default_rng(3)
    n = 500
    table = Table(
        {
            "pt": rng.lognormal(10.5, 0.7, n).astype(np.float32),
            "eta": rng.uniform(-4, 4, n).astype(np.float32),
        },
        units={"pt": "MeV", "eta": ""},
    )
    path = tmp_path / "jets.parquet"
    write_table(table, path)
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_line_refusal(capsys, *argv: str) -> str:
    status, out, err = run(capsys, *argv)
    assert status != 0 and out == ""
    assert len(err.strip().splitlines()) == 1
    return err


@pytest.mark.parametrize(
    "command",
    [
        ["compress", "{jets}", "-o", "{out}.jz"],
        ["decompress", "{jz}", "-o", "{out}.parquet"],
        ["convert", "{jets}", "{out}.csv"],
        ["generate", "-n", "10", "-o", "{out}.parquet"],
    ],
)
def test_existing_output_is_refused_without_force(tmp_path, capsys, jets, command):
    jz = tmp_path / "made.jz"
    assert run(capsys, "compress", jets, "-o", jz, "--quiet")[0] == 0
    out = tmp_path / "existing"
    argv = [a.format(jets=jets, jz=jz, out=out) for a in command]
    target = tmp_path / argv[argv.index("-o") + 1 if "-o" in argv else -1]
    target.write_bytes(b"precious")
    err = one_line_refusal(capsys, *argv)
    assert "already exists; use --force to overwrite it" in err
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["jets.parquet", "made.jz", target.name]
    )


def test_force_overwrites(tmp_path, capsys, jets):
    jz = tmp_path / "jets.jz"
    jz.write_bytes(b"old")
    assert run(capsys, "compress", jets, "-o", jz, "--force", "--quiet")[0] == 0
    back = tmp_path / "back.parquet"
    back.write_bytes(b"old")
    status, out, _ = run(capsys, "decompress", jz, "-o", back, "-f")
    assert status == 0 and "wrote 500 rows" in out
    assert back.read_bytes()[:4] == b"PAR1"


@pytest.mark.parametrize("name", ["t.parquet", "t", "t.jz.tmp"])
def test_compress_refuses_an_output_that_is_not_jz(tmp_path, capsys, jets, name):
    err = one_line_refusal(capsys, "compress", jets, "-o", tmp_path / name)
    assert "compress writes .jz files: name the output" in err
    assert not (tmp_path / name).exists()


def test_lossless_summary_says_so(tmp_path, capsys, jets):
    status, out, _ = run(capsys, "compress", jets, "-o", tmp_path / "a.jz")
    assert status == 0
    assert "mode        lossless: every value is stored exactly" in out
    status, out, _ = run(capsys, "compress", jets, "-o", tmp_path / "b.jz", "--tolerance", "pt=1%")
    assert status == 0 and "mode        bounded\n" in out


def test_batch_resume_skips_complete_outputs_and_refuses_foreign_ones(tmp_path, jets):
    distributed = pytest.importorskip("distributed")
    from jetzip.batch import compress_many

    inputs = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    for path in inputs:
        path.write_bytes(jets.read_bytes())
    out = tmp_path / "out"
    with distributed.Client(processes=False, n_workers=1, dashboard_address=":0") as client:

        def statuses(force: bool = False) -> dict[str, tuple[str, str | None]]:
            summary = compress_many(inputs, out, scheduler=client, progress=False, force=force)
            return {r.name: (r.status, r.error) for r in summary.results}

        assert statuses() == {"a.parquet": ("done", None), "b.parquet": ("done", None)}
        foreign = (out / "a.jz").read_bytes()  # intact, but written from a.parquet
        (out / "b.jz").write_bytes(foreign)
        second = statuses()
        assert second["a.parquet"] == ("skipped", None)
        assert second["b.parquet"][0] == "failed"
        assert "already exists and was not written from this input; --force" in str(
            second["b.parquet"][1]
        )
        assert (out / "b.jz").read_bytes() == foreign
        assert statuses(force=True) == {"a.parquet": ("done", None), "b.parquet": ("done", None)}


@pytest.fixture(params=["TTree", "RNTuple"])
def met_tree(tmp_path, request):
    """A flat TTree or RNTuple of 1,000 events: MET_pt, MET_phi (float32), run (int32)."""
    uproot = pytest.importorskip("uproot")
    rng = np.random.default_rng(5)
    path = tmp_path / "met.root"
    data = {
        "MET_pt": rng.exponential(30, 1000).astype(np.float32),
        "MET_phi": rng.uniform(-3, 3, 1000).astype(np.float32),
        "run": np.full(1000, 7, dtype=np.int32),
    }
    with uproot.recreate(path) as f:
        if request.param == "TTree":
            f.mktree("Events", {k: v.dtype for k, v in data.items()}).extend(data)
        else:
            f["Events"] = data  # uproot writes an RNTuple
    return path


def test_whole_file_ratio_is_vs_the_input_only_when_all_of_it_is_stored(tmp_path, capsys, met_tree):
    import uproot

    from jetzip.codec.wholefile import describe_events

    whole, part = tmp_path / "whole.jz", tmp_path / "part.jz"
    status, out, _ = run(capsys, "compress", met_tree, "-o", whole, "--tolerance", "MET_pt=0.1%")
    assert status == 0
    ratio = met_tree.stat().st_size / whole.stat().st_size
    assert f"vs input file {ratio:.2f}x (the whole input is stored)" in out
    assert "source      met.root" in out and "events      1,000" in out
    assert "collection  MET: 2 branch(es)" in out
    assert re.search(r"^MET_pt .* 0\.1% \(MET_pt, --tolerance\)", out, re.M)
    assert re.search(r"^run .* exact", out, re.M)
    assert re.search(r"^branch\s+type\s+unit\s+rule\s+bytes\s+max error$", out, re.M)

    argv = ["compress", met_tree, "-o", part, "--branches", "MET_pt", "--quiet"]
    assert run(capsys, *argv)[0] == 0
    info = describe_events(part)
    branch_bytes = info["source"]["stored_bytes"]
    with uproot.open(met_tree) as f:
        if f.classnames()["Events;1"] == "TTree":
            assert branch_bytes == f["Events"]["MET_pt"].compressed_bytes
        else:  # MET_pt's compressed pages: at most its raw float32 bytes, less than all three
            assert 0 < branch_bytes <= 4 * 1000
            assert branch_bytes < describe_events(whole)["source"]["stored_bytes"]
    assert info["ratio_vs_input"] is None
    assert info["ratio_vs_stored_branches"] == pytest.approx(branch_bytes / part.stat().st_size)
    overhead = info["overhead"]
    data = sum(b["bytes"] for b in info["branches"])
    assert overhead["header"] + overhead["descriptions_and_framing"] + data == info["file_bytes"]
    status, out, _ = run(capsys, "info", part)
    assert f"vs the same branches in the input {branch_bytes / part.stat().st_size:.2f}x" in out
    assert f"({branch_bytes:,} of the input's {met_tree.stat().st_size:,} bytes)" in out
    assert "overhead    header " in out


def test_flat_info_names_source_tree_collection_units_and_rules(tmp_path, capsys, root_dir):
    jz = tmp_path / "jets.jz"
    source = root_dir / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
    argv = ["compress", source, "-o", jz, "--collection", "Jet_", "--tolerance", "pt=0.1%"]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    stream, reader = open_reader(jz)
    stream.close()
    branches = list(reader.header["meta"]["branches"].values())
    assert len(branches) == 40 and "Jet_pt" in branches
    share = stored_input_bytes(source, "Events", "TTree", branches)
    ratio = share["bytes"] / jz.stat().st_size
    same = f"vs the same branches in the input {ratio:.2f}x ({share['bytes']:,} bytes, estimated)"
    assert same in out  # estimated: this file keeps its baskets inside the TTree's key
    status, out, _ = run(capsys, "info", jz)
    assert status == 0
    assert "; tree Events, collection Jet_, 200 events" in out
    assert "vs input file n/a (one collection of the input" in out
    assert re.search(r"^pt\s+float32\s+GeV\s+bounded .*\s0\.1%\s", out, re.M)
