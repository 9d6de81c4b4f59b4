"""Training an entropy model: column order, PyTorch networks, conversion to integers, shapes.

Order: integer columns first (they are stored exactly and decoded first), then absolute, then
relative columns with E last, as the codec codes them (`coding_order`); within each group the
next column is the one best predicted from those before it, with the information it gives the
rest as tie-break (estimated by least squares on a sample, in the transformed space). Each
column's network (context features -> mu, ln sigma of a logistic) is trained by maximum
likelihood in PyTorch, rounded to an integer network, and the shape of its standardised
residuals, as the integer network sees them, is tabulated.
"""

from __future__ import annotations

import functools
import itertools
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from jetzip.entropy.distributions import Shape
from jetzip.entropy.events import EventRows, transverse_sum
from jetzip.entropy.model import (
    FEATURE_BITS,
    FEATURE_LIMIT,
    MODEL_FILE,
    OUTPUT_BITS,
    SIGMA_SHIFT,
    ColumnModel,
    Conditional,
    EntropyModel,
    EventForm,
    features,
    transformed,
)
from jetzip.errors import InputError, OptionError
from jetzip.evaluate.metrics import RELATIVE, residual_kind
from jetzip.models.integer import IntegerMLP
from jetzip.models.trained import single_thread
from jetzip.table import Table

ORDER_SAMPLE = 20_000
#: Fewest optimiser steps per network: a few epochs of a small table (the leaders of a few
#: thousand events) are a handful of steps, far from trained.
MIN_STEPS = 1000
WEIGHT_BITS = 12
HIDDEN_BITS = 12


def column_space(table: Table, name: str) -> str:
    """integer for integer columns, log for scale variables (relative tolerances), else linear."""
    if table.columns[name].dtype.kind in "iub":
        return "integer"
    return "log" if residual_kind(name) == RELATIVE else "linear"


def _information(target: np.ndarray, inputs: list[np.ndarray]) -> float:
    """-1/2 ln(1 - R^2) of a least-squares fit of target on inputs and their squares (nats)."""
    if not inputs:
        return 0.0
    variance = float(np.var(target))
    if variance == 0.0:  # a constant column: nothing to explain (and no division by zero)
        return 0.0
    design = np.column_stack([np.ones_like(target), *inputs, *(x * x for x in inputs)])
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = float(np.var(target - design @ coef))
    return 0.5 * math.log(variance / max(residual, 1e-300 * variance, sys.float_info.min))


def _score(
    c: str, remaining: list[str], known: list[np.ndarray], values: dict[str, np.ndarray]
) -> float:
    """How well c is predicted from the known columns, plus half the mean information it
    adds about the other remaining ones."""
    own = _information(values[c], known)
    gain = [
        _information(values[o], [*known, values[c]]) - _information(values[o], known)
        for o in remaining
        if o != c
    ]
    return own + 0.5 * (float(np.mean(gain)) if gain else 0.0)


def choose_order(
    table: Table, columns: Sequence[str], spaces: dict[str, str], late: Sequence[str] = ()
) -> list[str]:
    """Greedy order within the codec's groups (integer, linear, log, then the `late` columns,
    which hold one value per event, then E), as `jetzip.codec.chunk.coding_order` codes them."""
    rows = np.linspace(0, table.n_rows - 1, min(ORDER_SAMPLE, table.n_rows)).astype(np.int64)
    values = {}
    for name in columns:
        y = transformed(table.columns[name][rows], spaces[name])
        y = np.where(np.isfinite(y), y, np.nan)
        values[name] = (y - np.nanmean(y)) / (np.nanstd(y) or 1.0)
        values[name] = np.nan_to_num(values[name])
    order = [c for c in columns if spaces[c] == "integer"]  # exact, decoded first, table order
    groups = [
        [c for c in columns if spaces[c] == "linear" and c not in late],
        [c for c in columns if spaces[c] == "log" and c != "E" and c not in late],
        [c for c in columns if spaces[c] != "integer" and c != "E" and c in late],
        [c for c in columns if spaces[c] == "log" and c == "E"],
    ]
    for group in groups:
        remaining = list(group)
        while remaining:
            known = [values[c] for c in order]
            scores = [_score(c, remaining, known, values) for c in remaining]
            best = remaining[int(np.argmax(scores))]
            order.append(best)
            remaining.remove(best)
    return order


class _Net(nn.Module):
    def __init__(self, n_inputs: int, hidden: Sequence[int]) -> None:
        super().__init__()
        widths = [n_inputs, *hidden] if n_inputs else []
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1] if widths else 1, 2)
        self.n_inputs = n_inputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.n_inputs:
            return self.head(torch.ones(len(x), 1))
        return self.head(self.body(x))


