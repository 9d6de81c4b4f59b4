"""Synthetic ATLAS-like jets for tests that need a model-shaped table without the real data."""

from __future__ import annotations

import numpy as np

from jetzip.table import Table


def synthetic_jets(n: int, seed: int) -> Table:
    """m, pt (MeV, log-normal pt, m a fraction of pt), phi, eta and a jet width, as float32."""
    rng = np.random.default_rng(seed)
    pt = rng.lognormal(10.8, 0.6, n)
    return Table(
        {
            "m": (pt * rng.uniform(0.05, 0.2, n)).astype(np.float32),
            "pt": pt.astype(np.float32),
            "phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
            "eta": rng.uniform(-2.5, 2.5, n).astype(np.float32),
            "width": rng.uniform(0, 0.4, n).astype(np.float32),
        },
        units={"m": "MeV", "pt": "MeV"},
    )
