"""Autoencoder architectures, presets and the `TrainedModel` that the rest of jetzip uses."""

from jetzip.models.network import ACTIVATIONS, AutoEncoder, build_model, normalise_spec
from jetzip.models.presets import PRESET_NAMES, preset_spec
from jetzip.models.trained import MODEL_FILE, TrainedModel

__all__ = [
    "ACTIVATIONS",
    "MODEL_FILE",
    "PRESET_NAMES",
    "AutoEncoder",
    "TrainedModel",
    "build_model",
    "normalise_spec",
    "preset_spec",
]
