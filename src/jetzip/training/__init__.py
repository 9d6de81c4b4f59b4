"""Training: configuration, data preparation, the loop, schedules, lr range test, DDP."""

from jetzip.training.config import TrainConfig, load_toml, make_config, parse_duration
from jetzip.training.loop import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    HISTORY_FILE,
    TEST_INDICES_FILE,
    TrainResult,
    train,
)

__all__ = [
    "CHECKPOINT_FILE",
    "CONFIG_FILE",
    "HISTORY_FILE",
    "TEST_INDICES_FILE",
    "TrainConfig",
    "TrainResult",
    "load_toml",
    "make_config",
    "parse_duration",
    "train",
]
