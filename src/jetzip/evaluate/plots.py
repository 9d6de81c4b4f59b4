"""The figures of the report, each saved as PNG (for the HTML page) and PDF (for papers).

Every function takes data already in memory, draws with matplotlib's Agg backend in the ATLAS
style of mplhep, writes `NAME.png` and `NAME.pdf` into `out_dir` and returns the PNG path, so
the report can list them in order. Scatter plots subsample to keep drawing fast on large tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mplhep
import numpy as np
from matplotlib.axis import Axis
from matplotlib.ticker import FormatStrFormatter

from jetzip.evaluate.metrics import ANGLE, RELATIVE, base_name, core_sigma, residual_kind

STYLE = mplhep.style.ATLAS
PNG_DPI = 90
MAX_SCATTER_POINTS = 3000
MAX_CORNER_COLUMNS = 8
PROFILE_VARIABLES = ("pt", "eta", "m")
_RNG_SEED = 20260101


def axis_label(name: str, unit: str) -> str:
    """`pt [MeV]`, or just the name for dimensionless variables."""
    return f"{name} [{unit}]" if unit else name


def residual_label(name: str) -> str:
    """Axis label saying which residual convention the column uses."""
    kind = residual_kind(name)
    if kind == RELATIVE:
        return f"({name}' - {name}) / {name}"
    if kind == ANGLE:
        return f"{name}' - {name} (wrapped) [rad]"
    return f"{name}' - {name}"


def save_figure(fig: plt.Figure, out_dir: Path, name: str) -> Path:
    """Write NAME.png and NAME.pdf, close the figure, return the PNG path."""
    png = out_dir / f"{name}.png"
    fig.savefig(png, dpi=PNG_DPI)
    fig.savefig(out_dir / f"{name}.pdf")
    plt.close(fig)
    return png


def compact_ticks(*axes: Axis) -> None:
    """Tick labels like 0.002 or 1e-06 instead of a separate x10^-3 multiplier, which the ATLAS
    style puts where it collides with the axis label."""
    for axis in axes:
        axis.set_major_formatter(FormatStrFormatter("%g"))


def _subsample(n: int, limit: int = MAX_SCATTER_POINTS) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(_RNG_SEED).choice(n, limit, replace=False))


def _safe_name(column: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in column)


def _use_log_x(values: np.ndarray, column: str) -> bool:
    positive = values[values > 0]
    return (
        residual_kind(column) == RELATIVE
        and positive.size > 0.99 * values.size
        and np.percentile(positive, 99.9) > 10 * np.percentile(positive, 0.1)
    )


def _value_bins(values: np.ndarray, column: str, n_bins: int = 60) -> tuple[np.ndarray, bool]:
    finite = values[np.isfinite(values)]
    if _use_log_x(finite, column):
        lo, hi = np.percentile(finite[finite > 0], [0.05, 99.95])
        return np.geomspace(lo, hi, n_bins + 1), True
    lo, hi = np.percentile(finite, [0.05, 99.95]) if finite.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, n_bins + 1), False


def plot_distribution(
    column: str, original: np.ndarray, reconstructed: np.ndarray, unit: str, out_dir: Path
) -> Path:
    """Original vs reconstructed histogram with a reconstructed/original ratio panel."""
    bins, log_x = _value_bins(np.asarray(original, dtype=np.float64), column)
    with plt.style.context(STYLE):
        fig, (top, bottom) = plt.subplots(
            2, 1, figsize=(8, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0}
        )
        counts_orig, _ = np.histogram(original, bins)
        counts_reco, _ = np.histogram(reconstructed, bins)
        mplhep.histplot(counts_orig, bins, ax=top, label="original", color="black")
        mplhep.histplot(counts_reco, bins, ax=top, label="reconstructed", color="tab:red", ls="--")
        top.set_ylabel("jets / bin")
        if counts_orig.max(initial=0) > 100 * max(1.0, float(np.median(counts_orig))):
            top.set_yscale("log")
            top.set_ylim(bottom=0.5)
        top.legend()
        filled = (counts_orig > 0) & (counts_reco > 0)
        ratio = counts_reco[filled] / counts_orig[filled]
        error = ratio * np.sqrt(1 / counts_reco[filled] + 1 / counts_orig[filled])
        centres = np.sqrt(bins[:-1] * bins[1:]) if log_x else (bins[:-1] + bins[1:]) / 2
        bottom.errorbar(centres[filled], ratio, yerr=error, fmt="o", ms=3, color="tab:red")
        bottom.axhline(1.0, color="black", lw=1)
        bottom.set_ylim(0.8, 1.2)
        bottom.set_ylabel("reco / orig")
        bottom.set_xlabel(axis_label(column, unit))
        if log_x:
            bottom.set_xscale("log")
        return save_figure(fig, out_dir, f"distribution_{_safe_name(column)}")


def plot_residual_histogram(
    column: str, r: np.ndarray, stats: Mapping[str, Any], out_dir: Path
) -> Path:
    """Residual histogram with mean, RMS, core sigma and tails in the legend."""
    r = r[np.isfinite(r)]
    half_range = 1.2 * stats.get("p99_abs", 0.0) or 1.0
    bins = np.linspace(-half_range, half_range, 81)
    with plt.style.context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 6))
        counts, _ = np.histogram(np.clip(r, bins[0], bins[-1]), bins)
        label = (
            f"mean {stats['mean']:.3g}\nRMS {stats['rms']:.3g}\n"
            f"core $\\sigma$ {stats['core_sigma']:.3g}\n"
            f"68% half-width {stats['half_width_68']:.3g}\n"
            f"max |r| {stats['max_abs']:.3g}\nn = {stats['n']}"
        )
        mplhep.histplot(
            counts, bins, ax=ax, label=label, color="tab:blue", histtype="fill", alpha=0.6
        )
        sigma = stats["core_sigma"]
        if sigma > 0:
            x = np.linspace(bins[0], bins[-1], 400)
            width = bins[1] - bins[0]
            gauss = (
                r.size * width / (sigma * math.sqrt(2 * math.pi)) * np.exp(-0.5 * (x / sigma) ** 2)
            )
            ax.plot(x, gauss, color="black", lw=1, ls=":", label="Gaussian, core $\\sigma$")
        ax.set_xlabel(residual_label(column))
        compact_ticks(ax.xaxis)
        ax.set_ylabel("jets / bin (overflow in edge bins)")
        ax.legend(fontsize="small", loc="upper right")
        return save_figure(fig, out_dir, f"residual_{_safe_name(column)}")


def plot_residual_corner(
    names: Sequence[str],
    r: np.ndarray,
    correlation: Sequence[Sequence[float | None]],
    out_dir: Path,
) -> Path:
    """Corner plot of residual pairs, backgrounds coloured by correlation, outliers as points.

    Diagonal: residual histograms. Below: 2D histogram of the core (both residuals within 1
    sigma) plus points for the rows outside it. Above: the correlation coefficient. At most
    MAX_CORNER_COLUMNS columns (the first ones) to keep it readable.
    """
    k = min(len(names), MAX_CORNER_COLUMNS)
    r = r[:, :k]
    sigmas = np.array([core_sigma(r[np.isfinite(r[:, j]), j]) or 1.0 for j in range(k)])
    cmap = plt.get_cmap("RdBu_r")
    with plt.style.context(STYLE):
        fig, axes = plt.subplots(k, k, figsize=(2.4 * k + 1, 2.4 * k + 1), squeeze=False)
        for i in range(k):
            for j in range(k):
                ax = axes[i, j]
                ax.tick_params(labelsize=7)
                ax.minorticks_off()  # dozens of small panels: minor ticks cost most drawing time
                compact_ticks(ax.xaxis, ax.yaxis)
                limit_x = 4 * sigmas[j]
                if i == j:
                    values = r[np.isfinite(r[:, j]), j]
                    ax.hist(np.clip(values, -limit_x, limit_x), bins=40, color="tab:blue")
                    ax.set_xlim(-limit_x, limit_x)
                    ax.set_yticks([])
                    continue
                rho = correlation[i][j]
                if j > i:
                    ax.set_facecolor(cmap(0.5 + 0.5 * rho) if rho is not None else "white")
                    ax.text(
                        0.5,
                        0.5,
                        "n/a" if rho is None else f"{rho:+.2f}",
                        ha="center",
                        va="center",
                        transform=ax.transAxes,
                        fontsize=12,
                    )
                    ax.set_xticks([])
                    ax.set_yticks([])
                    continue
                ax.set_facecolor(cmap(0.5 + 0.5 * rho, alpha=0.5) if rho is not None else "white")
                both = np.isfinite(r[:, i]) & np.isfinite(r[:, j])
                xs, ys = r[both, j], r[both, i]
                core = (np.abs(xs) <= sigmas[j]) & (np.abs(ys) <= sigmas[i])
                ax.hist2d(
                    xs[core],
                    ys[core],
                    bins=20,
                    range=[[-sigmas[j], sigmas[j]], [-sigmas[i], sigmas[i]]],
                    cmin=1,
                    cmap="viridis",
                )
                outliers = np.flatnonzero(~core)
                shown = outliers[_subsample(outliers.size)]
                ax.plot(
                    xs[shown], ys[shown], ".", ms=1.5, color="black", alpha=0.5, rasterized=True
                )
                ax.set_xlim(-limit_x, limit_x)
                ax.set_ylim(-4 * sigmas[i], 4 * sigmas[i])
        for j in range(k):
            axes[-1, j].set_xlabel(residual_label(names[j]), fontsize=8)
            if j > 0:
                axes[j, 0].set_ylabel(residual_label(names[j]), fontsize=8)
        fig.tight_layout(h_pad=1.5, w_pad=0.5)
        return save_figure(fig, out_dir, "residual_corner")


def profile_columns(names: Sequence[str]) -> list[str]:
    """The columns to bin residuals in: those whose physics name is pt, eta or m."""
    return [n for n in names if base_name(n) in PROFILE_VARIABLES]


def plot_residual_profile(
    bin_column: str,
    bin_values: np.ndarray,
    names: Sequence[str],
    r: np.ndarray,
    unit: str,
    out_dir: Path,
    n_bins: int = 20,
) -> Path:
    """Mean and 16-84 % band of every residual in equal-population bins of `bin_column`."""
    x = np.asarray(bin_values, dtype=np.float64)
    edges = np.unique(np.nanpercentile(x, np.linspace(0, 100, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    centres = np.array([np.median(x[which == b]) for b in range(len(edges) - 1)])
    k = len(names)
    columns = min(k, 3)
    rows = math.ceil(k / columns)
    with plt.style.context(STYLE):
        fig, axes = plt.subplots(rows, columns, figsize=(5.5 * columns, 4.2 * rows), squeeze=False)
        for idx, name in enumerate(names):
            ax = axes[idx // columns, idx % columns]
            mean, low, high = (np.full(centres.size, np.nan) for _ in range(3))
            for b in range(centres.size):
                values = r[(which == b) & np.isfinite(r[:, idx]), idx]
                if values.size:
                    mean[b] = values.mean()
                    low[b], high[b] = np.percentile(values, [16, 84])
            ax.fill_between(centres, low, high, color="tab:blue", alpha=0.3, label="16-84 %")
            ax.plot(centres, mean, "o-", color="tab:blue", ms=3, label="mean")
            ax.axhline(0, color="black", lw=0.8)
            ax.set_xlabel(axis_label(bin_column, unit), fontsize=10)
            ax.set_ylabel(residual_label(name), fontsize=10)
            compact_ticks(ax.yaxis)
            ax.tick_params(labelsize=8)
            ax.minorticks_off()
            if _use_log_x(x, bin_column):
                ax.set_xscale("log")
            if idx == 0:
                ax.legend(fontsize=8)
        for idx in range(k, rows * columns):
            axes[idx // columns, idx % columns].set_visible(False)
        fig.tight_layout()
        return save_figure(fig, out_dir, f"profile_vs_{_safe_name(bin_column)}")


def plot_loss_curves(history_csv: Path, out_dir: Path) -> Path:
    """Training and validation loss per epoch (log scale) from MODEL_DIR/history.csv."""
    import pandas as pd

    history = pd.read_csv(history_csv)
    with plt.style.context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 6))
        ax.plot(history["epoch"], history["train_loss"], label="training")
        ax.plot(history["epoch"], history["val_loss"], label="validation")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (normalised units)")
        ax.legend()
        return save_figure(fig, out_dir, "loss_curves")


def plot_latent_distributions(
    latent: np.ndarray, out_dir: Path, name: str = "latent_distributions", what: str = "latent"
) -> Path:
    """One histogram per latent dimension."""
    k = latent.shape[1]
    with plt.style.context(STYLE):
        fig, axes = plt.subplots(1, k, figsize=(4.5 * k, 4.2), squeeze=False)
        for j in range(k):
            ax = axes[0, j]
            ax.hist(latent[:, j], bins=60, color="tab:green")
            ax.set_xlabel(f"{what} {j}", fontsize=10)
            ax.tick_params(labelsize=8)
        axes[0, 0].set_ylabel("jets / bin")
        fig.tight_layout()
        return save_figure(fig, out_dir, name)


def plot_latent_scatter(latent: np.ndarray, out_dir: Path) -> Path:
    """Pairwise scatter of latent dimensions (subsampled)."""
    k = latent.shape[1]
    shown = latent[_subsample(latent.shape[0])]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)] or [(0, 0)]
    columns = min(len(pairs), 3)
    rows = math.ceil(len(pairs) / columns)
    with plt.style.context(STYLE):
        fig, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 4.2 * rows), squeeze=False)
        for idx, (i, j) in enumerate(pairs):
            ax = axes[idx // columns, idx % columns]
            ax.plot(shown[:, i], shown[:, j], ".", ms=2, alpha=0.4)
            ax.set_xlabel(f"latent {i}", fontsize=10)
            ax.set_ylabel(f"latent {j}", fontsize=10)
            ax.tick_params(labelsize=8)
        for idx in range(len(pairs), rows * columns):
            axes[idx // columns, idx % columns].set_visible(False)
        fig.tight_layout()
        return save_figure(fig, out_dir, "latent_scatter")


def plot_compression_summary(compression: Mapping[str, Any], n_rows: int, out_dir: Path) -> Path:
    """Bytes per jet per column and per part of the .jz file; the dashed line is what raw
    float32 storage of the same values would take per jet."""
    groups = [
        ("per column", compression.get("column_bytes") or {}),
        ("per part", compression.get("parts_bytes") or {}),
    ]
    groups = [(title, data) for title, data in groups if data] or [
        ("whole file", {"file": compression["file_bytes"]})
    ]
    n = max(n_rows, 1)
    with plt.style.context(STYLE):
        fig, axes = plt.subplots(1, len(groups), figsize=(7 * len(groups), 5.5), squeeze=False)
        for ax, (title, data) in zip(axes[0], groups, strict=True):
            labels = list(data)
            values = [data[label] / n for label in labels]
            ax.barh(labels, values, color="tab:purple")
            for y, v in enumerate(values):
                ax.text(v, y, f" {v:.3g}", va="center", fontsize=9)
            raw = compression.get("raw_float32_bytes_per_jet")
            if raw:
                ax.axvline(raw, color="black", ls="--", lw=1, label=f"raw float32: {raw:.3g}")
                ax.legend(fontsize=9, loc="lower right")
            ax.set_xlabel("bytes / jet")
            ax.set_title(title, fontsize=12)
            ax.tick_params(labelsize=9)
        fig.tight_layout()
        return save_figure(fig, out_dir, "compression_summary")
