"""Built-in data: Pythia 8 QCD jets clustered with FastJet, with substructure variables.

    from jetzip.generate import generate_jets
    table = generate_jets(2000, seed=1)          # one row per jet, event index = event number

Needs the optional `[generate]` extra (pythia8mc, fastjet) only when called; importing this
package does not.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jetzip.generate.cache import cache_path, default_cache_dir, load_cached, store_cached
from jetzip.generate.driver import available_cores, resolve_workers, run_generation
from jetzip.generate.events import COLUMNS
from jetzip.generate.settings import (
    GENERATOR_VERSION,
    PROCESSES,
    GeneratorSettings,
    GeneratorUnavailableError,
)
from jetzip.table import Table

__all__ = [
    "COLUMNS",
    "GENERATOR_VERSION",
    "PROCESSES",
    "GeneratorSettings",
    "GeneratorUnavailableError",
    "available_cores",
    "default_cache_dir",
    "generate_jets",
]


def generate_jets(
    n_events: int,
    *,
    seed: int = 0,
    pthat_min: float = GeneratorSettings.pthat_min,
    jet_pt_min: float = GeneratorSettings.jet_pt_min,
    eta_max: float = GeneratorSettings.eta_max,
    block_size: int = GeneratorSettings.block_size,
    mpi: bool = GeneratorSettings.mpi,
    process: str = GeneratorSettings.process,
    resonance_mass: float = GeneratorSettings.resonance_mass,
    jet_radius: float = GeneratorSettings.jet_radius,
    workers: int | None = None,
    progress: bool = True,
    use_cache: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Table:
    """Generate `n_events` 13 TeV events (QCD dijets, or a boosted-jet signal `process`:
    see `GeneratorSettings`) and return one row per anti-kt jet (R = `jet_radius`).

    Columns are listed in `COLUMNS` (m, pt, E in MeV as ATLAS stores them; float32 values,
    int32 counts). `mpi=False` switches off the underlying event (multiparton interactions),
    about five times faster and less realistic. The same settings give the same table for
    any number of `workers`.
    With `use_cache`, a table generated earlier with identical settings and generator version
    is loaded from `cache_dir` (default `$JETZIP_CACHE` or ~/.cache/jetzip) instead.
    """
    settings = GeneratorSettings(
        n_events=n_events,
        seed=seed,
        pthat_min=pthat_min,
        jet_pt_min=jet_pt_min,
        eta_max=eta_max,
        block_size=block_size,
        mpi=mpi,
        process=process,
        resonance_mass=resonance_mass,
        jet_radius=jet_radius,
    )
    workers = resolve_workers(workers)
    entry: Path | None = cache_path(settings, cache_dir) if use_cache else None
    if entry is not None:
        cached = load_cached(entry)
        if cached is not None:
            if progress:
                sys.stderr.write(f"using cached jets from {entry}\n")
            return cached
    table = run_generation(settings, workers=workers, progress=progress)
    if entry is not None:
        store_cached(table, entry)
    return table
