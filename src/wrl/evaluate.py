"""Evaluation protocol (CAGE2 style): a policy's episode returns per red agent and length.

``evaluate_policy`` runs a trained ``policy.pt`` (greedy argmax or stochastic) or a
baseline (``wrl.baselines``) on either backend and returns one row per episode;
``leaderboard`` turns rows into the CAGE2 table: mean and 95% CI per (red, steps) cell
and the total over cells. ``wrl evaluate`` is the command-line face of both.
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from wrl.atomic import atomic_write, clean_stale_temporaries
from wrl.cage.red import RED_AGENTS
from wrl.cage.scenario import MAX_STEPS, OBS_DIM
from wrl.vec import BACKENDS, make_vec

MODES = ("greedy", "stochastic")
#: the CAGE2 protocol (DESIGN.md): every red x every length, 1000 greedy episodes per cell, real CybORG
CAGE2 = {"backend": "cyborg", "red": ["b_line", "meander", "sleep"], "steps": [30, 50, 100], "episodes": 1000}
#: published CAGE Challenge 2 leaderboard rows (team: total ± 95% CI, and the cells we have)
PUBLISHED = {
    "CardiffUni (published)": ((-54.57, 0.43), {("b_line", 100): -13.76, ("meander", 100): -16.6}),
    "Keeping it RL (published)": ((-56.9, 0.59), {("b_line", 100): -11.39, ("meander", 100): -19.38}),
    "Mindrake (published)": ((-57.05, 0.56), {("b_line", 100): -12.78, ("meander", 100): -17.65}),
}
#: the largest pool an evaluation builds per backend (episodes beyond it run in sequence)
MAX_ENVS = {"numba": 1024, "cyborg": 16}


class TrainedPolicy:
    """A ``wrl.agent.PolicyAgent`` in the baselines' interface: ``act(obs, info)``, ``reset(mask)``."""

    def __init__(self, agent, num_envs: int):
        self.agent = agent
        self.first = np.ones(num_envs, bool)

    def act(self, obs: np.ndarray, info: dict) -> np.ndarray:
        """Actions for a batch of observations (argmax when greedy, else sampled)."""
        actions = self.agent.act(obs, self.first)
        self.first[:] = False
        return actions

    def reset(self, mask: np.ndarray) -> None:
        """The envs in ``mask`` (bool[N]) start a new episode with their next observation."""
        self.first |= np.asarray(mask, bool)


def load_any_policy(policy, num_envs: int, mode: str = "greedy", seed: int = 0):
    """A ``policy.pt`` path, a baseline name or a ``wrl.ppo.ActorCritic`` as an object with
    ``act`` and ``reset``."""
    from wrl.agent import PolicyAgent, load
    from wrl.ppo import ActorCritic

    if isinstance(policy, ActorCritic):
        return TrainedPolicy(PolicyAgent(policy, greedy=(mode == "greedy"), seed=seed), num_envs)
    if policy.endswith(".pt") or os.path.sep in policy:
        if not Path(policy).is_file():
            raise FileNotFoundError(f"--policy {policy}: no such file; give a policy.pt path "
                                    "or a baseline name")
        return TrainedPolicy(load(policy, greedy=(mode == "greedy"), seed=seed), num_envs)
    from wrl.baselines import make_baseline

    return make_baseline(policy, num_envs, seed)


