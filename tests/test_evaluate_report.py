"""The evaluation report: every plot written, one self-contained page, rendered by Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch

from jetzip.codec import compress_table, decompress_file
from jetzip.evaluate import evaluate, write_report
from jetzip.evaluate import plots as plots_module
from jetzip.models import TrainedModel, build_model
from jetzip.table import Table
from jetzip.transforms import build_normaliser

COLUMNS = ["m", "pt", "eta", "phi"]
UNITS = {"m": "GeV", "pt": "GeV", "eta": "", "phi": "rad"}
TOLERANCES = "m=0.5%,pt=0.5%,eta=0.002,phi=0.002"
EXPECTED_PLOTS = [
    *(f"distribution_{c}" for c in COLUMNS),
    *(f"residual_{c}" for c in COLUMNS),
    "residual_corner",
    "profile_vs_m",
    "profile_vs_pt",
    "profile_vs_eta",
    "loss_curves",
    "latent_distributions",
    "latent_scatter",
    "compression_summary",
]


def jet_table(n: int = 3000) -> Table:
    rng = np.random.default_rng(7)
    pt = 20 + rng.exponential(40, n)
    columns = {
        "m": pt * rng.uniform(0.05, 0.3, n),
        "pt": pt,
        "eta": rng.normal(0, 1.5, n),
        "phi": rng.uniform(-np.pi, np.pi, n),
    }
    return Table({k: v.astype(np.float32) for k, v in columns.items()}, units=UNITS)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One report with every section: model (loss curves, latents, costs), .jz, tolerances."""
    base = tmp_path_factory.mktemp("evaluate")
    original = jet_table()
    torch.manual_seed(0)
    x = original.matrix(COLUMNS)
    model = TrainedModel(
        build_model({"n_inputs": 4, "latent": 3, "encoder": [16]}),
        build_normaliser(COLUMNS, "custom").fit(x),
        UNITS,
    )
    model_dir = base / "model"
    model_dir.mkdir()
    (model_dir / "history.csv").write_text(
        "epoch,train_loss,val_loss,lr,seconds\n1,0.5,0.6,0.001,1.0\n2,0.2,0.25,0.001,1.0\n"
    )
    jz = base / "jets.jz"
    compress_table(original, jz, tolerances=TOLERANCES)
    reconstructed = decompress_file(jz)
    metrics = evaluate(
        original,
        reconstructed,
        model=model,
        model_dir=model_dir,
        tolerances=TOLERANCES,
        compressed_path=jz,
    )
    page = write_report(
        base / "report",
        original,
        reconstructed,
        metrics,
        model=model,
        model_dir=model_dir,
        command="jetzip evaluate a.parquet jets.jz -o report",
    )
    return {"page": page, "metrics": metrics, "base": base}


def test_every_plot_is_written_as_png_and_pdf(report: dict) -> None:
    plot_dir = report["page"].parent / "plots"
    for name in EXPECTED_PLOTS:
        for suffix in (".png", ".pdf"):
            path = plot_dir / f"{name}{suffix}"
            assert path.is_file() and path.stat().st_size > 1000, path
    assert sorted(p.stem for p in plot_dir.glob("*.png")) == sorted(EXPECTED_PLOTS)


def test_page_embeds_every_plot_and_metrics_json_is_complete(report: dict) -> None:
    page = report["page"]
    text = page.read_text()
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(embedded) == len(EXPECTED_PLOTS)
    assert all(base64.b64decode(data).startswith(b"\x89PNG") for data in embedded)
    assert "jetzip evaluate a.parquet jets.jz -o report" in text
    assert "Costs on this machine" in text and "Error bounds" in text
    metrics = json.loads((page.parent / "metrics.json").read_text())
    assert set(metrics["per_column"]) == set(COLUMNS)
    assert all(t["violations"] == 0 for t in metrics["tolerances"].values())
    assert metrics["compression"]["bytes_per_jet"] < 16
    assert metrics["model"]["costs"]["n_parameters"] > 0
    leftovers = [p.name for p in report["base"].iterdir() if p.name.startswith(".report")]
    assert leftovers == []


