"""Autoencoder architectures, presets and the `TrainedModel` that the rest of jetzip uses.

Names are imported on first use, so that reading presets does not import torch.
"""

from jetzip.lazy import lazy_exports

_EXPORTS = {
    "ACTIVATIONS": "jetzip.models.network",
    "AutoEncoder": "jetzip.models.network",
    "build_model": "jetzip.models.network",
    "normalise_spec": "jetzip.models.network",
    "ACTIVATION_NAMES": "jetzip.models.presets",
    "PRESET_NAMES": "jetzip.models.presets",
    "preset_spec": "jetzip.models.presets",
    "MODEL_FILE": "jetzip.models.trained",
    "TrainedModel": "jetzip.models.trained",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
