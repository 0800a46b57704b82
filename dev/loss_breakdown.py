"""Where does a policy lose its return? Greedy numba episodes, broken down per host and cause.

Usage: .venv/bin/python dev/loss_breakdown.py POLICY.pt RED [--episodes 1000] [--steps 100] [--seed 123]

Plays POLICY greedily (``wrl.rl.agent.load``) against RED on numba with red's action log
and prints, per host and episode: steps red held root there, steps compromised, the
confidentiality loss those root steps cost, the agent's Restores, Removes, decoys and
Analyses, and red's successful/failed exploits of the host; then the totals. The
numbers behind docs/training.md, "Where the rest of the loss is".
"""
import argparse

import numpy as np

from wrl.env import sim_state
from wrl.env.scenario import ACTION_HOST, ACTION_KIND, ACTION_KINDS, DECOYS, HOSTS, KIND_INDEX, NUM_HOSTS
from wrl.env.sim_tables import CONF_TENTHS
from wrl.env.vec import make_vec
from wrl.rl.agent import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy")
    parser.add_argument("red")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args()
    n = args.episodes
    agent = load(args.policy)
    kinds = np.zeros((len(ACTION_KINDS), NUM_HOSTS))
    root, comp, exploits = np.zeros(NUM_HOSTS), np.zeros(NUM_HOSTS), np.zeros((NUM_HOSTS, 2))
    returns = np.zeros(n)
    with make_vec("numba", n, args.red, max_steps=args.steps, seed=args.seed, log_red=True) as env:
        obs, info = env.reset()
        first = np.ones(n, bool)
        for _ in range(args.steps):
            actions = agent.act(obs, first, info)
            np.add.at(kinds, (ACTION_KIND[actions], np.maximum(ACTION_HOST[actions], 0)), 1)
            obs, reward, _, first, info = env.step(actions)
            returns += reward
            root += info["red_root"].sum(0)
            comp += info["compromised"].sum(0)
            log = info["red_action"]
            hit = log[:, sim_state.RL_KIND] == sim_state.R_EXPLOIT
            np.add.at(exploits, (log[hit, sim_state.RL_TARGET], 1 - log[hit, sim_state.RL_SUCCESS]), 1)
    conf = root * CONF_TENTHS / 10
    decoys = kinds[KIND_INDEX[DECOYS[0]]:KIND_INDEX[DECOYS[-1]] + 1].sum(0)
    print(f"{args.policy} vs {args.red}, {n} greedy numba episodes of {args.steps} steps: "
          f"return {returns.mean():.2f} ± {returns.std(ddof=1) / np.sqrt(n):.2f}; per episode:")
    print("host          root  compromised  conf loss  restores  removes  decoys  analyses  exploits ok/failed")
    for h in range(NUM_HOSTS):
        print(f"{HOSTS[h]:12s} {root[h] / n:5.1f} {comp[h] / n:12.1f} {conf[h] / n:10.2f} "
              f"{kinds[KIND_INDEX['Restore'], h] / n:9.2f} {kinds[KIND_INDEX['Remove'], h] / n:8.2f} "
              f"{decoys[h] / n:7.2f} {kinds[KIND_INDEX['Analyse'], h] / n:9.2f}  "
              f"{exploits[h, 0] / n:.2f}/{exploits[h, 1] / n:.2f}")
    print(f"total: confidentiality loss {conf.sum() / n:.2f}, Restores {kinds[KIND_INDEX['Restore']].sum() / n:.2f} "
          f"(-1 each), Sleep {kinds[0].sum() / n:.1f}, Monitor {kinds[1].sum() / n:.1f}")


if __name__ == "__main__":
    main()
