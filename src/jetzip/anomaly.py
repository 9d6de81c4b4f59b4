"""Autoencoders as anomaly detectors: per-jet reconstruction error, and how well it separates
two samples (score distributions, ROC curve, AUC).

The score lives in the network's normalised space, where every column has unit spread on the
training data, so that columns with different units weigh alike: per column the squared error
(x_norm - AE(x_norm))^2, and `score` = their mean (the per-jet MSE the network was trained to
make small on background jets).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jetzip.errors import InputError
from jetzip.fileutil import atomic_output
from jetzip.models.trained import TrainedModel, single_thread
from jetzip.table import Table

#: Rows per forward pass.
_CHUNK = 65536
SCORE = "score"


def model_matrix(model: TrainedModel, table: Table) -> np.ndarray:
    """The model's columns of `table` (refusing missing columns, other units and NaN/inf)."""
    missing = [c for c in model.columns if c not in table.names]
    if missing:
        raise InputError(f"the data lack the model's column(s) {', '.join(missing)}")
    for column, unit in model.units.items():
        theirs = table.units.get(column, "")
        if unit and theirs and theirs != unit:
            raise InputError(f"column {column} is in {theirs}, the model was trained on {unit}")
    table.select(model.columns).check_usable()
    return table.matrix(model.columns)


def anomaly_scores(model: TrainedModel, table: Table) -> Table:
    """One row per jet: `score_<column>` (squared error in normalised space) per model column
    and `score` (their mean); the table's event index is kept."""
    scaled = model.normaliser.transform(model_matrix(model, table)).astype(np.float32)
    errors = np.empty(scaled.shape, dtype=np.float64)
    with torch.no_grad(), single_thread():
        for start in range(0, len(scaled), _CHUNK):
            x = torch.from_numpy(scaled[start : start + _CHUNK])
            out = model.network.decode(model.network.encode(x))
            errors[start : start + len(x)] = ((out - x) ** 2).double().numpy()
    columns = {f"score_{c}": errors[:, j] for j, c in enumerate(model.columns)}
    columns[SCORE] = errors.mean(axis=1)
    return Table(columns, event=table.event)


def roc_curve(background: np.ndarray, signal: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """False- and true-positive rates for every threshold on the score (higher = more
    signal-like), from (0, 0) to (1, 1), and the area under the curve (ties count half)."""
    background, signal = np.asarray(background, float), np.asarray(signal, float)
    if background.size == 0 or signal.size == 0:
        raise InputError("a ROC curve needs jets in both samples")
    scores = np.concatenate([background, signal])
    is_signal = np.concatenate([np.zeros(background.size), np.ones(signal.size)])
    order = np.argsort(-scores, kind="stable")
    scores, is_signal = scores[order], is_signal[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tp = np.cumsum(is_signal)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    tpr = np.r_[0.0, tp / signal.size]
    fpr = np.r_[0.0, fp / background.size]
    return fpr, tpr, float(np.trapezoid(tpr, fpr))


def plot_comparison(
    background: Table,
    signal: Table,
    out_dir: Path,
    labels: tuple[str, str],
    fpr: np.ndarray,
    tpr: np.ndarray,
    auc: float,
) -> list[Path]:
    """score_distributions.png (every score, both samples, normalised) and roc.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ROOT)
    names = background.names
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 4.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        values = np.concatenate([background[name], signal[name]])
        positive = values[values > 0]
        # from the 0.5th percentile: float32 rounding leaves a few scores near 1e-12
        low = max(float(np.percentile(positive, 0.5)) if positive.size else 1e-12, 1e-12)
        edges = np.geomspace(low, max(float(values.max()), low * 10), 60)
        for sample, label in zip((background, signal), labels, strict=True):
            counts, _ = np.histogram(np.clip(sample[name], low, None), edges, density=True)
            mplhep.histplot(counts, edges, ax=ax, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(name, fontsize=14)
    axes[0, 0].set_ylabel("density", fontsize=14)
    axes[0, 0].legend(fontsize=11)
    fig.tight_layout()
    paths = [out_dir / "score_distributions.png"]
    fig.savefig(paths[0], dpi=90)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot(fpr, tpr, label=f"AUC = {auc:.3f}")
    ax.plot([0, 1], [0, 1], ls=":", color="grey", label="random")
    ax.set_xlabel(f"false-positive rate ({labels[0]})", fontsize=13)
    ax.set_ylabel(f"true-positive rate ({labels[1]})", fontsize=13)
    ax.legend(fontsize=12)
    fig.tight_layout()
    paths.append(out_dir / "roc.png")
    fig.savefig(paths[1], dpi=90)
    plt.close(fig)
    return paths


def compare_samples(
    model: TrainedModel,
    background: Table,
    signal: Table,
    out_dir: str | os.PathLike[str],
    labels: tuple[str, str] = ("background", "signal"),
) -> dict[str, Any]:
    """Score both samples, write anomaly.json, score_distributions.png and roc.png to
    `out_dir` (replaced atomically) and return the numbers: AUC of the total score and of
    each column's score, jets per sample, median scores."""
    b_scores, s_scores = anomaly_scores(model, background), anomaly_scores(model, signal)
    fpr, tpr, auc = roc_curve(b_scores[SCORE], s_scores[SCORE])
    result: dict[str, Any] = {
        "labels": list(labels),
        "n_jets": [b_scores.n_rows, s_scores.n_rows],
        "auc": auc,
        "auc_per_column": {
            name: roc_curve(b_scores[name], s_scores[name])[2]
            for name in b_scores.names
            if name != SCORE
        },
        "median_score": [float(np.median(b_scores[SCORE])), float(np.median(s_scores[SCORE]))],
    }
    with atomic_output(Path(out_dir), directory=True) as tmp:
        plot_comparison(b_scores, s_scores, tmp, labels, fpr, tpr, auc)
        (tmp / "anomaly.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
