"""``SimVecEnv``: the numba CAGE2 simulator behind the gymnasium VectorEnv contract.

Backend ``numba`` of ``wrl.make_vec`` (contract in DESIGN.md). All state lives in the
arrays of ``wrl.env.sim``; one ``step_kernel`` call advances every env. Env i's
random stream is seeded from (seed, i) only, so trajectories do not depend on the
batch size or on the number of threads.
"""
from __future__ import annotations

import numba
import numpy as np

from wrl.env import sim, sim_state
from wrl.env.cyborg import check_agents
from wrl.env.red import draw_reds, parse_red
from wrl.env.scenario import MAX_STEPS, NUM_ACTIONS, NUM_HOSTS, OBS_DIM
from wrl.env.vec import Cage2VecEnv

#: Batches smaller than this step on the calling thread: thread start-up costs more.
SERIAL_BELOW = 256


class SimVecEnv(Cage2VecEnv):
    """N simulated CAGE2 envs (Scenario 2) stepped together by one numba kernel.

    ``red`` one agent (b_line|meander|sleep) or a mixture (``wrl.env.red``), ``green``
    in sleep|random; ``workers`` is the number of numba threads (default: all).
    ``info`` carries ``compromised`` and ``red_root`` bool[N,13] and ``red`` int8[N]
    (the red agent of each env's current episode), and after ``step`` also ``impact``
    bool[N] (red's action was Impact), ``final_obs`` float32[N,52], its mask
    ``_final_obs`` bool[N] and ``final_compromised`` bool[N,13] (the true state at the
    end of a finished episode, rows of the mask only); with ``log_red`` also
    ``red_action`` int16[N, sim_state.RL_N] (red's action and its outcome, columns
    ``sim_state.RL_*``; off by default: the copy costs a few microseconds per step).
    """

    def __init__(self, num_envs: int, red: str, green: str = "sleep", max_steps: int = MAX_STEPS,
                 seed: int = 0, workers: int | None = None, log_red: bool = False):
        check_agents(red, green)
        if int(num_envs) < 1:
            raise ValueError(f"num_envs={num_envs}: must be at least 1")
        if int(max_steps) < 1:
            raise ValueError(f"max_steps={max_steps}: must be at least 1")
        if workers is not None and not 1 <= int(workers) <= numba.config.NUMBA_NUM_THREADS:
            raise ValueError(f"workers={workers}: use 1..{numba.config.NUMBA_NUM_THREADS} threads")
        n = self.num_envs = int(num_envs)
        self.red, self.green, self.max_steps = red, green, int(max_steps)
        self._mix = parse_red(red)
        self.workers = None if workers is None else int(workers)
        self.log_red = bool(log_red)
        self._set_spaces(n)
        self._hosts, self._envs, self._rng = sim_state.new_state(n)
        self._obs = np.zeros((n, OBS_DIM), np.float32)
        self._final_obs = np.zeros((n, OBS_DIM), np.float32)
        self._reward = np.zeros(n, np.float32)
        self._truncated = np.zeros(n, bool)
        self._compromised = np.zeros((n, NUM_HOSTS), bool)
        self._final_compromised = np.zeros((n, NUM_HOSTS), bool)
        self._red_of = np.zeros(n, np.int8)
        self._episode_of = np.full(n, -1, np.int64)  # episode index of each env; -1 before reset
        self._red_root = np.zeros((n, NUM_HOSTS), bool)
        self._impact = np.zeros(n, bool)
        self._red_log = np.zeros((n, sim_state.RL_N), np.int16)
        self._actions = np.zeros(n, np.int64)
        self._seed = int(seed)
        sim_state.seed_streams(self._rng, self._seed, 0)
        self._started = False

    @property
    def state_bytes_per_env(self) -> int:
        """Bytes of simulator state and output buffers per env."""
        arrays = (self._hosts, self._envs, self._rng, self._obs, self._final_obs, self._reward,
                  self._truncated, self._compromised, self._final_compromised, self._red_root,
                  self._impact, self._red_log, self._actions, self._red_of, self._episode_of)
        return sum(a.nbytes for a in arrays) // self.num_envs

    def _threads(self):
        if self.workers is not None:
            numba.set_num_threads(self.workers)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start a new episode everywhere; ``seed`` re-seeds env i from (seed, i).

        Episode indices (which drive the red draws) restart at 0 with a seed and
        advance by one without.
        """
        if seed is not None:
            self._seed = int(seed)
            sim_state.seed_streams(self._rng, self._seed, 0)
            self._episode_of[:] = -1
        self._episode_of += 1
        draw_reds(self._seed, self._episode_of, self._mix.cum, self._red_of)
        self._threads()
        sim.reset_kernel(self._hosts, self._envs, self._obs, self._compromised, self._red_root)
        self._started = True
        return self._obs.copy(), {"compromised": self._compromised.copy(),
                                  "red_root": self._red_root.copy(), "red": self._red_of.copy()}

    def step(self, actions):
        """Step all envs with int[N] blue actions in 0..144; finished envs autoreset."""
        if not self._started:
            raise RuntimeError("step() before reset(): call reset() first")
        a = np.asarray(actions)
        if a.shape != (self.num_envs,):
            raise ValueError(f"actions has shape {a.shape}; expected ({self.num_envs},)")
        if a.size and (a.min() < 0 or a.max() >= NUM_ACTIONS):
            raise ValueError(f"actions must be in 0..{NUM_ACTIONS - 1}; got {a.min()}..{a.max()}")
        self._actions[:] = a
        self._threads()
        serial = self.workers == 1 or self.num_envs < SERIAL_BELOW
        out = (self._obs, self._reward, self._truncated, self._final_obs, self._compromised,
               self._final_compromised, self._red_root, self._impact, self._red_of, self._episode_of,
               self._seed, self._mix.cum, self._red_log)
        (sim.step_serial if serial else sim.step_kernel)(self._hosts, self._envs, self._rng, self._actions,
                                                         sim.GREEN_CODES[self.green], self.max_steps, out)
        truncated = self._truncated.copy()
        # rows that did not finish may hold anything: skip the copies when none finished
        if truncated.any():
            final, final_comp = self._final_obs.copy(), self._final_compromised.copy()
        else:
            final, final_comp = np.zeros_like(self._final_obs), np.zeros_like(self._final_compromised)
        info = {"compromised": self._compromised.copy(), "red_root": self._red_root.copy(),
                "red": self._red_of.copy(), "impact": self._impact.copy(), "final_obs": final,
                "_final_obs": truncated, "final_compromised": final_comp}
        if self.log_red:
            info["red_action"] = self._red_log.copy()
        return (self._obs.copy(), self._reward.copy(), np.zeros(self.num_envs, bool), truncated,
                info)

    def load_state(self, source: "SimVecEnv", rows: np.ndarray, streams: np.ndarray | None = None) -> None:
        """Put env k of this pool where ``source``'s env ``rows[k]`` is (int[N]), mid-episode:
        its hosts, red's state machine and knowledge, its red agent and its step count (a
        snapshot for planning). Env k then continues as that env would under the same
        actions, to the episode's end (the next episode's red is drawn from this pool's
        seed); ``streams`` uint64[N] gives it other random draws instead (new splitmix64
        states, e.g. from ``sim_state.seed_streams``). Both pools must have the same
        ``max_steps``."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.shape != (self.num_envs,):
            raise ValueError(f"rows has shape {rows.shape}; expected ({self.num_envs},)")
        if source.max_steps != self.max_steps:
            raise ValueError(f"source has max_steps={source.max_steps}, this pool {self.max_steps}")
        self._hosts[:] = source._hosts[rows]
        self._envs[:] = source._envs[rows]
        self._red_of[:] = source._red_of[rows]
        self._episode_of[:] = source._episode_of[rows]
        self._rng[:] = source._rng[rows] if streams is None else np.asarray(streams, np.uint64)
        self._started = True

    def close_extras(self, **kwargs) -> None:
        """Nothing to free beyond the arrays (kept for the VectorEnv interface)."""