def _logistic_nll(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    mu, log_s = out[:, 0], out[:, 1].clamp(-12, 6)
    z = (y - mu) * torch.exp(-log_s)
    return (z + 2 * nn.functional.softplus(-z) + log_s).mean()


def _integer_network(
    net: _Net, in_mean: np.ndarray, in_std: np.ndarray, y_mean: float, y_std: float
) -> IntegerMLP:
    """The trained float network, input and output standardisation folded in, as integers."""
    linear = [m for m in net.body if isinstance(m, nn.Linear)] + [net.head]
    layers = [
        (m.weight.detach().double().numpy(), m.bias.detach().double().numpy()) for m in linear
    ]
    if net.n_inputs:
        w, b = layers[0]
        layers[0] = (w / in_std, b - w @ (in_mean / in_std))  # takes features, not z-scores
    else:  # a constant: the head's bias (its weight multiplies a constant 1)
        w, b = layers[0]
        layers[0] = (np.zeros((2, 0)), b + w[:, 0])
    w, b = layers[-1]
    out_w = np.stack([w[0] * y_std, w[1] / math.log(2)])
    out_b = np.array([b[0] * y_std + y_mean, b[1] / math.log(2) + math.log2(y_std)])
    layers[-1] = (out_w, out_b)
    activations = ["relu"] * (len(layers) - 1) + ["identity"]
    return IntegerMLP.from_float(
        layers,
        activations,
        input_bits=FEATURE_BITS,
        weight_bits=WEIGHT_BITS,
        hidden_bits=HIDDEN_BITS,
        output_bits=OUTPUT_BITS,
        input_limit=FEATURE_LIMIT,
        hidden_limit=2**26,
        output_limit=2**44,
    )


#: A table is trained per event too when at least this share of its rows follow a leader,
#: and a column keeps its per-event form when that saves this many nats per row on the
#: training rows (the codec still codes each chunk the smaller way).
MIN_FOLLOWERS = 0.05
MIN_GAIN_NATS = 0.01
#: The columns whose vector sum over an event a per-event column may read (MET balances it).
BALANCE = ("pt", "phi")
#: The training NLL of a follower that repeats its leader's code exactly (it costs no bits).
_REPEAT_NLL = -30.0


def _fit(
    raw: np.ndarray,
    y: np.ndarray,
    *,
    hidden: Sequence[int],
    epochs: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator,
) -> tuple[Conditional, float]:
    """A network from integer features `raw` to a logistic of `y` trained by maximum
    likelihood, as integers, with the shape of its standardised residuals; and its mean
    negative log-likelihood (nats per row, in y's units) on the rows."""
    x = raw / 2.0**FEATURE_BITS
    usable = np.isfinite(y)
    xs, ys = x[usable], y[usable]
    # a constant input (NanoAOD's unfilled b-tags) is not scaled: 1/1e-6 took the integer
    # network past its exactness bound
    spread = xs.std(axis=0)
    in_mean, in_std = xs.mean(axis=0), np.where(spread > 0, spread + 1e-6, 1.0)
    y_mean, y_std = float(ys.mean()), float(ys.std()) or 1.0
    net = _Net(raw.shape[1], hidden)
    xt = torch.tensor((xs - in_mean) / in_std, dtype=torch.float32)
    yt = torch.tensor((ys - y_mean) / y_std, dtype=torch.float32)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    steps = max(MIN_STEPS, epochs * (len(yt) // batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps)
    # one thread: these networks are small, and on a busy machine torch's thread pool spent
    # ~25x longer per step waiting for its threads than computing
    with single_thread():
        for _ in range(steps):
            batch = torch.from_numpy(rng.integers(0, len(yt), batch_size))
            loss = _logistic_nll(net(xt[batch]), yt[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        with torch.no_grad():
            nll = float(_logistic_nll(net(xt), yt)) + math.log(y_std)
    integer = _integer_network(net, in_mean, in_std, y_mean, y_std)
    out = integer(raw.astype(np.int64))
    mu = out[:, 0] * 2.0**-OUTPUT_BITS
    sigma = np.exp2((out[:, 1] >> SIGMA_SHIFT) / 256.0)
    shape = Shape.from_samples(((y - mu) / sigma)[usable])
    return Conditional(integer, shape), nll


def _event_form(
    events: EventRows,
    raw: np.ndarray,
    y: np.ndarray,
    repeats: bool,
    fit: Callable[[np.ndarray, np.ndarray], tuple[Conditional, float]],
    balance: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[EventForm, float]:
    """A column's per-event form (`jetzip.entropy.model.EventForm`), trained on the leaders
    and the followers of the training rows, and its mean NLL per row (nats); `repeats`: every
    event holds one value of the column (the followers need no network); `balance`: the
    (pt, phi) columns whose event sum the leaders read, when the column may."""
    leader_inputs = [raw[events.leaders], _integer(events.leader_multiplicity)]
    if balance is not None:
        magnitude, direction = transverse_sum(*balance, events)
        leader_inputs += [features(magnitude, "log").astype(np.float64),
                          features(direction, "linear")]  # fmt: skip
    leader, nll_leaders = fit(np.column_stack(leader_inputs), y[events.leaders])
    if repeats:
        follower, nll_followers = None, _REPEAT_NLL  # the event repeats the value
    else:
        leader_y = y[events.leaders[events.follower_leader]]
        leader_y = np.where(np.isfinite(leader_y), leader_y, 0.0)
        follower_inputs = np.column_stack(
            [
                raw[events.followers],
                _integer(events.follower_rank),
                _integer(events.follower_multiplicity),
                features(leader_y, "linear"),
            ]
        )
        follower, nll_followers = fit(follower_inputs, y[events.followers])
    n_leaders, n_followers = events.leaders.size, events.followers.size
    nll = (n_leaders * nll_leaders + n_followers * nll_followers) / events.n_rows
    return EventForm(leader, follower, BALANCE if balance is not None else None), nll


def _repeats(events: EventRows, values: np.ndarray) -> bool:
    """Whether every row of every event holds its leader's value (one value per event)."""
    follower_of = events.leaders[events.follower_leader]
    return np.array_equal(values[events.followers], values[follower_of], equal_nan=True)


def _integer(values: np.ndarray) -> np.ndarray:
    """Integer inputs (ranks, multiplicities) as the network's features of them."""
    return features(values.astype(np.float64), "integer")


def train_entropy_model(
    table: Table,
    columns: Sequence[str] | None = None,
    *,
    hidden: Sequence[int] = (32,),
    epochs: int = 4,
    batch_size: int = 2048,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
    source: Mapping[str, Any] | None = None,
) -> EntropyModel:
    """Train an entropy model on every numeric column of `table` (or `columns`); `source`
    (e.g. the collection and tree the table was read from) goes into the model's meta, which
    whole files use to pick the collection the model codes."""
    names = list(columns or table.names)
    missing = [c for c in names if c not in table.columns]
    if missing:
        raise InputError(f"the data lack column(s) {', '.join(missing)}")
    if table.n_rows < 100:
        raise InputError(f"an entropy model needs at least 100 rows, got {table.n_rows}")
    started = time.perf_counter()
    torch.manual_seed(seed)
    spaces = {c: column_space(table, c) for c in names}
    events = EventRows(table.event) if table.event is not None else None
    if events is not None and events.share_of_followers < MIN_FOLLOWERS:
        events = None
    per_event = (  # float columns holding one value per event (E stays last: choose_order)
        []
        if events is None
        else [c for c in names if spaces[c] != "integer" and _repeats(events, table.columns[c])]
    )
    order = choose_order(table, names, spaces, per_event)
    feats = {c: features(table.columns[c], spaces[c]).astype(np.float64) for c in order}
    targets = {c: transformed(table.columns[c], spaces[c]) for c in order}
    rng = np.random.default_rng(seed)
    fit = functools.partial(
        _fit, hidden=hidden, epochs=epochs, batch_size=batch_size, lr=lr, rng=rng
    )
    built = []
    for i, name in enumerate(order):
        context = order[:i]
        # integer features (float64), one column per context column
        raw = (
            np.column_stack([feats[c] for c in context]) if context else np.zeros((table.n_rows, 0))
        )
        flat, nll = fit(raw, targets[name])
        form = None
        if events is not None and spaces[name] != "integer":
            sums = None  # the event's vector sum, where pt and phi are decoded before
            if set(BALANCE) <= set(context):
                sums = (table.columns[BALANCE[0]], table.columns[BALANCE[1]])
            form, nll_events = _event_form(events, raw, targets[name], name in per_event, fit, sums)
            form = form if nll_events < nll - MIN_GAIN_NATS else None
        built.append(ColumnModel(name, spaces[name], context, flat.network, flat.shape, form))
        if progress:
            how = "" if form is None else f", per event {nll_events:.3f}"
            sys.stderr.write(f"  {name:>16}: {len(context)} inputs, nll {nll:.3f}{how}\n")
    seconds = time.perf_counter() - started
    meta = {
        "training_rows": table.n_rows,
        "training_seconds": round(seconds, 1),
        "hidden": list(hidden),
        "epochs": epochs,
        **(source or {}),
    }
    return EntropyModel(built, meta)


def train_entropy_command(table: Table, args: Any) -> str:
    """`jetzip train DATA -o MODEL_DIR --kind entropy`: train, write MODEL_DIR; the report."""
    out_dir = Path(args.output)
    if (out_dir / MODEL_FILE).exists() and not args.overwrite:
        raise OptionError(f"{out_dir} already holds a model; use --overwrite to replace it")
    options = {
        key: getattr(args, key)
        for key in ("epochs", "seed", "lr", "batch_size")
        if getattr(args, key, None) is not None
    }
    # a model of one collection records it (and its tree): whole files offer it that one,
    # named as they name it (`Jet_` -> `Jet`)
    collection = (getattr(args, "collection", None) or "").rstrip("_.")
    tree = table.meta.get("tree")
    source = {"collection": collection, **({"tree": tree} if tree else {})} if collection else None
    model = train_entropy_model(
        table,
        getattr(args, "columns", None),
        progress=not args.no_progress,
        source=source,
        **options,
    )
    path = model.save(out_dir)
    return (
        f"trained an entropy model of {len(model.columns)} columns"
        + (f" of collection {collection}" if collection else "")
        + f" on {table.n_rows:,} rows in "
        f"{model.meta['training_seconds']} s: {model.n_parameters:,} parameters, "
        f"{path.stat().st_size:,} bytes; wrote {path}"
    )