def play(policy, backend: str, red: str, episodes: int, steps: int = MAX_STEPS,
         green: str = "sleep", mode: str = "greedy", seed: int = 0,
         workers: int | None = None) -> dict[str, np.ndarray]:
    """Play ``episodes`` episodes of ``steps`` steps of ``policy`` vs (red, green) on ``backend``.

    ``policy`` is a name, a path or a model (see ``load_any_policy``). Returns ``returns``
    float64[E], ``rewards`` float32[E, steps], ``bits`` float64[E, 52] (fraction of the
    episode's observations with each bit set) and ``first_impact`` int64[E] (1..steps,
    ``steps + 1`` when red never chose Impact). Envs run in a pool of at most
    ``MAX_ENVS[backend]``; episodes are taken in (round, env) order, so the result
    depends only on the arguments.
    """
    n = min(episodes, MAX_ENVS[backend])
    rounds = -(-episodes // n)
    agent = load_any_policy(policy, n, mode, seed)
    rewards = np.zeros((rounds, n, steps), np.float32)
    bits = np.zeros((rounds, n, OBS_DIM))
    first = np.full((rounds, n), steps + 1, np.int64)
    with make_vec(backend, n, red, green=green, max_steps=steps, seed=seed,
                  workers=workers) as env:
        obs, info = env.reset()
        for r in range(rounds):
            for t in range(steps):
                obs, reward, _, truncated, info = env.step(agent.act(obs, info))
                rewards[r, :, t] = reward
                bits[r] += np.where(truncated[:, None], info["final_obs"], obs)
                first[r, info["impact"] & (first[r] > steps)] = t + 1
            if not truncated.all():
                raise RuntimeError(f"{backend}: episodes did not end after {steps} steps")
            agent.reset(truncated)
    rewards = rewards.reshape(-1, steps)[:episodes]
    return {"returns": rewards.astype(np.float64).sum(axis=1), "rewards": rewards,
            "bits": bits.reshape(-1, OBS_DIM)[:episodes] / steps,
            "first_impact": first.reshape(-1)[:episodes]}


def evaluate_policy(policy: str, backend: str, reds: list[str], steps: list[int], episodes: int,
                    mode: str = "greedy", seed: int = 0, workers: int | None = None) -> pd.DataFrame:
    """One row per episode: policy, backend, mode, red, steps, episode, return."""
    frames = []
    for red in reds:
        for t in steps:
            returns = play(policy, backend, red, episodes, t, mode=mode, seed=seed,
                           workers=workers)["returns"]
            frames.append(pd.DataFrame({
                "policy": policy, "backend": backend, "mode": mode, "red": red, "steps": t,
                "episode": np.arange(episodes), "return": returns}))
    return pd.concat(frames, ignore_index=True)


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Per (policy, red, steps): episodes, mean, sd, and the 95% CI half-width of the mean."""
    g = df.groupby(["policy", "red", "steps"], sort=False)["return"]
    s = g.agg(episodes="count", mean="mean", sd="std").reset_index()
    s["sd"] = s["sd"].fillna(0.0)
    s["ci95"] = 1.96 * s["sd"] / np.sqrt(s["episodes"])
    return s


def leaderboard(df: pd.DataFrame, published: bool = False) -> str:
    """A markdown table shaped like the CAGE2 leaderboard: one row per policy, one
    ``mean ± ci95`` cell per (red, steps), and the total (sum of cell means, CI combined).

    published: add the published CAGE2 rows (``PUBLISHED``: their totals, and the cells
    of theirs we know) below ours; their totals compare with ours only over all 9 cells.
    """
    s = summarise(df)
    cells = list(dict.fromkeys(zip(s["red"], s["steps"])))
    head = ["policy"] + [f"{r} {t}" for r, t in cells] + ["total"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = []
    for policy, p in s.groupby("policy", sort=False):
        by = {(r, t): (m, c) for r, t, m, c in zip(p["red"], p["steps"], p["mean"], p["ci95"])}
        total = sum(m for m, _ in by.values())
        total_ci = math.sqrt(sum(c * c for _, c in by.values()))
        row = [str(policy)] + [f"{by[c][0]:.1f} ± {by[c][1]:.1f}" if c in by else "" for c in cells]
        rows.append((total, row + [f"{total:.1f} ± {total_ci:.1f}"]))
    for _, row in sorted(rows, key=lambda x: -x[0]):
        lines.append("| " + " | ".join(row) + " |")
    if published:
        for team, ((total, ci), known) in PUBLISHED.items():
            row = [team] + [f"{known[c]:.2f}" if c in known else "" for c in cells] + [f"{total:.2f} ± {ci:.2f}"]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


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
    from wrl.cli import UsageError

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
