"""Sparse autoencoders: penalties on the hidden activations and the sparsity a model achieved.

    --sparsity l1:WEIGHT        WEIGHT * mean |a| over every hidden unit and row
    --sparsity kl:WEIGHT:RHO    WEIGHT * mean over hidden units of KL(RHO || mean_rows |a_j|)

A unit's activity is |a|: zero means silent for every activation (tanh's rest point is 0, not
-1). The KL form needs activities below 1, so it takes only the bounded activations (tanh,
sigmoid, softmax). Both penalties are means, not sums, so a weight means the same for any width.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jetzip.errors import OptionError

if TYPE_CHECKING:  # torch is imported where it runs, so that parsing options stays light
    import torch

#: Activations whose |a| stays in [0, 1], as the KL penalty needs.
BOUNDED_ACTIVATIONS = ("tanh", "sigmoid", "softmax")
#: An activation value with |a| below this counts as silent in the achieved sparsity.
SILENT_BELOW = 0.01
_EPS = 1e-6


@dataclass(frozen=True)
class Sparsity:
    """A parsed --sparsity option."""

    kind: str  # "l1" or "kl"
    weight: float
    rho: float | None = None  # target mean activity (kl only)

    def check(self, activation: str) -> None:
        """Refuse a KL penalty on an unbounded activation (its mean activity can pass 1)."""
        if self.kind == "kl" and activation not in BOUNDED_ACTIVATIONS:
            raise OptionError(
                f"--sparsity kl needs a bounded activation ({', '.join(BOUNDED_ACTIVATIONS)}), "
                f"not {activation}; use l1:WEIGHT instead"
            )

    def penalty(self, hidden: list[torch.Tensor]) -> torch.Tensor:
        """The weighted penalty for one batch's hidden activations."""
        import torch

        activity = torch.cat([h.abs() for h in hidden], dim=1)
        if self.kind == "l1":
            return self.weight * activity.mean()
        rho = float(self.rho)  # type: ignore[arg-type]
        rho_hat = activity.mean(dim=0).clamp(_EPS, 1 - _EPS)
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        return self.weight * kl.mean()


def parse_sparsity(text: str | None) -> Sparsity | None:
    """'l1:1e-3' or 'kl:1e-2:0.05' -> Sparsity; None or 'none' -> None."""
    if text is None or text == "none":
        return None
    number = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
    match = re.fullmatch(rf"l1:{number}|kl:{number}:{number}", text.strip())
    if not match:
        raise OptionError(f"cannot parse --sparsity {text!r}; use l1:WEIGHT or kl:WEIGHT:RHO")
    if match.group(1) is not None:
        return Sparsity("l1", float(match.group(1)))
    weight, rho = float(match.group(2)), float(match.group(3))
    if not 0 < rho < 1:
        raise OptionError(f"--sparsity kl target RHO must be in (0, 1), got {rho:g}")
    return Sparsity("kl", weight, rho)


def activation_stats(network: torch.nn.Module, x: torch.Tensor, chunk: int = 65536) -> dict:
    """Mean |activation| and the fraction of silent activations (|a| < SILENT_BELOW) over every
    hidden unit and row of `x`, in eval mode: the sparsity the model achieved."""
    import torch

    network.eval()
    total, silent, count = 0.0, 0, 0
    with torch.no_grad():
        for start in range(0, len(x), chunk):
            _, _, hidden = network(x[start : start + chunk], with_hidden=True)
            activity = torch.cat([h.abs() for h in hidden], dim=1)
            total += float(activity.sum())
            silent += int((activity < SILENT_BELOW).sum())
            count += activity.numel()
    return {"mean_activation": total / count, "sparsity": silent / count}
