"""``wrl demo``: a short tour of the env pool and the workflow model on the real CybORG.

Runs a few episodes of the greedy workflow oracle on a shared-memory CybORG pool and
prints the return and the compliance of its fixes. Used until the pipeline exists and
as a smoke test of an installation.
"""
from __future__ import annotations

import argparse

import numpy as np

from wrl.cage.scenario import RESTORE0
from wrl.vec import make_vec
from wrl.workflow import (
    episode_compliance, fix_compliance, format_workflow, parse_workflow, type_ranks,
)


def greedy_oracle_actions(compromised: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """int64[N]: Restore a compromised host of the highest-priority compromised type, else Sleep.

    compromised: bool[N, 13] true state; ranks: int[5] from ``type_ranks``.
    """
    from wrl.cage.scenario import HOST_UNIT

    host_rank = np.where(compromised, ranks[HOST_UNIT][None, :], 99)
    best = host_rank.argmin(axis=1)
    return np.where(compromised.any(axis=1), RESTORE0 + best, 0).astype(np.int64)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``wrl demo``."""
    parser.add_argument("--workflow", default="op_server,enterprise,defender,op_host,user")
    parser.add_argument("--envs", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--red", default="b_line")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    """Run one 100-step episode per env and print returns and compliance."""
    from wrl.cli import UsageError

    try:
        workflow = parse_workflow(args.workflow)
    except ValueError as err:
        raise UsageError(f"--workflow: {err}") from None
    if args.envs < 1 or not 1 <= args.workers <= args.envs:
        raise UsageError("--envs must be >= 1 and --workers between 1 and --envs")
    ranks = type_ranks(workflow)
    n = args.envs
    with make_vec("cyborg", n, args.red, seed=args.seed, workers=args.workers) as env:
        obs, info = env.reset()
        ret, fixes, good = np.zeros(n), np.zeros(n), np.zeros(n)
        for _ in range(100):
            actions = greedy_oracle_actions(info["compromised"], ranks)
            counted, compliant = fix_compliance(actions, info["compromised"], ranks)
            fixes += counted
            good += compliant
            obs, reward, _, trunc, info = env.step(actions)
            ret += reward
    print(f"workflow {format_workflow(workflow)} vs {args.red}, {n} CybORG envs "
          f"in {args.workers} worker processes")
    for i in range(n):
        print(f"env {i}: return {ret[i]:8.1f}  fixes {int(fixes[i]):3d}  "
              f"compliance {episode_compliance(good[i], fixes[i]):.2f}")
    print(f"summary: mean return {ret.mean():.1f} (a sleeping blue gets about -1134 vs b_line)")
    return 0
