"""Training: configuration, data preparation, the loop, schedules, lr range test, DDP.

Names are imported on first use, so that reading the configuration does not import torch.
"""

from jetzip.lazy import lazy_exports

_EXPORTS = {
    "TrainConfig": "jetzip.training.config",
    "load_toml": "jetzip.training.config",
    "make_config": "jetzip.training.config",
    "parse_duration": "jetzip.training.config",
    "CHECKPOINT_FILE": "jetzip.training.loop",
    "CONFIG_FILE": "jetzip.training.loop",
    "HISTORY_FILE": "jetzip.training.loop",
    "TEST_INDICES_FILE": "jetzip.training.loop",
    "TrainResult": "jetzip.training.loop",
    "train": "jetzip.training.loop",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
