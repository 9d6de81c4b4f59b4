"""Models trained elsewhere: a HEPAutoencoders-style PyTorch state dict as a `TrainedModel`.

The ATLAS studies' networks (HEPAutoencoders, fastai) are classes with linear layers `en1` ..
`enK` (the last one gives the latent) and `de1` .. `deK`, tanh between them, and a decoder that
applies tanh to the latent first; their inputs are the columns standard-normalised with the
training set's mean and std. In jetzip terms that is the preset's spec with the activation on
the latent (the stored latent is tanh of theirs; the reconstruction is the same) and one
`standardise` step per column with the given mean and std.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from jetzip.errors import CorruptFileError, InputError, OptionError
from jetzip.models.network import build_model
from jetzip.models.presets import preset_spec
from jetzip.models.trained import TrainedModel
from jetzip.transforms import Chain, Normaliser, Standardise


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Tensors of a `.pth` file: a bare state dict, or fastai's {'model': ..., 'opt': ...}."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"state dict not found: {path}") from None
    except Exception as exc:  # torch raises many kinds for a file that is not a state dict
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CorruptFileError(f"{path} is not a PyTorch state dict: {reason}") from None
    if isinstance(data, Mapping) and isinstance(data.get("model"), Mapping):
        data = data["model"]
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CorruptFileError(f"{path} holds no state dict of tensors")
    return {str(k): v for k, v in data.items()}


def layer_names(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(their name, jetzip's module) per linear layer, in order: en1.. then de1.."""
    n_enc, n_dec = len(spec["encoder"]), len(spec["decoder"])
    pairs = [(f"en{i + 1}", f"encoder_body.{2 * i}") for i in range(n_enc)]
    pairs.append((f"en{n_enc + 1}", "to_latent"))
    pairs += [(f"de{i + 1}", f"decoder_body.{2 * i}") for i in range(n_dec)]
    pairs.append((f"de{n_dec + 1}", "to_output"))
    return pairs


def import_state_dict(
    state: Mapping[str, torch.Tensor],
    preset: str,
    columns: Sequence[str],
    mean: Sequence[float],
    std: Sequence[float],
    units: Mapping[str, str] | None = None,
) -> TrainedModel:
    """A `TrainedModel` from a HEPAutoencoders-style state dict and its normalisation.

    `columns` is the order of the network's inputs; `mean` and `std` standard-normalise each.
    Every layer's weight and bias must be present with the preset's shape (OptionError names
    the first layer that is missing or differs); unknown keys are refused too.
    """
    columns = list(columns)
    if not (len(columns) == len(mean) == len(std)) or not columns:
        raise OptionError(
            f"need one mean and one std per column: {len(columns)} columns, {len(mean)} means, "
            f"{len(std)} stds"
        )
    if any(not s > 0 for s in std):
        raise OptionError("every std must be positive")
    spec = preset_spec(preset, len(columns))
    if spec["kind"] != "ae" or spec["batch_norm"]:
        raise OptionError(
            f"preset {preset} is not an en1..enK/de1..deK tanh network; "
            "import-model takes AE_3D_200, AE_3D_100, AE_3D_50 or AE_3D_200_seed"
        )
    spec["latent_activation"] = True
    network = build_model(spec)
    expected = network.state_dict()
    converted: dict[str, torch.Tensor] = {}
    pairs = layer_names(network.spec)
    unknown = sorted(set(state) - {f"{t}.{p}" for t, _ in pairs for p in ("weight", "bias")})
    if unknown:
        raise OptionError(f"the state dict has layers {preset} does not: {', '.join(unknown)}")
    for theirs, ours in pairs:
        for part in ("weight", "bias"):
            key, want = f"{theirs}.{part}", tuple(expected[f"{ours}.{part}"].shape)
            if key not in state:
                raise OptionError(f"layer {theirs}: the state dict has no {key}")
            got = tuple(state[key].shape)
            if got != want:
                raise OptionError(
                    f"layer {theirs}: {part} has shape {got}, {preset} with {len(columns)} "
                    f"columns needs {want}"
                )
            converted[f"{ours}.{part}"] = state[key].detach().float()
    network.load_state_dict(converted)
    normaliser = Normaliser(
        {
            c: Chain([Standardise(float(m), float(s))])
            for c, m, s in zip(columns, mean, std, strict=True)
        }
    )
    return TrainedModel(network, normaliser, units)
