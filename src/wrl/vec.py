"""``make_vec``: one vector-env API over both backends (numba simulator, real CybORG).

The contract (DESIGN.md): ``reset(seed=None) -> (obs float32[N,52], info)``,
``step(actions int[N]) -> (obs, reward float32[N], terminated bool[N], truncated bool[N],
info)``; SAME_STEP autoreset with ``info["final_obs"]``; ``info["compromised"]``
bool[N,13] is the true state after the step (``final_compromised`` at the end of a
finished episode); ``info["red"]`` int8[N] is each env's red agent this episode
(``wrl.cage.red``: one agent or a mixture, drawn per episode from (seed, env, episode)).
Same seed, same results for any W.
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from wrl.cage.scenario import MAX_STEPS, NUM_ACTIONS, OBS_DIM

BACKENDS = ("numba", "cyborg")


def observation_space() -> spaces.Box:
    """The single-env observation space: 52 floats in [0, 1]."""
    return spaces.Box(0.0, 1.0, (OBS_DIM,), np.float32)


def action_space() -> spaces.Discrete:
    """The single-env action space: 145 discrete blue actions."""
    return spaces.Discrete(NUM_ACTIONS)


class CyborgVecEnv(VectorEnv):
    """The real CybORG as a vector env, over a shared-memory ``CyborgPool``."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int, red: str, green: str = "sleep", max_steps: int = MAX_STEPS,
                 seed: int = 0, workers: int | None = None, log_red: bool = False):
        from wrl.cage.pool import CyborgPool

        self.num_envs = num_envs
        self.single_observation_space = observation_space()
        self.single_action_space = action_space()
        self.observation_space = spaces.Box(0.0, 1.0, (num_envs, OBS_DIM), np.float32)
        self.action_space = spaces.MultiDiscrete(np.full(num_envs, NUM_ACTIONS))
        self.pool = CyborgPool(num_envs, red, green, max_steps, seed, workers)
        self.log_red = bool(log_red)

    def _info(self, v: dict, finished: np.ndarray | None) -> dict:
        info = {"compromised": v["compromised"].copy(), "red_root": v["red_root"].copy(),
                "red": v["red"].copy()}
        if finished is not None:
            info["impact"] = v["impact"].copy()
            if self.log_red:
                info["red_action"] = v["red_action"].copy()
            info["final_obs"] = v["final_obs"].copy()
            info["_final_obs"] = finished
            info["final_compromised"] = v["final_compromised"].copy()
        return info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset every env (re-seeding env i from (seed, i) when ``seed`` is given)."""
        self.pool.reset_all(seed)
        v = self.pool.views
        return v["obs"].copy(), self._info(v, None)

    def step(self, actions):
        """Step all envs with int[N] actions; finished envs autoreset in the same step."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions has shape {actions.shape}; expected ({self.num_envs},)")
        self.pool.step_all(actions)
        v = self.pool.views
        truncated = v["truncated"].copy()
        return (v["obs"].copy(), v["reward"].copy(), v["terminated"].copy(), truncated,
                self._info(v, truncated))

    def close_extras(self, **kwargs) -> None:
        """Stop the worker processes and free the shared memory."""
        self.pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_vec(backend: str, num_envs: int, red: str, green: str = "sleep",
             max_steps: int = MAX_STEPS, seed: int = 0, workers: int | None = None,
             log_red: bool = False) -> VectorEnv:
    """A vector env of ``num_envs`` CAGE2 envs on ``backend`` (``numba`` or ``cyborg``).

    ``red`` one of b_line|meander|sleep or a mixture ``b_line:0.4,meander:0.4,sleep:0.2``,
    ``green`` in sleep|random; ``workers`` is the number of processes (cyborg) or threads
    (numba), default all cores. With ``log_red``, step's info carries ``red_action``
    int16[N, 6]: red's action and outcome (``wrl.cage.sim.RL_*`` columns, the same in both
    backends). See DESIGN.md.
    """
    if backend == "cyborg":
        return CyborgVecEnv(num_envs, red, green, max_steps, seed, workers, log_red)
    if backend == "numba":
        from wrl.cage.sim_env import SimVecEnv

        return SimVecEnv(num_envs, red, green, max_steps, seed, workers, log_red)
    raise ValueError(f"backend={backend!r} is not a backend; use one of {', '.join(BACKENDS)}")
