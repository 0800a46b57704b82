"""Evaluation protocol (CAGE2 style): a policy's episode returns per red agent and length.

``evaluate_policy`` runs a trained ``policy.pt`` (greedy argmax or stochastic) or a
baseline (``wrl.eval.baselines``) on either backend and returns one row per episode;
``leaderboard`` turns rows into the CAGE2 table: mean and 95% CI per (red, steps) cell
and the total over cells. ``wrl evaluate`` is the command-line face of both.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd

from wrl.atomic import atomic_write, clean_stale_temporaries
from wrl.env.red import RED_AGENTS
from wrl.env.scenario import MAX_STEPS
from wrl.env.vec import BACKENDS
from wrl.eval.table import markdown_table, summarise
from wrl.rl.play import play, pool_size

MODES = ("greedy", "stochastic")
#: the CAGE2 protocol (DESIGN.md): every red x every length, 1000 greedy episodes per cell, real CybORG
CAGE2 = {"backend": "cyborg", "red": ["b_line", "meander", "sleep"], "steps": [30, 50, 100], "episodes": 1000}


def load_any_policy(policy, num_envs: int, mode: str = "greedy", seed: int = 0):
    """An agent (``wrl.rl.agent.Agent``) for ``num_envs`` envs: a ``policy.pt`` path, a
    baseline name (``wrl.eval.baselines``) or a ``wrl.rl.model.ActorCritic``."""
    from wrl.rl.agent import PolicyAgent, load
    from wrl.rl.model import ActorCritic

    if isinstance(policy, ActorCritic):
        return PolicyAgent(policy, greedy=(mode == "greedy"), seed=seed)
    if policy.endswith(".pt") or os.path.sep in policy:
        if not Path(policy).is_file():
            raise FileNotFoundError(f"--policy {policy}: no such file; give a policy.pt path "
                                    "or a baseline name")
        return load(policy, greedy=(mode == "greedy"), seed=seed)
    from wrl.eval.baselines import make_baseline

    return make_baseline(policy, num_envs, seed)


def play_policy(policy, backend: str, red: str, episodes: int, steps: int = MAX_STEPS,
                green: str = "sleep", mode: str = "greedy", seed: int = 0,
                workers: int | None = None) -> dict[str, np.ndarray]:
    """``wrl.rl.play.play`` of ``policy`` (anything ``load_any_policy`` takes, ``mode``
    greedy or stochastic)."""
    agent = load_any_policy(policy, pool_size(backend, episodes), mode, seed)
    return play(agent, backend, red, episodes, steps, green=green, seed=seed, workers=workers)


def evaluate_policy(policy: str, backend: str, reds: list[str], steps: list[int], episodes: int,
                    mode: str = "greedy", seed: int = 0, workers: int | None = None) -> pd.DataFrame:
    """One row per episode: policy, backend, mode, red, steps, episode, return."""
    frames = []
    for red in reds:
        for t in steps:
            returns = play_policy(policy, backend, red, episodes, t, mode=mode, seed=seed,
                           workers=workers)["returns"]
            frames.append(pd.DataFrame({
                "policy": policy, "backend": backend, "mode": mode, "red": red, "steps": t,
                "episode": np.arange(episodes), "return": returns}))
    return pd.concat(frames, ignore_index=True)


def leaderboard(df: pd.DataFrame, published: bool = False) -> str:
    """The CAGE2-shaped markdown table of per-episode rows ``df`` (``wrl.eval.table``);
    published: the published CAGE2 rows below ours, when all 9 cells are there."""
    return markdown_table(summarise(df), published)


def write_results(df: pd.DataFrame, out_dir: str | os.PathLike, published: bool = False) -> None:
    """Write ``evaluation.parquet`` and ``leaderboard.md`` (``leaderboard(df, published)``)
    atomically into ``out_dir``.

    Stale temporaries in ``out_dir`` (left by a killed earlier run) are deleted first.
    """
    out = Path(out_dir)
    clean_stale_temporaries(out)
    atomic_write(out / "evaluation.parquet", lambda tmp: df.to_parquet(tmp, index=False))
    table = leaderboard(df, published) + "\n"
    atomic_write(out / "leaderboard.md", lambda tmp: tmp.write_text(table))


def _csv(kind, name: str):
    def parse(text: str):
        try:
            return [kind(x) for x in text.split(",") if x]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} {text!r}: give comma-separated values") from None
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``wrl evaluate``."""
    parser.add_argument("--protocol", choices=("custom", "cage2"), default="custom",
                        help="cage2: the CAGE2 protocol (real CybORG, reds b_line,meander,sleep x "
                             "steps 30,50,100, greedy, 1000 episodes per cell unless --episodes), "
                             "printed beside the published leaderboard rows")
    parser.add_argument("--policy", required=True, type=_csv(str, "--policy"),
                        help="policy.pt path(s) or baseline name(s): sleep, random, "
                             "react_restore, decoy_heavy, decoy_remove, decoy_all, "
                             "restore_opserver, oracle:W; comma-separated")
    parser.add_argument("--backend", choices=BACKENDS, default=None, help="default cyborg")
    parser.add_argument("--red", type=_csv(str, "--red"), default=None,
                        help="red agents, comma-separated (default b_line,meander,sleep)")
    parser.add_argument("--steps", type=_csv(int, "--steps"), default=None,
                        help="episode lengths, comma-separated (default 30,50,100)")
    parser.add_argument("--episodes", type=int, default=None,
                        help="episodes per cell (default 100; 1000 under --protocol cage2)")
    parser.add_argument("--mode", choices=MODES, default=None,
                        help="greedy (argmax) or stochastic actions for trained policies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None,
                        help="processes (cyborg) or threads (numba); default all cores")
    parser.add_argument("--out", default=None, help="directory for evaluation.parquet and leaderboard.md")


def run(args: argparse.Namespace) -> int:
    """Evaluate every policy, print the leaderboard, write it with ``--out``."""
    from wrl.errors import UsageError

    cage2 = args.protocol == "cage2"
    for flag, value in (("backend", "cyborg"), ("red", CAGE2["red"]), ("steps", CAGE2["steps"]), ("mode", "greedy")):
        given = getattr(args, flag)
        if cage2 and given is not None and given != value:
            raise UsageError(f"--{flag} {given}: the cage2 protocol fixes it to {value}; drop the flag "
                             "or use --protocol custom")
        if given is None:
            setattr(args, flag, value)
    if args.episodes is None:
        args.episodes = CAGE2["episodes"] if cage2 else 100

    for red in args.red:
        if red not in RED_AGENTS:
            raise UsageError(f"--red {red}: not a red agent; use {','.join(RED_AGENTS)}")
    if any(t < 1 for t in args.steps):
        raise UsageError(f"--steps {args.steps}: every length must be at least 1")
    if args.episodes < 1:
        raise UsageError(f"--episodes {args.episodes}: must be at least 1")
    try:
        df = pd.concat([evaluate_policy(p, args.backend, args.red, args.steps, args.episodes,
                                        args.mode, args.seed, args.workers) for p in args.policy],
                       ignore_index=True)
    except ValueError as err:
        raise UsageError(str(err)) from None
    print(leaderboard(df, published=cage2))
    if args.out:
        write_results(df, args.out, published=cage2)
    n = len(df)
    print(f"summary: {len(args.policy)} policies x {len(args.red) * len(args.steps)} cells, "
          f"{n} episodes on {args.backend}")
    return 0
