"""REPORT_DIR: metrics.json, every plot as PNG + PDF, and one self-contained index.html.

The page embeds the PNGs as base64 data URIs, so it can be mailed or opened from anywhere
without a server; the PDFs sit next to it in `plots/` for papers. The directory is written
through `atomic_output`: an interrupted run leaves the previous report (or nothing), never a
half-written one.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from jetzip.evaluate import plots
from jetzip.evaluate.metrics import residual_matrix
from jetzip.fileutil import atomic_output
from jetzip.table import Table

PLOT_SUBDIR = "plots"
#: Rows encoded for the latent-space plots (enough for smooth histograms, quick to encode).
MAX_LATENT_ROWS = 20_000

_SUMMARY_KEYS = (
    "mean", "rms", "std", "half_width_68", "core_sigma", "p99_abs", "max_abs",
    "average_abs_error", "recovered_pct",
)  # fmt: skip
SUMMARY_HEADER = (
    "variable", "residual", "mean", "RMS", "std", "68% hw", "core σ", "p99 |r|", "max |r|",
    "avg |r|", "% recov.", "excluded",
)  # fmt: skip


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int | np.integer):
        return str(int(value))
    return f"{value:.3g}"


def exact_columns(metrics: Mapping[str, Any]) -> list[str]:
    """Columns whose every value came back identical."""
    return [
        name
        for name, s in metrics["per_column"].items()
        if s.get("max_abs") == 0 and s["n_excluded"] == 0
    ]


def summary_rows(metrics: Mapping[str, Any]) -> list[list[str]]:
    """One row per column: the residual statistics of the summary table."""
    rows = []
    for name in metrics["columns"]:
        s = metrics["per_column"][name]
        values = [_number(s.get(key)) for key in _SUMMARY_KEYS]
        rows.append([name, s["kind"], *values, str(s["n_excluded"])])
    return rows


def format_summary_table(metrics: Mapping[str, Any]) -> str:
    """The summary as aligned plain text for the terminal."""
    rows = [list(SUMMARY_HEADER), *summary_rows(metrics)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(SUMMARY_HEADER))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.append(
        f"{metrics['recovered_pct_all']:.2f} % of rows have every residual within "
        f"{metrics['recovered_within']:g}"
    )
    for name, t in (metrics.get("tolerances") or {}).items():
        lines.append(
            f"tolerance {name}={t['tolerance']}: {t['violations']} violations, worst |error| "
            f"{t['worst_abs_error']:.3g} ({t['worst_ratio']:.3g} of the bound)"
        )
    model = metrics.get("model")
    if model:
        lines.append(f"MSE in the model's normalised units: {model['normalised_mse']['mse']:.4g}")
    compression = metrics.get("compression")
    if compression:
        per_jet = compression["bytes_per_jet"]
        without_model = compression["bytes_per_jet_without_model"]
        ratio = _number(compression["ratio_vs_raw_float32"])
        lines.append(
            f"{per_jet:.3f} bytes/jet ({without_model:.3f} without the model), "
            f"ratio vs raw float32 {ratio}"
        )
    return "\n".join(lines)


def jsonable(value: Any) -> Any:
    """Nested metrics with numpy scalars made plain and non-finite floats made null."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------- plots
PlotTask = tuple[str, Callable[[], Path]]


