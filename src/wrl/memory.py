"""Episode-long memory for the policy: history features computed from the observations alone.

The 52-bit observation says what happened this step, not what red did before; which red
agent is playing shows only over the episode (B_line walks straight to Op_Server0,
Meander scans every subnet). ``History`` keeps, per env, counters built from every
observation since the episode began and turns them into features the policy reads
beside the observation. Because they come from observations only, the same features
are computed in training (numba envs), in evaluation and inside ``wrl.agent.Cage2Agent``
on the real CybORG.

Kinds (config ``train.memory``): ``none`` (no features) and ``history``:
per host h (host order), 4 features: ever scanned or exploited (activity bit seen),
ever exploited (exploit pattern seen), number of steps with activity (capped at 10, /10),
steps since its last activity (capped at 100, /100; 1 when never); then 2 globals:
the step index (capped at 100, /100) and the fraction of hosts with any activity so far.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from wrl.cage.scenario import NUM_HOSTS, OBS_DIM

MEMORY_KINDS = ("none", "history")
#: features per kind
FEATURES = {"none": 0, "history": 4 * NUM_HOSTS + 2}
_S_SCANS, _S_EXPLOITS, _S_LAST = 0, 1, 2  # per-host state fields
_CAP_SCANS, _CAP_STEPS = 10, 100


@njit(cache=True)
def _update(state, step, obs, first, out):
    """Advance the counters with observations ``obs`` (float32[N, 52]) and write the features.

    state int32[N, 13, 3] (scans, exploits, step of last activity or -1); step int32[N]
    (steps seen this episode); first bool[N] starts an episode before ``obs`` is counted;
    out float32[N, FEATURES['history']].
    """
    for i in range(obs.shape[0]):
        if first[i]:
            step[i] = 0
            for h in range(NUM_HOSTS):
                state[i, h, _S_SCANS] = 0
                state[i, h, _S_EXPLOITS] = 0
                state[i, h, _S_LAST] = -1
        else:
            step[i] += 1
        t = step[i]
        active = 0
        for h in range(NUM_HOSTS):
            if obs[i, 4 * h] > 0.5:
                state[i, h, _S_SCANS] += 1
                state[i, h, _S_LAST] = t
                if obs[i, 4 * h + 1] > 0.5:
                    state[i, h, _S_EXPLOITS] += 1
            scans = state[i, h, _S_SCANS]
            last = state[i, h, _S_LAST]
            if scans > 0:
                active += 1
            o = 4 * h
            out[i, o] = 1.0 if scans > 0 else 0.0
            out[i, o + 1] = 1.0 if state[i, h, _S_EXPLOITS] > 0 else 0.0
            out[i, o + 2] = min(scans, _CAP_SCANS) / _CAP_SCANS
            out[i, o + 3] = 1.0 if last < 0 else min(t - last, _CAP_STEPS) / _CAP_STEPS
        out[i, 4 * NUM_HOSTS] = min(t, _CAP_STEPS) / _CAP_STEPS
        out[i, 4 * NUM_HOSTS + 1] = active / NUM_HOSTS


class History:
    """Per-env memory of ``kind`` for ``num_envs`` envs; ``observe`` gives the policy input.

    ``observe(obs float32[N,52], first bool[N]) -> float32[N, 52 + FEATURES[kind]]``:
    the observation followed by the features after counting it. ``peek`` gives the same
    for some envs without changing their memory (the value of a truncated episode's last
    observation).
    """

    def __init__(self, kind: str, num_envs: int):
        if kind not in MEMORY_KINDS:
            raise ValueError(f"memory {kind!r}: use one of {', '.join(MEMORY_KINDS)}")
        self.kind, self.num_envs = kind, int(num_envs)
        self.dim = OBS_DIM + FEATURES[kind]
        self._state = np.full((self.num_envs, NUM_HOSTS, 3), -1, np.int32)
        self._step = np.zeros(self.num_envs, np.int32)

    def observe(self, obs: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Count ``obs`` (float32[N,52]) into the memory (``first`` bool[N] resets an env first)."""
        obs = np.ascontiguousarray(obs, dtype=np.float32)
        if self.kind == "none":
            return obs
        out = np.empty((len(obs), self.dim), np.float32)
        out[:, :OBS_DIM] = obs
        _update(self._state, self._step, obs, np.asarray(first, bool), out[:, OBS_DIM:])
        return out

    def peek(self, rows: np.ndarray, obs: np.ndarray) -> np.ndarray:
        """The input ``observe`` would give for envs ``rows`` (int[k]) and obs float32[k,52],
        as a continuation of their episodes, leaving the memory unchanged."""
        obs = np.ascontiguousarray(obs, dtype=np.float32)
        if self.kind == "none":
            return obs
        out = np.empty((len(obs), self.dim), np.float32)
        out[:, :OBS_DIM] = obs
        _update(self._state[rows].copy(), self._step[rows].copy(), obs, np.zeros(len(obs), bool),
                out[:, OBS_DIM:])
        return out
