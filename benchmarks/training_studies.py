"""The studies' training features, measured: fine-tuned vs from scratch, sparse vs dense,
anomaly AUC of signal jets, and the fixed-point (hls4ml) residual against PyTorch.

    nice .venv/bin/python benchmarks/training_studies.py --parts finetune,sparse
    nice .venv/bin/python benchmarks/training_studies.py --parts anomaly,fpga

Short runs on purpose (this 2-core machine is shared): AE_3D_200 on (E, pt, eta, phi), batch
256, one-cycle lr 3e-3, a few tens of epochs instead of the recipe's 1200, so the figures
compare the variants at equal (small) budgets; they are not the converged quality.

* pretrain: AE_3D_200 on Pythia 8 QCD dijets (`jetzip generate`, underlying event off).
* finetune: on the ATLAS 4D jets (E derived from m, pt, eta), the pretrained model fine-tuned
  (transforms kept, and refitted) vs the same epochs from scratch.
* sparse: on ATLAS, dense vs --sparsity l1 / kl: validation loss, residual RMS, mean
  |activation| and the share of silent (|a| < 0.01) hidden activations.
* anomaly: the QCD-trained model scores held-out QCD jets against W' -> WZ and Z' -> t tbar
  jets (2 TeV) and the DarkMachines monojet Z' jets: AUC of the total and per-column scores; the
  ATLAS-trained dense and sparse models score ATLAS test jets against DarkMachines.
* fpga: the fine-tuned ATLAS model through hls4ml (C simulation, g++) at each --precision, on
  ATLAS test jets: fixed point vs PyTorch.

Each part updates its key of benchmarks/results/training_studies.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from environment import describe_environment
from jetzip.anomaly import SCORE, anomaly_scores, roc_curve
from jetzip.generate import generate_jets
from jetzip.io import read_table
from jetzip.models import TrainedModel
from jetzip.models.quality import format_rms, residual_rms
from jetzip.table import Table
from jetzip.training import make_config, train
from jetzip.training.loop import read_history

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ATLAS = DATA / "atlas_4d" / "all_jets_test_4D_100_percent.pkl"
DARKMACHINES = DATA / "darkmachines" / "monojet_Zp2000.0_DM_50.0_chan3.csv"
RESULTS = ROOT / "benchmarks" / "results" / "training_studies.json"
COLUMNS = ["E", "pt", "eta", "phi"]
PARTS = ("finetune", "sparse", "anomaly", "fpga")


def atlas_jets() -> Table:
    """The ATLAS 4D jets with E = sqrt(m^2 + (pt cosh eta)^2), as the published model used."""
    table = read_table(ATLAS)
    m, pt, eta = table["m"], table["pt"], table["eta"]
    energy = np.sqrt(np.maximum(m, 0.0) ** 2 + (pt * np.cosh(eta)) ** 2)
    return Table(
        {"E": energy, "pt": pt, "eta": eta, "phi": table["phi"]},
        units={"E": "MeV", "pt": "MeV"},
    )


def pythia(process: str, n_events: int) -> Table:
    return generate_jets(
        n_events, seed=11, process=process, mpi=False, use_cache=True, progress=False
    )


def fit(table: Table, out: Path, epochs: int, **options: Any) -> dict[str, Any]:
    """Train (AE_3D_200 recipe at `epochs`, one thread) and summarise the run."""
    config = make_config(
        None, {"columns": COLUMNS, "epochs": epochs, "threads": 1, "seed": 0, **options}
    )
    start = time.perf_counter()
    result = train(table, config, out, overwrite=True, progress=False)
    rows = read_history(out)
    return {
        "options": {k: v for k, v in options.items() if k != "init"},
        "epochs": epochs,
        "seconds": round(time.perf_counter() - start, 1),
        "val_loss_first_epoch": rows[-epochs]["val_loss"],
        "best_val_loss": result.best_val_loss,
        "val_residual_rms": result.summary["val_residual_rms"],
        "activations": result.summary["activations"],
    }


def part_finetune(work: Path, epochs: int, pretrain_epochs: int) -> dict[str, Any]:
    qcd = pythia("qcd", 4000)
    pretrained = fit(qcd, work / "pretrained", pretrain_epochs)
    atlas = atlas_jets()
    runs = {
        "from_scratch": fit(atlas, work / "scratch", epochs),
        "fine_tuned": fit(atlas, work / "tuned", epochs, init=str(work / "pretrained")),
        "fine_tuned_refit": fit(
            atlas,
            work / "tuned_refit",
            epochs,
            init=str(work / "pretrained"),
            refit_normalisation=True,
        ),
    }
    print(f"pretrained on {qcd.n_rows:,} Pythia QCD jets, {pretrain_epochs} epochs")
    print(
        f"{'ATLAS, ' + str(epochs) + ' epochs':24} {'val loss ep 1':>13} {'best val':>10}  "
        "residual RMS"
    )
    for name, run in runs.items():
        print(
            f"{name:24} {run['val_loss_first_epoch']:13.4g} {run['best_val_loss']:10.4g}  "
            f"{format_rms(run['val_residual_rms'])}"
        )
    return {"pythia_qcd_jets": qcd.n_rows, "pretrain": pretrained, "atlas": runs}


def part_sparse(work: Path, epochs: int) -> dict[str, Any]:
    atlas = atlas_jets()
    variants = {
        "dense": None,
        "l1:1e-3": "l1:1e-3",
        "l1:1e-2": "l1:1e-2",
        "kl:0.1:0.05": "kl:0.1:0.05",
    }
    runs = {}
    for name, sparsity in variants.items():
        options = {} if sparsity is None else {"sparsity": sparsity}
        runs[name] = fit(atlas, work / f"sparse_{name.replace(':', '_')}", epochs, **options)
    print(
        f"{'ATLAS, ' + str(epochs) + ' epochs':16} {'best val':>9} {'mean |a|':>9} "
        f"{'silent':>7}  residual RMS"
    )
    for name, run in runs.items():
        act = run["activations"]
        print(
            f"{name:16} {run['best_val_loss']:9.4g} {act['mean_activation']:9.3f} "
            f"{act['sparsity']:7.1%}  {format_rms(run['val_residual_rms'])}"
        )
    return runs


def _auc(model: TrainedModel, background: Table, signal: Table) -> dict[str, Any]:
    b, s = anomaly_scores(model, background), anomaly_scores(model, signal)
    return {
        "n_jets": [b.n_rows, s.n_rows],
        "auc": roc_curve(b[SCORE], s[SCORE])[2],
        "auc_per_column": {n[6:]: roc_curve(b[n], s[n])[2] for n in b.names if n != SCORE},
    }


def part_anomaly(work: Path) -> dict[str, Any]:
    qcd_model = TrainedModel.load(work / "pretrained")
    qcd = pythia("qcd", 4000)
    test = qcd.take(np.load(work / "pretrained" / "test_indices.npy"))
    darkmachines = read_table(DARKMACHINES).select(COLUMNS)
    samples = {
        "W' -> WZ (2 TeV)": pythia("wprime_wz", 600),
        "Z' -> t tbar (2 TeV)": pythia("zprime_ttbar", 600),
        "DarkMachines monojet Z'": darkmachines,
    }
    result: dict[str, Any] = {
        "qcd_model": {k: _auc(qcd_model, test, v) for k, v in samples.items()}
    }
    atlas = atlas_jets()
    result["atlas_models_vs_darkmachines"] = {}
    for name in ("dense", "l1_1e-2", "kl_0.1_0.05"):
        model_dir = work / f"sparse_{name}"
        atlas_test = atlas.take(np.load(model_dir / "test_indices.npy"))
        result["atlas_models_vs_darkmachines"][name] = _auc(
            TrainedModel.load(model_dir), atlas_test, darkmachines
        )
    print(f"{'background / signal':40} {'jets':>13}  AUC   (E, pt, eta, phi)")
    rows = [(f"Pythia QCD / {k}", v) for k, v in result["qcd_model"].items()]
    rows += [
        (f"ATLAS ({k}) / DarkMachines", v)
        for k, v in result["atlas_models_vs_darkmachines"].items()
    ]
    for label, r in rows:
        per = ", ".join(f"{v:.2f}" for v in r["auc_per_column"].values())
        print(f"{label:40} {r['n_jets'][0]:>6}/{r['n_jets'][1]:<6} {r['auc']:.3f} ({per})")
    return result


def part_fpga(work: Path, precisions: list[str], n_jets: int) -> dict[str, Any]:
    from jetzip.models.hls_export import export_hls4ml

    model = TrainedModel.load(work / "tuned")
    atlas = atlas_jets()
    test = atlas.take(np.load(work / "tuned" / "test_indices.npy")[:n_jets])
    x = test.matrix(model.columns)
    result = {}
    for precision in precisions:
        start = time.perf_counter()
        hls = export_hls4ml(model, work / "hls", precision=precision, jets=x)
        result[precision] = {
            "seconds": round(time.perf_counter() - start, 1),
            "table_size": hls.table_size,
            "n_jets": hls.n_jets,
            "latent_max_abs": hls.latent_max_abs,
            "output_max_abs": hls.output_max_abs,
            "output_rms_normalised": hls.output_rms,
            "physical_rms": hls.physical_rms,
            "multipliers": hls.multipliers,
        }
        print(
            f"{precision}, tables of {hls.table_size}: {hls.n_jets} ATLAS test jets, latent "
            f"max |diff| {hls.latent_max_abs:.3g}, output max |diff| {hls.output_max_abs:.3g} "
            "(normalised)"
        )
        for key, rms in hls.physical_rms.items():
            print(f"  {key:15} {format_rms(rms)}")
    print(f"float model on the same jets: {format_rms(residual_rms(model, x))}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="finetune,sparse", help=f"comma-separated: {PARTS}")
    parser.add_argument("--epochs", type=int, default=15, help="ATLAS epochs per variant")
    parser.add_argument("--pretrain-epochs", type=int, default=30)
    parser.add_argument("--precisions", default="ap_fixed<16,6> ap_fixed<24,10>")
    parser.add_argument("--fpga-jets", type=int, default=2000)
    parser.add_argument(
        "--work",
        default=str(Path(tempfile.gettempdir()) / "jetzip-training-studies"),
        help="where the models go (the later parts reuse the earlier parts' models)",
    )
    args = parser.parse_args()
    if not ATLAS.is_file():
        sys.exit(f"needs the shared data ({ATLAS} is absent)")
    parts = [p.strip() for p in args.parts.split(",")]
    unknown = set(parts) - set(PARTS)
    if unknown:
        sys.exit(f"unknown part(s) {sorted(unknown)}; choose from {PARTS}")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    for part in parts:
        start = time.perf_counter()
        if part == "finetune":
            value = part_finetune(work, args.epochs, args.pretrain_epochs)
        elif part == "sparse":
            value = part_sparse(work, args.epochs)
        elif part == "anomaly":
            value = part_anomaly(work)
        else:
            precisions = re.findall(r"ap_u?fixed<[^>]*>", args.precisions)
            value = part_fpga(work, precisions, args.fpga_jets)
        results[part] = {
            "result": value,
            "seconds": round(time.perf_counter() - start, 1),
            "environment": describe_environment(("jetzip", "torch", "hls4ml", "pythia8mc")),
        }
        print(f"[{part}: {results[part]['seconds']} s]\n")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
