"""TensorBoard logging: per-epoch scalars and, every N epochs, a figure of what the network
does to the validation jets (input vs output distribution and residual per column), the way the
ATLAS studies previewed images while training."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from jetzip.errors import OptionError

#: Validation rows drawn in each figure (the first ones: the split is already shuffled).
FIGURE_ROWS = 20000
_BINS = 60


def tensorboard_writer(log_dir: str | None) -> Any:
    """A SummaryWriter for `log_dir`, or None; a clear error when tensorboard is missing."""
    if log_dir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise OptionError(
            "--tensorboard needs the tensorboard package (pip install 'jetzip[tensorboard]')"
        ) from None
    return SummaryWriter(log_dir)


def reconstruction_figure(network: torch.nn.Module, x: torch.Tensor, columns: Sequence[str]) -> Any:
    """A matplotlib figure: per column (network space), input and output histograms above, the
    residual output - input below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    network.eval()
    with torch.no_grad():
        x = x[:FIGURE_ROWS]
        out = network(x)[0]
    x_np, out_np = x.detach().cpu().numpy(), out.detach().cpu().numpy()
    fig, axes = plt.subplots(2, len(columns), figsize=(3.2 * len(columns), 5.5), squeeze=False)
    for j, name in enumerate(columns):
        edges = np.histogram_bin_edges(np.concatenate([x_np[:, j], out_np[:, j]]), _BINS)
        axes[0, j].hist(x_np[:, j], edges, histtype="step", label="input")
        axes[0, j].hist(out_np[:, j], edges, histtype="step", label="output")
        axes[0, j].set_title(f"{name} (network space)", fontsize=9)
        axes[1, j].hist(out_np[:, j] - x_np[:, j], _BINS, histtype="step", color="k")
        axes[1, j].set_yscale("log")
        axes[1, j].set_xlabel(f"{name}: output - input", fontsize=9)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def log_epoch(
    board: Any,
    row: Mapping[str, float],
    epoch: int,
    *,
    figure_every: int,
    network: torch.nn.Module,
    val: torch.Tensor,
    columns: Sequence[str],
) -> None:
    """Scalars of the history row; the reconstruction figure every `figure_every` epochs."""
    for key, value in row.items():
        if key != "epoch":
            board.add_scalar(key, value, epoch)
    if epoch % figure_every == 0:
        board.add_figure("reconstruction", reconstruction_figure(network, val, columns), epoch)
