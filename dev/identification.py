"""How well the agent's state tells the red agents apart: its guess per red at given steps.

Usage: .venv/bin/python dev/identification.py [--backend numba|cyborg] [--episodes 3000]
       [--blue sleep,react_restore] [--steps 3,5,10]

For every blue (a baseline or a policy.pt, so that blue may act during the opening) and
every red, plays ``--episodes`` episodes on the backend, runs ``wrl.rl.state.AgentState``
on the observations and the blue's own actions, and prints the share of episodes whose
guess is right, still unknown or wrong at each step of ``--steps`` (step 0 is the first
observation).
"""
import argparse

import numpy as np

from wrl.env import make_vec
from wrl.eval.evaluate import load_any_policy
from wrl.rl.play import pool_size
from wrl.rl.state import GUESSES, UNKNOWN, AgentState


def guesses(backend: str, red: str, blue: str, episodes: int, steps: int, seed: int) -> np.ndarray:
    """int64[episodes, steps]: the guess after each step's observation, per episode."""
    n = pool_size(backend, episodes)
    out = []
    for r in range(-(-episodes // n)):
        agent = load_any_policy(blue, n, "greedy", seed + r)
        state = AgentState("bookkeeping", n)
        rows = np.zeros((n, steps), np.int64)
        with make_vec(backend, n, red, max_steps=steps, seed=seed + r, workers=2) as env:
            obs, info = env.reset()
            first = np.ones(n, bool)
            for t in range(steps):
                state.observe(obs, first)
                rows[:, t] = state.guess()
                actions = agent.act(obs, first, info)
                state.record(actions)
                obs, _, _, first, info = env.step(actions)
        out.append(rows)
    return np.concatenate(out)[:episodes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numba", choices=("numba", "cyborg"))
    parser.add_argument("--episodes", type=int, default=3000)
    parser.add_argument("--blue", default="sleep,react_restore")
    parser.add_argument("--steps", default="3,5,10")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    at = [int(s) for s in args.steps.split(",")]
    print(f"| blue | red | {' | '.join(f'step {t}: right / unknown / wrong' for t in at)} |")
    print("|---|---|" + "---|" * len(at))
    for blue in args.blue.split(","):
        for red in ("b_line", "meander", "sleep"):
            g = guesses(args.backend, red, blue, args.episodes, max(at) + 1, args.seed)
            cells = []
            for t in at:
                right, unknown = g[:, t] == GUESSES.index(red), g[:, t] == UNKNOWN
                cells.append(f"{right.mean():.3f} / {unknown.mean():.3f} / {(~right & ~unknown).mean():.3f}")
            print(f"| {blue} | {red} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
