"""Learning-rate schedules as functions of training progress in [0, 1].

Progress is the larger of (steps done / planned steps) and (time used / --max-time), so a
one-cycle or cosine schedule completes its annealing even when the time budget ends the run.
"""

from __future__ import annotations

import math

#: One-cycle shape (as in fastai / Smith): warm up over the first 25 %, start at lr/25,
#: end at lr/25/1e4.
WARMUP_FRACTION = 0.25
START_DIVISOR = 25.0
FINAL_DIVISOR = 1e4


def _cosine(start: float, end: float, fraction: float) -> float:
    """Half-cosine from `start` (fraction 0) to `end` (fraction 1)."""
    return end + (start - end) * (1 + math.cos(math.pi * min(max(fraction, 0.0), 1.0))) / 2


def lr_at(schedule: str, max_lr: float, progress: float) -> float:
    """Learning rate for `schedule` at `progress`; 'plateau' and 'constant' stay at max_lr
    here (plateau reductions are applied on top by the loop)."""
    if schedule == "one_cycle":
        start = max_lr / START_DIVISOR
        if progress < WARMUP_FRACTION:
            return _cosine(start, max_lr, progress / WARMUP_FRACTION)
        rest = (progress - WARMUP_FRACTION) / (1 - WARMUP_FRACTION)
        return _cosine(max_lr, start / FINAL_DIVISOR, rest)
    if schedule == "cosine":
        return _cosine(max_lr, max_lr / FINAL_DIVISOR, progress)
    return max_lr


class PlateauReducer:
    """Divide the learning rate by `factor` after `patience` epochs without improvement."""

    def __init__(self, factor: float = 0.3, patience: int = 5) -> None:
        self.factor, self.patience = factor, patience
        self.scale, self.best, self.bad_epochs = 1.0, math.inf, 0

    def step(self, val_loss: float) -> None:
        if val_loss < self.best * (1 - 1e-4):
            self.best, self.bad_epochs = val_loss, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            self.scale *= self.factor
            self.bad_epochs = 0

    def state_dict(self) -> dict[str, float]:
        return {"scale": self.scale, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.scale, self.best, self.bad_epochs = (
            state["scale"],
            state["best"],
            int(state["bad_epochs"]),
        )
