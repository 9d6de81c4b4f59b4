"""Fixed overhead of whole-file `.jz` files: where the bytes of small files go.

Compresses the small real ROOT files whole (lossless, every branch) and splits each `.jz` into
the header (branch catalogue), the coded column data, the JSON description of each section
(per-column entries, part lists, aliases: packed in the footer since the descriptions moved
there, counted here by their packed size) and the container's framing (section tags, lengths,
checksums, the rest of the footer), next to the input's own bytes of the same branches.

    nice .venv/bin/python benchmarks/jz_overhead.py [--out benchmarks/results/jz_overhead.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

from jetzip.codec.wholefile import _pack_json, _unpack_json, compress_source, describe_events
from jetzip.container import open_reader

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "root"
FILES = {
    "NanoAOD TTree, 200 events": ("nanoAOD_2015_CMS_Open_Data_ttbar.root", None),
    "NanoAOD TTree, Jet_* only": ("nanoAOD_2015_CMS_Open_Data_ttbar.root", "nJet,Jet_*"),
    "NanoAOD RNTuple, 10 events": (
        "cmsopendata2015_ttbar_19980_NANOAOD_RNTupleImporter_rntuple_v1-0-0-1.root",
        None,
    ),
    "muons RNTuple, 1,000 events": (
        "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root",
        None,
    ),
}


def measure(source: Path, branches: str | None, out: Path) -> dict[str, object]:
    """Compress `source` and split the `.jz` bytes by what they hold."""
    compress_source(source, out, branches=branches, skip_unsupported=True)
    info = describe_events(out)
    stream, reader = open_reader(out)
    with stream:
        descriptions = parts = n_columns = n_sections = 0
        for description, data, _size in reader.chunks():
            n_sections += 1
            n_columns += len(description.get("columns", {}))
            parts += sum(len(v) for v in data.values())
            descriptions += len(json.dumps(description, sort_keys=True, separators=(",", ":")))
    # the codec's descriptions of the sections are packed in the footer's index: counted as
    # descriptions (their packed size alone), not as footer
    codec = _unpack_json(reader.footer["index"]).get("sections", [])
    n_columns += sum(  # a stack of exact columns counts as its members
        len(section["columns"])
        + sum(len(s["members"]) for s in section.get("stacked", {}).values())
        for section in codec
    )
    descriptions += len(_pack_json(codec)) if codec else 0
    file_bytes = info["file_bytes"]
    return {
        "input_bytes": info["source"]["bytes"],
        "input_bytes_of_stored_branches": info["source"].get("stored_bytes"),
        "file_bytes": file_bytes,
        "branches": len(info["branches"]),
        "sections": n_sections,
        "columns": n_columns,
        "header_bytes": reader.header_size,
        "data_bytes": parts,
        "description_bytes": descriptions,
        "framing_and_footer_bytes": file_bytes - reader.header_size - parts - descriptions,
        "description_bytes_per_column": descriptions / n_columns if n_columns else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/jz_overhead.json")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"the real data are missing: {DATA}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, (name, branches) in FILES.items():
            results[label] = measure(DATA / name, branches, Path(tmp) / "x.jz")
    header = (
        f"{'file':<28} {'input':>8} {'same br.':>8} {'.jz':>8} {'header':>7} {'data':>7} "
        f"{'descr.':>7} {'framing':>7} {'sect.':>5} {'B/col':>5}"
    )
    print(header)
    for label, r in results.items():
        print(
            f"{label:<28} {r['input_bytes']:>8,} {r['input_bytes_of_stored_branches'] or 0:>8,} "
            f"{r['file_bytes']:>8,} {r['header_bytes']:>7,} {r['data_bytes']:>7,} "
            f"{r['description_bytes']:>7,} {r['framing_and_footer_bytes']:>7,} "
            f"{r['sections']:>5} {r['description_bytes_per_column'] or 0:>5.0f}"
        )
    record = {"machine": platform.platform(), "python": platform.python_version(), **results}
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