def plot_tasks(
    out_dir: Path,
    original: Table,
    reconstructed: Table,
    metrics: Mapping[str, Any],
    *,
    model: Any = None,
    model_dir: str | Path | None = None,
) -> list[PlotTask]:
    """Every plot the report shows, as (section, draw-function) pairs, in page order.

    Residual plots leave out columns reproduced exactly (e.g. a lossless jet index), whose
    residuals are all zero, and columns with no defined residual (every x <= 0).
    """
    names = list(metrics["columns"])
    units = {n: original.units.get(n, "") for n in names}
    lossy = [
        j
        for j, n in enumerate(names)
        if n not in exact_columns(metrics) and metrics["per_column"][n]["n"] > 0
    ]
    lossy_names = [names[j] for j in lossy]
    r = residual_matrix(original, reconstructed, lossy_names)
    tasks: list[PlotTask] = []
    # A row identifier kept from the source (the ATLAS pickles' jet id) is no physics variable.
    identifier = original.meta.get("index_column")
    for name in names:
        if name == identifier:
            continue
        draw = partial(plots.plot_distribution, name, original[name], reconstructed[name])
        tasks.append(("Distributions", partial(draw, units[name], out_dir)))
    for j, name in enumerate(lossy_names):
        stats = metrics["per_column"][name]
        draw = partial(plots.plot_residual_histogram, name, r[:, j], stats, out_dir)
        tasks.append(("Residuals", draw))
    if len(lossy) > 1:
        full = metrics["residual_correlation"]
        correlation = [[full[i][j] for j in lossy] for i in lossy]
        draw = partial(plots.plot_residual_corner, lossy_names, r, correlation, out_dir)
        tasks.append(("Residual correlations", draw))
    for b in plots.profile_columns(names) if lossy else []:
        draw = partial(
            plots.plot_residual_profile, b, original[b], lossy_names, r, units[b], out_dir
        )
        tasks.append(("Where the compression is worst", draw))
    if model is not None:
        tasks.extend(("Model", draw) for draw in _model_plots(model, original, model_dir, out_dir))
    if "compression" in metrics:
        compression = metrics["compression"]
        draw = partial(plots.plot_compression_summary, compression, original.n_rows, out_dir)
        tasks.append(("Compression", draw))
    return tasks


def _model_plots(
    model: Any, original: Table, model_dir: str | Path | None, out_dir: Path
) -> list[Callable[[], Path]]:
    """Loss curves (from MODEL_DIR/history.csv), latent distributions and scatter, VAE spread."""
    draws: list[Callable[[], Path]] = []
    history = Path(model_dir) / "history.csv" if model_dir is not None else None
    if history is not None and history.is_file():
        draws.append(partial(plots.plot_loss_curves, history, out_dir))
    x = original.matrix(list(model.columns))[:MAX_LATENT_ROWS]
    latent = model.encode(x)
    draws.append(partial(plots.plot_latent_distributions, latent, out_dir))
    if latent.shape[1] > 1:
        draws.append(partial(plots.plot_latent_scatter, latent, out_dir))
    if model.spec.get("kind") == "vae":
        mean, log_variance = (np.asarray(a) for a in model.encode_distribution(x))
        draws.append(
            partial(plots.plot_latent_distributions, mean, out_dir, "vae_latent_mean", "mean")
        )
        draws.append(
            partial(
                plots.plot_latent_distributions,
                np.exp(log_variance),
                out_dir,
                "vae_latent_variance",
                "variance",
            )
        )
    return draws


