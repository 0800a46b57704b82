"""What is it worth to know which red shells a Remove clears? An oracle, and what an agent can do instead.

Usage: .venv/bin/python dev/remove_oracle.py POLICY.pt [--episodes 2000] [--seed 5]

Plays POLICY greedily on numba against B_line and Meander (30, 50 and 100 steps), as it is
and changed, on the same seeds; prints each arm's mean return ± SE and the paired
difference:
- ``oracle``: each Restore the policy picks on a host where red holds only detected user
  shells (the ones Remove clears: ``H_UDET`` > 0, no hidden shell, no root) becomes a Remove
  of that host. No CybORG agent knows this: an HTTP or HTTPS user shell, BlueKeep's root and
  SSH's hidden shell all show blue the same "Exploit, User".
- ``watch`` (B_line only): the observable stand-in. Each Restore of an Enterprise host becomes
  a Remove; if the observation one step later shows no red activity on that host (B_line
  re-exploits it at once when the Remove cleared its shell), the host is restored the step
  after that.
The numbers behind docs/training.md, "Knowing which shells a Remove clears".
"""
import argparse

import numpy as np

from wrl.env import sim_state
from wrl.env.scenario import ACTION_HOST, ACTION_KIND, HOST_INDEX, HOSTS, KIND_INDEX, action_id
from wrl.env.sim_env import SimVecEnv
from wrl.rl.agent import load

REMOVE = np.array([action_id("Remove", h) for h in HOSTS])
RESTORE = np.array([action_id("Restore", h) for h in HOSTS])
ENTERPRISE = np.array([HOST_INDEX[h] for h in ("Enterprise0", "Enterprise1", "Enterprise2")])


class Watch:
    """Per env: the host Removed in place of a Restore (-1: none), when, and whether red was
    seen on it in the next step's observation."""

    def __init__(self, n: int):
        self.host, self.step, self.seen = np.full(n, -1), np.zeros(n, int), np.zeros(n, bool)

    def change(self, a: np.ndarray, t: int) -> np.ndarray:
        """The actions int64[N] of step t after the rule (``a``: the policy's)."""
        due = (self.host >= 0) & (t == self.step + 2)
        restore = due & ~self.seen
        a = np.where(restore, RESTORE[np.maximum(self.host, 0)], a)
        self.host[due] = -1
        h = ACTION_HOST[a]
        swap = (ACTION_KIND[a] == KIND_INDEX["Restore"]) & np.isin(h, ENTERPRISE) & (self.host < 0) & ~restore
        self.host[swap], self.step[swap], self.seen[swap] = h[swap], t, False
        return np.where(swap, REMOVE[h], a)

    def observe(self, obs: np.ndarray, t: int) -> None:
        """Note red's activity (the host's first observation bit) one step after a Remove."""
        look = np.flatnonzero((self.host >= 0) & (t == self.step + 1))
        self.seen[look] = obs[look, 4 * self.host[look]] > 0


def play(policy: str, red: str, steps: int, episodes: int, seed: int, arm: str) -> np.ndarray:
    """Returns float64[episodes] of POLICY greedy with the change ``arm`` (none|oracle|watch)."""
    env = SimVecEnv(episodes, red, max_steps=steps, seed=seed)
    agent, watch = load(policy), Watch(episodes)
    obs, _ = env.reset()
    first, returns, rows = np.ones(episodes, bool), np.zeros(episodes), np.arange(episodes)
    for t in range(steps):
        logits, _ = agent.logits(obs, first)
        a = logits.argmax(-1).numpy()
        if arm == "oracle":
            h = ACTION_HOST[a]
            hosts = env._hosts[rows, h]
            only_detected = ((hosts[:, sim_state.H_UDET] > 0) & (hosts[:, sim_state.H_UHID] == 0)
                             & (hosts[:, sim_state.H_PRIV] == 0))
            a = np.where((ACTION_KIND[a] == KIND_INDEX["Restore"]) & only_detected, REMOVE[h], a)
        elif arm == "watch":
            a = watch.change(a, t)
        agent.state.record(a)
        obs, reward, _, _, _ = env.step(a)
        if arm == "watch":
            watch.observe(obs, t)
        returns += reward
        first[:] = False
    return returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy")
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    for red in ("b_line", "meander"):
        for steps in (30, 50, 100):
            base = play(args.policy, red, steps, args.episodes, args.seed, "none")
            line = f"{red} {steps}: greedy {base.mean():.2f} ± {base.std(ddof=1) / np.sqrt(len(base)):.2f}"
            for arm in ("oracle", "watch") if red == "b_line" else ("oracle",):
                r = play(args.policy, red, steps, args.episodes, args.seed, arm)
                d = r - base
                line += (f"; {arm} {r.mean():.2f} (difference {d.mean():+.2f} ± "
                         f"{d.std(ddof=1) / np.sqrt(len(d)):.2f})")
            print(line, flush=True)


if __name__ == "__main__":
    main()
