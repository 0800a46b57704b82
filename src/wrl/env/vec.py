"""``make_vec``: one vector-env API over both backends (numba simulator, real CybORG).

The contract (DESIGN.md): ``reset(seed=None) -> (obs float32[N,52], info)``,
``step(actions int[N]) -> (obs, reward float32[N], terminated bool[N], truncated bool[N],
info)``; SAME_STEP autoreset with ``info["final_obs"]``; ``info["compromised"]``
bool[N,13] is the true state after the step (``final_compromised`` at the end of a
finished episode); ``info["red"]`` int8[N] is each env's red agent this episode
(``wrl.env.red``: one agent or a mixture, drawn per episode from (seed, env, episode)).
Same seed, same results for any W.
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from wrl.env.scenario import MAX_STEPS, NUM_ACTIONS, OBS_DIM

BACKENDS = ("numba", "cyborg")


class Cage2VecEnv(VectorEnv):
    """What both backends share: the spaces of N CAGE2 envs (52 floats in [0, 1], 145
    discrete actions), SAME_STEP autoreset and use as a context manager (``close`` on exit)."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def _set_spaces(self, num_envs: int) -> None:
        self.num_envs = int(num_envs)
        self.single_observation_space = spaces.Box(0.0, 1.0, (OBS_DIM,), np.float32)
        self.single_action_space = spaces.Discrete(NUM_ACTIONS)
        self.observation_space = spaces.Box(0.0, 1.0, (self.num_envs, OBS_DIM), np.float32)
        self.action_space = spaces.MultiDiscrete(np.full(self.num_envs, NUM_ACTIONS))

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class CyborgVecEnv(Cage2VecEnv):
    """The real CybORG as a vector env, over a shared-memory ``CyborgPool``."""

    def __init__(self, num_envs: int, red: str, green: str = "sleep", max_steps: int = MAX_STEPS,
                 seed: int = 0, workers: int | None = None, log_red: bool = False):
        from wrl.env.pool import CyborgPool

        self._set_spaces(num_envs)
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


def make_vec(backend: str, num_envs: int, red: str, green: str = "sleep",
             max_steps: int = MAX_STEPS, seed: int = 0, workers: int | None = None,
             log_red: bool = False) -> VectorEnv:
    """A vector env of ``num_envs`` CAGE2 envs on ``backend`` (``numba`` or ``cyborg``).

    ``red`` one of b_line|meander|sleep or a mixture ``b_line:0.4,meander:0.4,sleep:0.2``,
    ``green`` in sleep|random; ``workers`` is the number of processes (cyborg) or threads
    (numba), default all cores. With ``log_red``, step's info carries ``red_action``
    int16[N, 6]: red's action and outcome (``wrl.env.sim_state.RL_*`` columns, the same in both
    backends). See DESIGN.md.
    """
    if backend == "cyborg":
        return CyborgVecEnv(num_envs, red, green, max_steps, seed, workers, log_red)
    if backend == "numba":
        from wrl.env.sim_env import SimVecEnv

        return SimVecEnv(num_envs, red, green, max_steps, seed, workers, log_red)
    raise ValueError(f"backend={backend!r} is not a backend; use one of {', '.join(BACKENDS)}")