# ---------------------------------------------------------------------- HTML
_CSS = """
body { font-family: sans-serif; max-width: 1150px; margin: 1em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 3px 7px; text-align: right; }
th { background: #eef; } td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; margin: 0.4em; vertical-align: top; }
figure img { max-width: 540px; border: 1px solid #ddd; }
figure.wide img { max-width: 1100px; }
code, pre { background: #f4f4f4; padding: 2px 4px; white-space: pre-wrap; }
.bad { color: #b00; font-weight: bold; } .good { color: #070; }
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _key_values(data: Mapping[str, Any]) -> str:
    rows = [(k, _number(v) if isinstance(v, int | float) else v) for k, v in data.items()
            if not isinstance(v, Mapping | list)]  # fmt: skip
    return _table(("quantity", "value"), rows)


def _residual_section(metrics: Mapping[str, Any]) -> str:
    # Columns reproduced exactly have no residual correlation: leave them out of the matrix.
    exact = set(exact_columns(metrics))
    shown = [i for i, name in enumerate(metrics["columns"]) if name not in exact]
    names = [metrics["columns"][i] for i in shown]
    full = metrics["residual_correlation"]
    correlation = [[names[k], *(_number(full[i][j]) for j in shown)] for k, i in enumerate(shown)]
    return (
        "<h2>Summary</h2>"
        f"<p>{metrics['n_rows']} rows. Residuals: relative (x'-x)/x for scale variables (rows "
        "with x &le; 0 are excluded from them and counted under <em>excluded</em>), wrapped "
        "difference for phi, plain difference otherwise. Core &sigma;: iterative 2&sigma;-clipped "
        "std corrected for the truncation; % recovered: share of values with |residual| &le; "
        f"{metrics['recovered_within']:g}; all columns at once: "
        f"{metrics['recovered_pct_all']:.2f} %. Reproduced exactly: "
        f"{html.escape(', '.join(exact_columns(metrics)) or 'none')}.</p>"
        + _table(SUMMARY_HEADER, summary_rows(metrics))
        + "<h3>Residual correlation</h3>"
        + _table(("", *names), correlation)
    )


def _tolerance_section(tolerances: Mapping[str, Any]) -> str:
    rows = []
    for name, t in tolerances.items():
        status = "ok" if t["violations"] == 0 else "VIOLATED"
        rows.append((name, t["tolerance"], t["violations"], _number(t["worst_abs_error"]),
                     _number(t["worst_ratio"]), status))  # fmt: skip
    return "<h2>Error bounds</h2>" + _table(
        ("column", "tolerance", "violations", "worst |error|", "worst / bound", "status"), rows
    )


def _model_section(model: Mapping[str, Any]) -> str:
    mse = model["normalised_mse"]
    out = (
        "<h2>Model</h2>"
        f"<p>kind {html.escape(str(model['spec'].get('kind')))}, latent dimension "
        f"{model['latent_dim']}, content hash <code>{model['content_hash'][:16]}…</code>. "
        f"MSE in the model's normalised units: <b>{mse['mse']:.4g}</b> "
        f"({mse['rows_used']} rows).</p>"
        + _table(
            ("column", "normalised MSE"),
            [(c, _number(v)) for c, v in mse["mse_per_column"].items()],
        )
    )
    if "costs" in model:
        out += "<h2>Costs on this machine</h2>" + _key_values(model["costs"])
    return out


def _plot_figures(plot_pngs: Sequence[tuple[str, Path]], report_dir: Path) -> str:
    out, current = [], None
    for section, png in plot_pngs:
        if section != current:
            out.append(f"<h2>{html.escape(section)}</h2>")
            current = section
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        pdf = png.with_suffix(".pdf").relative_to(report_dir).as_posix()
        wide = ' class="wide"' if png.stem in ("residual_corner",) else ""
        out.append(
            f'<figure{wide}><img alt="{html.escape(png.stem)}" src="data:image/png;base64,{data}">'
            f'<figcaption><a href="{html.escape(pdf)}">{html.escape(png.stem)} (PDF)</a>'
            "</figcaption></figure>"
        )
    return "\n".join(out)


def render_html(
    metrics: Mapping[str, Any],
    plot_pngs: Sequence[tuple[str, Path]],
    report_dir: Path,
    *,
    command: str | None = None,
) -> str:
    """The whole page as one string (images embedded)."""
    parts = [_residual_section(metrics)]
    if metrics.get("tolerances"):
        parts.append(_tolerance_section(metrics["tolerances"]))
    if metrics.get("compression"):
        parts.append("<h2>Compression</h2>" + _key_values(metrics["compression"]))
    if metrics.get("model"):
        parts.append(_model_section(metrics["model"]))
    parts.append(_plot_figures(plot_pngs, report_dir))
    parts.append(
        "<h2>Provenance</h2>"
        f"<p>jetzip {html.escape(metrics['jetzip_version'])}, created "
        f"{html.escape(metrics['created'])}.</p>"
        f"<pre>{html.escape(command or '(library call)')}</pre>"
        '<p>All numbers: <a href="metrics.json">metrics.json</a>.</p>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>jetzip evaluation report</title><style>{_CSS}</style></head><body>"
        "<h1>jetzip evaluation report</h1>" + "\n".join(parts) + "</body></html>\n"
    )


def write_report(
    report_dir: str | Path,
    original: Table,
    reconstructed: Table,
    metrics: Mapping[str, Any],
    *,
    model: Any = None,
    model_dir: str | Path | None = None,
    command: str | None = None,
    progress: bool | None = None,
) -> Path:
    """Write metrics.json, plots/ and index.html into `report_dir` (atomically); return the page.

    `progress=None` shows a progress bar only on a terminal.
    """
    report_dir = Path(report_dir)
    with atomic_output(report_dir, directory=True) as tmp:
        plot_dir = tmp / PLOT_SUBDIR
        plot_dir.mkdir()
        tasks = plot_tasks(
            plot_dir, original, reconstructed, metrics, model=model, model_dir=model_dir
        )
        pngs = [
            (section, draw())
            for section, draw in tqdm(
                tasks, desc="plots", unit="plot", disable=None if progress is None else not progress
            )
        ]
        (tmp / "metrics.json").write_text(json.dumps(jsonable(metrics), indent=2) + "\n")
        (tmp / "index.html").write_text(render_html(metrics, pngs, tmp, command=command))
    return report_dir / "index.html"
