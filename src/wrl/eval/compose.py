"""One agent from several training runs: each red guess's specialist taken from the run
that plays it best, chosen on held-out numba episodes (``wrl compose``).

Training runs of one config differ by seed more than by most levers (docs/training.md,
"The defender"), and a specialist agent's heads (``wrl.rl.state.GUESSES``: the opening
before red is identified, then one per red) can come from different runs. ``select_heads``
scores every assignment of a source run to each head (``k ** 4`` agents for ``k``
policies) by its CAGE2 total over the 3 reds x 30/50/100 steps, greedy on numba, and
returns the best. Each red's 30- and 50-step returns are the first 30 and 50 steps of its
100-step episodes: an agent cannot tell an episode's length, and on numba an episode's
first steps do not depend on it, so one 100-step episode serves all three cells.
"""
from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

import numpy as np
import pandas as pd

from wrl.atomic import atomic_write, clean_stale_temporaries
from wrl.errors import UsageError
from wrl.eval.evaluate import CAGE2
from wrl.rl.agent import PolicyAgent
from wrl.rl.model import ActorCritic, compose_heads, load_policy, save_policy
from wrl.rl.play import play
from wrl.rl.state import GUESSES

MAX_AGENTS = 256  #: the most assignments ``select_heads`` scores (4 policies)
SELECT_SEED = 20000  #: numba seed of the selection episodes, apart from ``wrl evaluate``'s 0 and training's held-out 10000 + seed


def cage2_total(model: ActorCritic, episodes: int, seed: int = SELECT_SEED,
                workers: int | None = None) -> dict[str, float]:
    """Greedy numba returns of ``model`` per CAGE2 cell (``'{red} {steps}'``, mean per
    episode over ``episodes`` episodes) and their sum ``'total'``, the 30- and 50-step
    cells read from the first steps of the 100-step episodes."""
    longest = max(CAGE2["steps"])
    cells: dict[str, float] = {}
    for red in CAGE2["red"]:
        rewards = play(PolicyAgent(model), "numba", red, episodes, longest, seed=seed,
                       workers=workers)["rewards"].astype(np.float64)
        for steps in CAGE2["steps"]:
            cells[f"{red} {steps}"] = float(rewards[:, :steps].sum(axis=1).mean())
    cells["total"] = sum(cells.values())
    return cells


def select_heads(models: list[ActorCritic], episodes: int, seed: int = SELECT_SEED,
                 workers: int | None = None) -> tuple[ActorCritic, pd.DataFrame]:
    """The best composition of ``models`` and the table of every one scored.

    Returns (agent, table): table has one row per assignment, best total first, with a
    column per head (the index of its source in ``models``), one per cell and ``total``.
    Ties keep the assignment that comes first in index order (earlier policies first).
    Raises ValueError for models that cannot be composed (``compose_heads``) or too many.
    """
    count = len(models) ** len(GUESSES)
    if count > MAX_AGENTS:
        raise ValueError(f"{len(models)} policies give {count} agents to score; give at most "
                         f"{round(MAX_AGENTS ** (1 / len(GUESSES)))}")
    rows = []
    for sources in itertools.product(range(len(models)), repeat=len(GUESSES)):
        agent = compose_heads(models, list(sources))
        rows.append({**dict(zip(GUESSES, sources)), **cage2_total(agent, episodes, seed, workers)})
    table = pd.DataFrame(rows).sort_values("total", ascending=False, kind="stable").reset_index(drop=True)
    best = [int(table.loc[0, head]) for head in GUESSES]
    return compose_heads(models, best), table


def write_composition(paths: list[str | os.PathLike], out: str | os.PathLike, episodes: int,
                      seed: int = SELECT_SEED, workers: int | None = None) -> pd.DataFrame:
    """``select_heads`` over the policies at ``paths``; writes the best agent to
    ``out/policy.pt`` and every assignment scored to ``out/heads.parquet`` (atomically,
    after cleaning a killed run's temporaries) and returns that table.

    Raises ValueError for policies that cannot be composed.
    """
    agent, table = select_heads([load_policy(p) for p in paths], episodes, seed, workers)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(out)
    atomic_write(out / "heads.parquet", lambda tmp: table.assign(
        policies=",".join(os.fspath(p) for p in paths)).to_parquet(tmp, index=False))
    save_policy(agent, out / "policy.pt")
    return table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``wrl compose``."""
    parser.add_argument("--policies", required=True,
                        help="policy.pt files of runs with one config and workflow (specialists), comma-separated")
    parser.add_argument("--out", required=True,
                        help="directory for policy.pt (the composed agent) and heads.parquet (every assignment scored)")
    parser.add_argument("--episodes", type=int, default=1000, help="numba episodes per red (default 1000)")
    parser.add_argument("--seed", type=int, default=SELECT_SEED,
                        help=f"numba seed of the selection episodes (default {SELECT_SEED})")
    parser.add_argument("--workers", type=int, default=None, help="numba threads (default all cores)")


def run(args: argparse.Namespace) -> int:
    """Score every composition, print the best few, write the best agent and the table."""
    paths = [p for p in args.policies.split(",") if p]
    if len(paths) < 2:
        raise UsageError(f"--policies {args.policies!r}: give two or more policy.pt files, comma-separated")
    if args.episodes < 1:
        raise UsageError(f"--episodes {args.episodes}: must be at least 1")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: must be at least 1 (or leave it out: all cores)")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: a file, not a directory; pass a directory")
    try:
        table = write_composition(paths, out, args.episodes, args.seed, args.workers)
    except ValueError as err:
        raise UsageError(f"--policies: {err}") from None
    for k, path in enumerate(paths):
        print(f"policy {k}: {path}")
    print(table.head(5).round(2).to_string(index=False))
    best = table.loc[0]
    print(f"summary: {len(table)} agents scored on {args.episodes} numba episodes per red (seed {args.seed}); "
          f"best total {best['total']:.2f}, written to {out / 'policy.pt'}")
    return 0