def test_interrupted_report_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = jet_table(200)

    def interrupted(*args: object, **kwargs: object) -> Path:
        raise KeyboardInterrupt

    monkeypatch.setattr(plots_module, "plot_distribution", interrupted)
    metrics = evaluate(original, original, measure_costs=False)
    with pytest.raises(KeyboardInterrupt):
        write_report(tmp_path / "report", original, original, metrics)
    assert list(tmp_path.iterdir()) == []


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
# Appended to a copy of the page: after load, writes how many images decoded with a width.
IMAGE_PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter(img => img.complete && img.naturalWidth > 0).length;
  const out = document.createElement("div");
  out.id = "probe";
  out.textContent = `images=${images.length} loaded=${loaded}`;
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(report: dict, tmp_path: Path) -> None:
    page = report["page"]
    profile = tmp_path / "profile"
    common = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    screenshot = tmp_path / "page.png"
    subprocess.run(
        [*common, f"--screenshot={screenshot}", "--window-size=1200,3000", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = matplotlib.image.imread(screenshot)
    assert pixels.shape[:2] == (3000, 1200)
    assert pixels[..., :3].std() > 0.05  # not a blank page

    probed = page.parent / "probe.html"
    probed.write_text(page.read_text().replace("</body>", IMAGE_PROBE + "</body>"))
    dom = subprocess.run(
        [*common, "--virtual-time-budget=10000", "--dump-dom", probed.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    match = re.search(r"images=(\d+) loaded=(\d+)", dom)
    assert match, "the probe script did not run"
    assert int(match.group(1)) == len(EXPECTED_PLOTS)
    assert match.group(2) == match.group(1)


def test_exact_and_undefined_columns_get_no_residual_plots(tmp_path: Path) -> None:
    original = Table({"index": np.arange(50), "m": -np.ones(50), "pt": np.linspace(1, 2, 50)})
    reconstructed = Table(
        {"index": np.arange(50), "m": np.zeros(50), "pt": np.linspace(1, 2, 50) * 1.01}
    )
    metrics = evaluate(original, reconstructed)
    page = write_report(tmp_path / "report", original, reconstructed, metrics)
    pngs = sorted(p.stem for p in (page.parent / "plots").glob("*.png"))
    assert pngs == [
        "distribution_index", "distribution_m", "distribution_pt", "profile_vs_m",
        "profile_vs_pt", "residual_pt",
    ]  # fmt: skip
    assert "Reproduced exactly: index." in page.read_text()


def test_a_source_row_identifier_gets_no_distribution_plot(tmp_path: Path) -> None:
    """The ATLAS pickles' jet id (kept as an `index` column) is not a physics variable."""
    meta = {"index_column": "index"}
    original = Table({"index": np.arange(50), "pt": np.linspace(1, 2, 50)}, meta=meta)
    reconstructed = Table({"index": np.arange(50), "pt": np.linspace(1, 2, 50) * 1.01}, meta=meta)
    metrics = evaluate(original, reconstructed)
    page = write_report(tmp_path / "report", original, reconstructed, metrics)
    pngs = sorted(p.stem for p in (page.parent / "plots").glob("*.png"))
    assert "distribution_index" not in pngs and "distribution_pt" in pngs


def test_vae_report_shows_latent_mean_and_variance(tmp_path: Path) -> None:
    original = jet_table(500)
    torch.manual_seed(0)
    model = TrainedModel(
        build_model({"kind": "vae", "n_inputs": 4, "latent": 2, "encoder": [8]}),
        build_normaliser(COLUMNS, "custom").fit(original.matrix(COLUMNS)),
        UNITS,
    )
    reconstructed = Table(
        {
            c: model.reconstruct(original.matrix(COLUMNS))[:, j].astype(np.float32)
            for j, c in enumerate(COLUMNS)
        },
        units=UNITS,
    )
    metrics = evaluate(original, reconstructed, model=model, measure_costs=False)
    page = write_report(tmp_path / "report", original, reconstructed, metrics, model=model)
    for name in ("vae_latent_mean", "vae_latent_variance"):
        assert (page.parent / "plots" / f"{name}.png").stat().st_size > 1000
