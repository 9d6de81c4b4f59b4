"""Autoencoders built from a JSON-able spec, so a saved model can always be rebuilt.

A spec is a plain dict:

    {"kind": "ae" | "vae", "n_inputs": 4, "encoder": [200, 100, 50], "latent": 3,
     "decoder": [50, 100, 200], "activation": "tanh", "batch_norm": false,
     "dropout": 0.0 or [per hidden layer...], "latent_activation": false, "kl_weight": 1e-3}

`decoder` defaults to the mirrored encoder. The model knows nothing of files or units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from jetzip.errors import OptionError
from jetzip.models.presets import ACTIVATION_CLASSES

ACTIVATIONS: dict[str, type[nn.Module]] = {
    name: getattr(nn, cls) for name, cls in ACTIVATION_CLASSES.items()
}


_ACTIVATION_TYPES = tuple(ACTIVATIONS.values())


def make_activation(name: str) -> nn.Module:
    """The activation module `name`; softmax normalises over the units of a layer (dim 1)."""
    cls = ACTIVATIONS[name]
    return cls(dim=1) if cls is nn.Softmax else cls()


SPEC_KEYS = {
    "kind",
    "n_inputs",
    "encoder",
    "latent",
    "decoder",
    "activation",
    "batch_norm",
    "dropout",
    "latent_activation",
    "kl_weight",
    "preset",
}


def normalise_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a spec and fill in defaults; raise OptionError with one clear message."""
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise OptionError(f"unknown model spec key(s): {', '.join(sorted(unknown))}")
    out = {
        "kind": "ae",
        "activation": "tanh",
        "batch_norm": False,
        "dropout": 0.0,
        "latent_activation": False,
        "kl_weight": 1e-3,
        **spec,
    }
    if out["kind"] not in ("ae", "vae"):
        raise OptionError(f"unknown model kind {out['kind']!r}; choose 'ae' or 'vae'")
    if out["activation"] not in ACTIVATIONS:
        raise OptionError(
            f"unknown activation {out['activation']!r}; choose from {', '.join(ACTIVATIONS)}"
        )
    for key in ("n_inputs", "latent", "encoder"):
        if key not in out:
            raise OptionError(f"model spec is missing {key!r}")
    out["n_inputs"], out["latent"] = int(out["n_inputs"]), int(out["latent"])
    out["encoder"] = [int(w) for w in out["encoder"]]
    out["decoder"] = [int(w) for w in out.get("decoder") or out["encoder"][::-1]]
    if out["latent"] < 1 or any(w < 1 for w in out["encoder"] + out["decoder"]):
        raise OptionError("layer widths and the latent size must be positive")
    if out["latent"] > out["n_inputs"]:
        raise OptionError(
            f"latent size {out['latent']} is larger than the input width {out['n_inputs']}: "
            "nothing would be compressed"
        )
    n_hidden = len(out["encoder"]) + len(out["decoder"])
    dropout = out["dropout"]
    dropout = [float(dropout)] * n_hidden if not isinstance(dropout, Sequence) else dropout
    if len(dropout) != n_hidden or not all(0.0 <= p < 1.0 for p in dropout):
        raise OptionError(
            f"dropout must be one value or {n_hidden} values (one per hidden layer) in [0, 1)"
        )
    out["dropout"] = [float(p) for p in dropout]
    return out


def _stack(
    widths: Sequence[int], dropout: Sequence[float], spec: Mapping[str, Any]
) -> nn.Sequential:
    """Linear (+ batch-norm) + activation (+ dropout) for each consecutive pair of widths."""
    layers: list[nn.Module] = []
    for n_in, n_out, p in zip(widths[:-1], widths[1:], dropout, strict=True):
        layers.append(nn.Linear(n_in, n_out))
        if spec["batch_norm"]:
            layers.append(nn.BatchNorm1d(n_out))
        layers.append(make_activation(spec["activation"]))
        if p > 0:
            layers.append(nn.Dropout(p))
    return nn.Sequential(*layers)


#: Range of a VAE's log-variance: its exp() (the variance, and the KL term) stays finite and
#: the sampled noise neither vanishes nor explodes early in training.
LOG_VARIANCE_RANGE = (-20.0, 10.0)


class AutoEncoder(nn.Module):
    """Encoder MLP -> latent -> decoder MLP; a VAE adds mean/log-variance heads."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__()
        self.spec = normalise_spec(spec)
        s = self.spec
        n_enc = len(s["encoder"])
        self.encoder_body = _stack([s["n_inputs"], *s["encoder"]], s["dropout"][:n_enc], s)
        self.to_latent = nn.Linear(s["encoder"][-1], s["latent"])
        if s["kind"] == "vae":
            self.to_logvar = nn.Linear(s["encoder"][-1], s["latent"])
        self.latent_activation = (
            make_activation(s["activation"]) if s["latent_activation"] else nn.Identity()
        )
        self.decoder_body = _stack([s["latent"], *s["decoder"]], s["dropout"][n_enc:], s)
        self.to_output = nn.Linear(s["decoder"][-1], s["n_inputs"])

    @property
    def is_vae(self) -> bool:
        return self.spec["kind"] == "vae"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The latent code (for a VAE: the mean, which is what gets stored)."""
        return self._latent(self.encoder_body(x))

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A VAE's posterior: latent mean and (clamped) log-variance per sample."""
        if not self.is_vae:
            raise ValueError("only a VAE has a latent distribution")
        hidden = self.encoder_body(x)
        return self._latent(hidden), self._log_variance(hidden)

    def _latent(self, hidden: torch.Tensor) -> torch.Tensor:
        """The latent code from the encoder body's output."""
        return self.latent_activation(self.to_latent(hidden))

    def _log_variance(self, hidden: torch.Tensor) -> torch.Tensor:
        """A VAE's log-variance from the encoder body's output, clamped to LOG_VARIANCE_RANGE."""
        return self.to_logvar(hidden).clamp(*LOG_VARIANCE_RANGE)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.to_output(self.decoder_body(z))

    @staticmethod
    def _run(
        body: nn.Sequential, x: torch.Tensor, hidden: list[torch.Tensor] | None
    ) -> torch.Tensor:
        """`body(x)`, keeping the output of every activation layer in `hidden` when given."""
        if hidden is None:
            return body(x)
        for layer in body:
            x = layer(x)
            if isinstance(layer, _ACTIVATION_TYPES):
                hidden.append(x)
        return x

    def forward(
        self, x: torch.Tensor, with_hidden: bool = False
    ) -> (
        tuple[torch.Tensor, torch.Tensor | None]
        | tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]
    ):
        """Reconstruction and, for a VAE, the KL divergence per sample (mean; the latent is
        sampled in training only). `with_hidden` adds the hidden layers' activations (encoder
        then decoder), for sparsity penalties: through `forward`, so that DDP sees the call."""
        hidden: list[torch.Tensor] | None = [] if with_hidden else None
        body = self._run(self.encoder_body, x, hidden)
        z = self._latent(body)
        kl = None
        if self.is_vae:
            mean, logvar = z, self._log_variance(body)
            z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if self.training else mean
            kl = -0.5 * torch.mean(torch.sum(1 + logvar - mean.pow(2) - logvar.exp(), dim=1))
        out = self.to_output(self._run(self.decoder_body, z, hidden))
        return (out, kl) if hidden is None else (out, kl, hidden)


def build_model(spec: Mapping[str, Any]) -> AutoEncoder:
    """A freshly initialised network for `spec` (torch's default initialisation)."""
    return AutoEncoder(spec)
