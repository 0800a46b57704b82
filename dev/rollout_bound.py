"""What would planning at every step gain over a policy, if the planner saw the true state?

Usage: .venv/bin/python dev/rollout_bound.py POLICY.pt [--red b_line] [--episodes 128]
       [--steps 100] [--top 8] [--rollouts 32] [--seed 11]

One-step lookahead over POLICY (the rollout algorithm of approximate dynamic programming)
on numba: at every step of every episode, each of the policy's ``--top`` most likely
allowed actions is scored by ``--rollouts`` playouts to the episode's end from a copy of the
*true* simulator state (every host, red's state machine and its knowledge: what no CybORG
agent sees), the greedy policy playing every later step; the best mean is played. The
playouts draw new random streams, the same ones for every candidate (common random
numbers). Prints the greedy policy's and the lookahead's mean return on the same episodes
(± one SE) and their paired difference. A bound on a planner, not a defender: the probe
behind docs/training.md's "Planning with the true state".
"""
import argparse
import time

import numba
import numpy as np
import torch

from wrl.env.sim_env import SimVecEnv
from wrl.env.sim_state import seed_streams
from wrl.rl.agent import PolicyAgent
from wrl.rl.model import MASKED_LOGIT, load_policy
from wrl.rl.state import AgentState


def se(x: np.ndarray) -> float:
    """Standard error of the mean of x."""
    return float(x.std(ddof=1) / np.sqrt(len(x)))


def lookahead_returns(path: str, red: str, episodes: int, steps: int, top: int, rollouts: int,
                      seed: int) -> tuple[np.ndarray, float]:
    """(returns float64[episodes], fraction of steps that kept the policy's own action) of
    the lookahead agent; ``top`` 1 is the greedy policy itself (no playouts)."""
    model = load_policy(path)
    real = SimVecEnv(episodes, red, max_steps=steps, seed=seed)
    agent = PolicyAgent(model)
    n = episodes * top * rollouts
    src = np.repeat(np.arange(episodes), top * rollouts)       # playout -> episode
    cand = np.tile(np.repeat(np.arange(top), rollouts), episodes)  # playout -> candidate
    draw = src * rollouts + np.tile(np.arange(rollouts), episodes * top)  # its random stream
    sim = SimVecEnv(n, red, max_steps=steps, seed=seed + 1) if top > 1 else None
    player = PolicyAgent(model)
    player.state = AgentState(model.memory, n, model.mask_decoys, model.next_decoy)
    streams = np.zeros(episodes * rollouts, np.uint64)
    obs, _ = real.reset()
    first = np.ones(episodes, bool)
    total, kept = np.zeros(episodes), 0
    for t in range(steps):
        logits, _ = agent.logits(obs, first)
        best = torch.topk(logits, top, dim=-1)
        cands = best.indices.numpy()                            # [episodes, top], likeliest first
        pick = np.zeros(episodes, np.int64)
        if sim is not None:
            seed_streams(streams, seed * 1_000_003 + t, 0)
            sim.load_state(real, src, streams[draw])
            player.state.load_state(agent.state, src)
            a0 = cands[src, cand]
            player.state.record(a0)
            out, ret, _, done, _ = sim.step(a0)
            ret = ret.astype(np.float64)
            while not done.all():
                out, reward, _, truncated, _ = sim.step(player.act(out, np.zeros(n, bool)))
                ret += np.where(done, 0.0, reward)
                done |= truncated
            q = ret.reshape(episodes, top, rollouts).mean(-1)
            q[best.values.numpy() <= MASKED_LOGIT] = -np.inf        # masked: never taken
            pick = q.argmax(-1)
        kept += int((pick == 0).sum())
        actions = cands[np.arange(episodes), pick]
        agent.state.record(actions)
        obs, reward, _, first, _ = real.step(actions)
        total += reward
    return total, kept / (episodes * steps)


def main() -> None:
    """Parse the arguments, play the greedy policy and the lookahead, print both."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("policy")
    p.add_argument("--red", default="b_line")
    p.add_argument("--episodes", type=int, default=128)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--top", type=int, default=8)
    p.add_argument("--rollouts", type=int, default=32)
    p.add_argument("--seed", type=int, default=11)
    a = p.parse_args()
    torch.set_num_threads(2)
    numba.set_num_threads(2)
    base, _ = lookahead_returns(a.policy, a.red, a.episodes, a.steps, 1, 1, a.seed)
    t0 = time.time()
    look, kept = lookahead_returns(a.policy, a.red, a.episodes, a.steps, a.top, a.rollouts, a.seed)
    print(f"{a.red} {a.steps} steps, {a.episodes} episodes (seed {a.seed}), top {a.top} x "
          f"{a.rollouts} playouts, {time.time() - t0:.0f} s: greedy {base.mean():.2f} ± {se(base):.2f}, "
          f"lookahead {look.mean():.2f} ± {se(look):.2f}, difference {(look - base).mean():+.2f} ± "
          f"{se(look - base):.2f}; policy's own action kept in {kept:.3f} of steps")


if __name__ == "__main__":
    main()
