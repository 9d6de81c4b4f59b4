"""Named architectures from the ATLAS autoencoder studies; input width follows the data."""

from __future__ import annotations

from typing import Any

from jetzip.errors import OptionError

#: Activation name -> the torch.nn class that implements it (named here, built in network.py,
#: so that the CLI can list the choices without importing torch).
ACTIVATION_CLASSES: dict[str, str] = {
    "tanh": "Tanh",
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "elu": "ELU",
    "silu": "SiLU",
    "sigmoid": "Sigmoid",
    "softmax": "Softmax",
}
ACTIVATION_NAMES = tuple(ACTIVATION_CLASSES)

# name -> (encoder widths, default latent size, activation, batch-norm, kind)
_PRESETS: dict[str, tuple[list[int], int, str, bool, str]] = {
    "AE_3D_200": ([200, 100, 50], 3, "tanh", False, "ae"),
    "AE_3D_100": ([100, 100, 50], 3, "tanh", False, "ae"),
    "AE_3D_50": ([50, 50, 20], 3, "tanh", False, "ae"),
    "AE_3D_200_seed": ([200, 200, 20], 3, "tanh", False, "ae"),
    "AE_bn_LeakyReLU": ([200, 200, 200], 3, "leaky_relu", True, "ae"),
    "VAE_3D_200": ([200, 100, 50], 3, "tanh", False, "vae"),
}

PRESET_NAMES = tuple(_PRESETS)


def preset_spec(name: str, n_inputs: int, latent: int | None = None) -> dict[str, Any]:
    """The spec of preset `name` for `n_inputs` columns (latent size overridable)."""
    if name not in _PRESETS:
        raise OptionError(f"unknown preset {name!r}; choose from {', '.join(PRESET_NAMES)}")
    encoder, default_latent, activation, batch_norm, kind = _PRESETS[name]
    return {
        "preset": name,
        "kind": kind,
        "n_inputs": n_inputs,
        "encoder": list(encoder),
        "latent": default_latent if latent is None else latent,
        "activation": activation,
        "batch_norm": batch_norm,
    }
