"""Run the blocks of a generation on several processes, in order, with progress and Ctrl-C.

Blocks are independent (own Pythia instance, own seed), so workers just take the next block;
results come back in block order, which makes the table identical for any worker count.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from functools import partial

from jetzip.errors import OptionError
from jetzip.generate.events import generate_block, import_backends
from jetzip.generate.settings import GeneratorSettings
from jetzip.table import Table


def available_cores() -> int:
    """Cores this process may run on (respects CPU affinity, unlike os.cpu_count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def resolve_workers(workers: int | None) -> int:
    """The number of worker processes to use: all cores by default, else a positive int."""
    if workers is None:
        return available_cores()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise OptionError(f"the number of workers must be a positive integer, got {workers!r}")
    return workers


def run_generation(
    settings: GeneratorSettings, *, workers: int | None = None, progress: bool = True
) -> Table:
    """Generate all blocks of `settings` on `workers` processes (default: all cores)."""
    from tqdm import tqdm  # here: importing the generate command must not cost tqdm's ~20 ms

    import_backends()  # fail with the install hint here, not inside a worker
    workers = min(resolve_workers(workers), settings.n_blocks)
    with tqdm(
        total=settings.n_events,
        unit="event",
        desc="generating",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    ) as bar:
        blocks = []
        for block in _blocks_in_order(settings, workers):
            blocks.append(block)
            bar.update(block.meta["n_events"])
            bar.set_postfix(jets=sum(b.n_rows for b in blocks))
    table = Table.concat(blocks)
    table.meta = {
        "source": "jetzip generate",
        "generator": settings.describe(),
        "n_events": settings.n_events,
    }
    return table


def _blocks_in_order(settings: GeneratorSettings, workers: int) -> Iterator[Table]:
    make_block = partial(generate_block, settings)
    if workers == 1:
        yield from map(make_block, range(settings.n_blocks))
        return
    # fork: workers start at once and need no importable __main__ (spawn would re-run a
    # user's unguarded script); they only run Pythia, FastJet and numpy, never torch.
    import multiprocessing  # here: not a cost of importing the generate command

    context = multiprocessing.get_context("fork")
    pool = context.Pool(workers, initializer=_ignore_sigint)
    try:
        yield from pool.imap(make_block, range(settings.n_blocks))
        pool.close()
    except BaseException:  # Ctrl-C or a failed block: stop every worker now
        pool.terminate()
        raise
    finally:
        pool.join()


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which terminates them (no traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
