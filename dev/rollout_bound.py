"""What would planning at every step gain over a policy, if the planner saw the true state?

Usage: .venv/bin/python dev/rollout_bound.py POLICY.pt [--red b_line] [--episodes 128]
       [--steps 100] [--top 8] [--rollouts 32] [--seed 11] [--removes Enterprise1,Enterprise2]

One-step lookahead over POLICY (the rollout algorithm of approximate dynamic programming)
on numba: at every step of every episode, each of the policy's ``--top`` most likely
allowed actions is scored by ``--rollouts`` playouts to the episode's end from a copy of the
*true* simulator state (every host, red's state machine and its knowledge: what no CybORG
agent sees), the greedy policy playing every later step; the best mean is played. The
playouts draw new random streams, the same ones for every candidate (common random
numbers). ``--removes`` adds a Remove on each named host to the candidates at every step
(``cage2.pt`` never removes, so its likeliest actions hold none). Prints the greedy
policy's and the lookahead's mean return on the same episodes (± one SE), their paired
difference and the Removes played. A bound on a planner, not a defender: the probe behind
docs/training.md's "Planning with the true state".
"""
import argparse
import time

import numba
import numpy as np
import torch

from wrl.env.scenario import action_id
from wrl.env.sim_env import SimVecEnv
from wrl.env.sim_state import seed_streams
from wrl.rl.agent import PolicyAgent
from wrl.rl.model import MASKED_LOGIT, load_policy
from wrl.rl.state import AgentState


def se(x: np.ndarray) -> float:
    """Standard error of the mean of x."""
    return float(x.std(ddof=1) / np.sqrt(len(x)))


def lookahead_returns(path: str, red: str, episodes: int, steps: int, top: int, rollouts: int,
                      seed: int, removes: tuple[str, ...] = ()) -> tuple[np.ndarray, float, float]:
    """(returns float64[episodes], fraction of steps that kept the policy's own action,
    Removes played per episode) of the lookahead agent over the policy's ``top`` likeliest
    actions and a Remove on each host of ``removes``; ``top`` 1 is the greedy policy itself
    (no playouts)."""
    model = load_policy(path)
    extra = np.array([action_id("Remove", h) for h in removes], np.int64)
    width = top + len(extra) if top > 1 else 1
    real = SimVecEnv(episodes, red, max_steps=steps, seed=seed)
    agent = PolicyAgent(model)
    n = episodes * width * rollouts
    src = np.repeat(np.arange(episodes), width * rollouts)       # playout -> episode
    cand = np.tile(np.repeat(np.arange(width), rollouts), episodes)  # playout -> candidate
    draw = src * rollouts + np.tile(np.arange(rollouts), episodes * width)  # its random stream
    sim = SimVecEnv(n, red, max_steps=steps, seed=seed + 1) if top > 1 else None
    player = PolicyAgent(model)
    player.state = AgentState(model.memory, n, model.mask_decoys, model.next_decoy)
    streams = np.zeros(episodes * rollouts, np.uint64)
    obs, _ = real.reset()
    first = np.ones(episodes, bool)
    total, kept, played_removes = np.zeros(episodes), 0, 0
    for t in range(steps):
        logits, _ = agent.logits(obs, first)
        best = torch.topk(logits, top, dim=-1)
        cands = best.indices.numpy()                            # [episodes, top], likeliest first
        scores = best.values.numpy()
        if sim is not None and len(extra):
            cands = np.concatenate([cands, np.tile(extra, (episodes, 1))], axis=1)
            scores = np.concatenate([scores, np.zeros((episodes, len(extra)), scores.dtype)], axis=1)
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
            q = ret.reshape(episodes, width, rollouts).mean(-1)
            q[scores <= MASKED_LOGIT] = -np.inf        # masked: never taken
            pick = q.argmax(-1)
        kept += int((pick == 0).sum())
        actions = cands[np.arange(episodes), pick]
        played_removes += int(np.isin(actions, extra).sum())
        agent.state.record(actions)
        obs, reward, _, first, _ = real.step(actions)
        total += reward
    return total, kept / (episodes * steps), played_removes / episodes


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
    p.add_argument("--removes", default="", help="hosts whose Remove is a candidate at every step, comma-separated")
    a = p.parse_args()
    torch.set_num_threads(2)
    numba.set_num_threads(2)
    removes = tuple(h for h in a.removes.split(",") if h)
    base, _, _ = lookahead_returns(a.policy, a.red, a.episodes, a.steps, 1, 1, a.seed)
    t0 = time.time()
    look, kept, played = lookahead_returns(a.policy, a.red, a.episodes, a.steps, a.top, a.rollouts, a.seed,
                                           removes)
    print(f"{a.red} {a.steps} steps, {a.episodes} episodes (seed {a.seed}), top {a.top} x "
          f"{a.rollouts} playouts, {time.time() - t0:.0f} s: greedy {base.mean():.2f} ± {se(base):.2f}, "
          f"lookahead {look.mean():.2f} ± {se(look):.2f}, difference {(look - base).mean():+.2f} ± "
          f"{se(look - base):.2f}; policy's own action kept in {kept:.3f} of steps; "
          f"Removes of {','.join(removes) or 'no host'} played {played:.2f} per episode")


if __name__ == "__main__":
    main()
