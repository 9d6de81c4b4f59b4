"""Learning-rate range test: raise the lr exponentially over a few hundred steps, record the
smoothed training loss, and suggest the lr where the loss falls fastest."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from jetzip.fileutil import atomic_output
from jetzip.models import build_model
from jetzip.table import Table
from jetzip.training.config import TrainConfig
from jetzip.training.data import model_spec, prepare_data
from jetzip.training.distributed import resolve_device
from jetzip.training.loop import LOSS_FUNCTIONS, l2_penalty, make_optimizer, objective
from jetzip.training.sparsity import parse_sparsity

#: Exponential moving average factor for the loss curve, and the divergence threshold.
SMOOTHING = 0.98
DIVERGENCE_FACTOR = 4.0


@dataclass
class LrFindResult:
    lrs: np.ndarray
    losses: np.ndarray  # smoothed
    suggestion: float


def lr_range_test(
    table: Table,
    config: TrainConfig,
    *,
    min_lr: float = 1e-6,
    max_lr: float = 1.0,
    steps: int = 200,
) -> LrFindResult:
    """Run the range test on the training split with the config's model, loss and batch."""
    threads = torch.get_num_threads()
    try:
        if config.threads:
            torch.set_num_threads(config.threads)
        return _range_test(table, config, min_lr, max_lr, steps)
    finally:
        torch.set_num_threads(threads)


def _range_test(
    table: Table, config: TrainConfig, min_lr: float, max_lr: float, steps: int
) -> LrFindResult:
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    data = prepare_data(table, config, device)
    spec = model_spec(config, len(data.columns))
    network = build_model(spec).to(device).train()
    sparsity = parse_sparsity(config.sparsity)  # the penalties training would add
    if sparsity is not None:
        sparsity.check(spec["activation"])
    optimizer = make_optimizer(network, min_lr, config.weight_decay)
    loss_fn = LOSS_FUNCTIONS[config.loss]
    generator = torch.Generator().manual_seed(config.seed)
    batch = min(config.batch_size, len(data.train))
    lrs, losses = [], []
    average, best = 0.0, math.inf
    for i in range(steps):
        lr = min_lr * (max_lr / min_lr) ** (i / max(steps - 1, 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        rows = torch.randint(len(data.train), (batch,), generator=generator).to(device)
        loss = objective(network, data.train[rows], loss_fn, float(spec["kl_weight"]), sparsity)
        if config.l2:
            loss = loss + l2_penalty(network, config.l2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        average = SMOOTHING * average + (1 - SMOOTHING) * float(loss.detach())
        smoothed = average / (1 - SMOOTHING ** (i + 1))
        if not math.isfinite(smoothed) or smoothed > DIVERGENCE_FACTOR * best:
            break
        best = min(best, smoothed)
        lrs.append(lr)
        losses.append(smoothed)
    lrs_array, losses_array = np.array(lrs), np.array(losses)
    return LrFindResult(lrs_array, losses_array, suggest_lr(lrs_array, losses_array))


def suggest_lr(lrs: np.ndarray, losses: np.ndarray) -> float:
    """The lr of steepest descent of loss against log(lr), ignoring the noisy first 10 %."""
    if len(lrs) < 3:
        return float(lrs[0]) if len(lrs) else math.nan
    skip = len(lrs) // 10
    slopes = np.gradient(np.log(losses[skip:]), np.log(lrs[skip:]))
    return float(lrs[skip + int(np.argmin(slopes))])


def plot_lr_find(result: LrFindResult, path: str | Path) -> None:
    """Loss against lr (log axis) with the suggestion marked, written atomically as an image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(result.lrs, result.losses)
    ax.axvline(
        result.suggestion,
        color="tab:red",
        linestyle="--",
        label=f"suggested {result.suggestion:.2g}",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss (smoothed)")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
