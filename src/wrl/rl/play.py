"""Play an agent for whole episodes on a vector env: per-episode returns, rewards and observation bits.

An agent is anything with ``act(obs float32[N,52], first bool[N], info=None) ->
int64[N]`` (``wrl.rl.agent.Agent``): a trained policy (``wrl.rl.agent.PolicyAgent``) or a
scripted baseline (``wrl.eval.baselines``).
"""
from __future__ import annotations

import numpy as np

from wrl.env.scenario import MAX_STEPS, OBS_DIM
from wrl.env.vec import make_vec

#: the largest pool an evaluation builds per backend (episodes beyond it run in sequence)
MAX_ENVS = {"numba": 1024, "cyborg": 16}


def pool_size(backend: str, episodes: int) -> int:
    """Envs in the pool that ``play`` builds for ``episodes`` episodes on ``backend``."""
    return min(episodes, MAX_ENVS[backend])


def play(agent, backend: str, red: str, episodes: int, steps: int = MAX_STEPS,
         green: str = "sleep", seed: int = 0, workers: int | None = None) -> dict[str, np.ndarray]:
    """Play ``episodes`` episodes of ``steps`` steps of ``agent`` vs (red, green) on ``backend``.

    The agent acts for ``pool_size(backend, episodes)`` envs at once. Returns ``returns``
    float64[E], ``rewards`` float32[E, steps], ``bits`` float64[E, 52] (fraction of the
    episode's observations with each bit set) and ``first_impact`` int64[E] (1..steps,
    ``steps + 1`` when red never chose Impact). Episodes are taken in (round, env) order,
    so the result depends only on the arguments.
    """
    n = pool_size(backend, episodes)
    rounds = -(-episodes // n)
    rewards = np.zeros((rounds, n, steps), np.float32)
    bits = np.zeros((rounds, n, OBS_DIM))
    first_impact = np.full((rounds, n), steps + 1, np.int64)
    with make_vec(backend, n, red, green=green, max_steps=steps, seed=seed,
                  workers=workers) as env:
        obs, info = env.reset()
        first = np.ones(n, bool)
        for r in range(rounds):
            for t in range(steps):
                actions = agent.act(obs, first, info)
                obs, reward, _, truncated, info = env.step(actions)
                first = truncated
                rewards[r, :, t] = reward
                bits[r] += np.where(truncated[:, None], info["final_obs"], obs)
                first_impact[r, info["impact"] & (first_impact[r] > steps)] = t + 1
            if not truncated.all():
                raise RuntimeError(f"{backend}: episodes did not end after {steps} steps")
    rewards = rewards.reshape(-1, steps)[:episodes]
    return {"returns": rewards.astype(np.float64).sum(axis=1), "rewards": rewards,
            "bits": bits.reshape(-1, OBS_DIM)[:episodes] / steps,
            "first_impact": first_impact.reshape(-1)[:episodes]}
