"""The agent's state: what a CybORG agent can know, from its observations and its own actions.

The 52-bit observation says what happened this step. An ``AgentState`` keeps, per env,
what the agent has seen and done since its episode began, turns it into features that
the policy reads beside the observation, masks the actions that cannot help, and guesses
which red agent is playing. It never reads the true state or ``info``: the same object
(numba kernels over flat arrays, batched) serves training, ``wrl evaluate`` and
``wrl.rl.agent.Cage2Agent`` on the real CybORG, so train and test inputs match by
construction.

Kinds (config ``train.memory``):

- ``none``: the observation alone.
- ``history``: per host h (host order), 4 features: ever scanned or exploited (activity
  bit seen), ever exploited, number of steps with activity (capped at 10, /10), steps
  since its last activity (capped at 100, /100; 1 when never); then 2 globals: the step
  index (capped at 100, /100) and the fraction of hosts with any activity so far.
- ``bookkeeping``: the history features, then per host the 8 decoy bits (the decoys the
  agent placed there since the host's last Restore, ``scenario.DECOYS`` order), the scan
  record (1 for the host with the latest activity, 0.5 for a host with earlier activity,
  0 else), steps since the host's last Restore (/100, 1 when never), activity seen since
  that Restore; then the last action (its kind one-hot, 12, and host one-hot, 13) and the
  red guess (one-hot over ``GUESSES``).

The masks (``mask``) are ``wrl.rl.masks``: a decoy already placed or one that cannot fit,
or with ``next_decoy`` all but each host's next decoy.

Red identification (``bookkeeping``): an activity step is one whose observation shows
activity on some host. At the second activity step of an episode the guess is
``meander`` when that step shows only scans of hosts never active before, else
``b_line``; after ``SLEEP_AFTER`` steps with no activity the guess is ``sleep`` (and
activity afterwards restarts the rule). Before that it is ``unknown``. The guess picks
the specialist network (``wrl.rl.model.ActorCritic`` with ``specialists``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from wrl.env.scenario import ACTION_HOST, ACTION_KIND, ACTION_KINDS, DECOYS, NUM_HOSTS, OBS_DIM
from wrl.rl.masks import NUM_DECOYS, action_mask, decoy_fits

MEMORY_KINDS = ("none", "history", "bookkeeping")
#: the red guess, by head index: unknown, then the red codes of ``wrl.env.red`` + 1
GUESSES = ("unknown", "sleep", "b_line", "meander")
UNKNOWN, G_SLEEP, G_BLINE, G_MEANDER = range(4)
SLEEP_AFTER = 3  #: steps with no activity after which the guess is sleep
_HISTORY = 4 * NUM_HOSTS + 2
_BOOK = _HISTORY + NUM_HOSTS * (NUM_DECOYS + 3) + len(ACTION_KINDS) + NUM_HOSTS + len(GUESSES)
#: features per kind
FEATURES = {"none": 0, "history": _HISTORY, "bookkeeping": _BOOK}
# per-host int32 fields
_S_SCANS, _S_EXPLOITS, _S_LAST, _S_DECOYS, _S_RESTORED, _S_SINCE = range(6)
# per-env int32 fields
_G_STEP, _G_ACTION, _G_GUESS, _G_SEEN, _G_ACTIVE, _G_LATEST = range(6)
_CAP_SCANS, _CAP_STEPS = 10, 100
_K_DECOY0 = ACTION_KINDS.index(DECOYS[0])
_K_RESTORE = ACTION_KINDS.index("Restore")


@njit(cache=True)
def _reset(hosts, glob, i):
    for h in range(NUM_HOSTS):
        hosts[i, h, _S_SCANS] = 0
        hosts[i, h, _S_EXPLOITS] = 0
        hosts[i, h, _S_LAST] = -1
        hosts[i, h, _S_DECOYS] = 0
        hosts[i, h, _S_RESTORED] = -1
        hosts[i, h, _S_SINCE] = 0
    glob[i, _G_STEP] = 0
    glob[i, _G_ACTION] = -1
    glob[i, _G_GUESS] = UNKNOWN
    glob[i, _G_SEEN] = 0
    glob[i, _G_ACTIVE] = 0
    glob[i, _G_LATEST] = -1


@njit(cache=True)
def _identify(hosts, glob, i, obs_i, t):
    """Count this step's activity into the identification fields and update the guess."""
    any_active, only_new_scans = False, True
    for h in range(NUM_HOSTS):
        if obs_i[4 * h] > 0.5:
            any_active = True
            if obs_i[4 * h + 1] > 0.5 or (glob[i, _G_SEEN] >> h) & 1:
                only_new_scans = False
    if any_active:
        if glob[i, _G_GUESS] == G_SLEEP:
            glob[i, _G_GUESS] = UNKNOWN
            glob[i, _G_ACTIVE] = 0
        glob[i, _G_ACTIVE] += 1
        if glob[i, _G_GUESS] == UNKNOWN and glob[i, _G_ACTIVE] >= 2:
            glob[i, _G_GUESS] = G_MEANDER if only_new_scans else G_BLINE
        for h in range(NUM_HOSTS):
            if obs_i[4 * h] > 0.5:
                glob[i, _G_SEEN] |= 1 << h
    elif glob[i, _G_GUESS] == UNKNOWN and glob[i, _G_ACTIVE] == 0 and t >= SLEEP_AFTER:
        glob[i, _G_GUESS] = G_SLEEP


@njit(cache=True)
def _observe(hosts, glob, obs, first, book, out):
    """Count observations ``obs`` (float32[N, 52]) into the state and write the features.

    hosts int32[N, 13, 6], glob int32[N, 6] (the state, see the field constants);
    first bool[N] resets an env before ``obs`` is counted; book: write the bookkeeping
    features too (else only the history ones); out float32[N, FEATURES[kind]].
    """
    for i in range(obs.shape[0]):
        if first[i]:
            _reset(hosts, glob, i)
        else:
            glob[i, _G_STEP] += 1
        t = glob[i, _G_STEP]
        _identify(hosts, glob, i, obs[i], t)
        active = 0
        for h in range(NUM_HOSTS):
            if obs[i, 4 * h] > 0.5:
                hosts[i, h, _S_SCANS] += 1
                hosts[i, h, _S_LAST] = t
                hosts[i, h, _S_SINCE] = 1
                glob[i, _G_LATEST] = h
                if obs[i, 4 * h + 1] > 0.5:
                    hosts[i, h, _S_EXPLOITS] += 1
            scans = hosts[i, h, _S_SCANS]
            last = hosts[i, h, _S_LAST]
            if scans > 0:
                active += 1
            o = 4 * h
            out[i, o] = 1.0 if scans > 0 else 0.0
            out[i, o + 1] = 1.0 if hosts[i, h, _S_EXPLOITS] > 0 else 0.0
            out[i, o + 2] = min(scans, _CAP_SCANS) / _CAP_SCANS
            out[i, o + 3] = 1.0 if last < 0 else min(t - last, _CAP_STEPS) / _CAP_STEPS
        out[i, 4 * NUM_HOSTS] = min(t, _CAP_STEPS) / _CAP_STEPS
        out[i, 4 * NUM_HOSTS + 1] = active / NUM_HOSTS
        if not book:
            continue
        o = _HISTORY
        for h in range(NUM_HOSTS):
            placed = hosts[i, h, _S_DECOYS]
            for k in range(NUM_DECOYS):
                out[i, o + k] = (placed >> k) & 1
            o += NUM_DECOYS
        for h in range(NUM_HOSTS):
            scanned = hosts[i, h, _S_SCANS] > 0
            out[i, o + h] = 1.0 if h == glob[i, _G_LATEST] else (0.5 if scanned else 0.0)
        o += NUM_HOSTS
        for h in range(NUM_HOSTS):
            r = hosts[i, h, _S_RESTORED]
            out[i, o + h] = 1.0 if r < 0 else min(t - r, _CAP_STEPS) / _CAP_STEPS
        o += NUM_HOSTS
        for h in range(NUM_HOSTS):
            out[i, o + h] = hosts[i, h, _S_SINCE]
        o += NUM_HOSTS
        for j in range(len(ACTION_KINDS) + NUM_HOSTS + len(GUESSES)):
            out[i, o + j] = 0.0
        a = glob[i, _G_ACTION]
        if a >= 0:
            out[i, o + ACTION_KIND[a]] = 1.0
            if ACTION_HOST[a] >= 0:
                out[i, o + len(ACTION_KINDS) + ACTION_HOST[a]] = 1.0
        out[i, o + len(ACTION_KINDS) + NUM_HOSTS + glob[i, _G_GUESS]] = 1.0


@njit(cache=True)
def _record(hosts, glob, actions):
    """Count the agent's own actions (int64[N], taken after the last observation)."""
    for i in range(actions.shape[0]):
        a = actions[i]
        glob[i, _G_ACTION] = a
        kind, h = ACTION_KIND[a], ACTION_HOST[a]
        if kind == _K_RESTORE:
            hosts[i, h, _S_DECOYS] = 0
            hosts[i, h, _S_RESTORED] = glob[i, _G_STEP]
            hosts[i, h, _S_SINCE] = 0
        elif kind >= _K_DECOY0:
            k = kind - _K_DECOY0
            if decoy_fits(h, k, hosts[i, h, _S_DECOYS]):
                hosts[i, h, _S_DECOYS] |= 1 << k


class AgentState:
    """Per-env state of ``kind`` for ``num_envs`` envs.

    Per step: ``observe(obs float32[N,52], first bool[N]) -> float32[N, dim]`` (the
    observation followed by the features after counting it; ``first`` resets an env);
    then ``mask()`` (bool[N, 145] of actions that can help, or None without
    ``mask_decoys``; with ``next_decoy`` one decoy per host at most) and ``guess()``
    (int64[N], index into ``GUESSES``); then
    ``record(actions int64[N])`` once the agent has acted. ``peek`` gives the input and
    guess for some envs as a continuation without changing the state (the value of a
    truncated episode's last observation); ``load_state`` copies other envs' state in (a
    planner's playouts).
    """

    def __init__(self, kind: str, num_envs: int, mask_decoys: bool = False, next_decoy: bool = False):
        if kind not in MEMORY_KINDS:
            raise ValueError(f"memory {kind!r}: use one of {', '.join(MEMORY_KINDS)}")
        if mask_decoys and kind != "bookkeeping":
            raise ValueError(f"mask_decoys needs memory 'bookkeeping' (the decoy record), not {kind!r}")
        if next_decoy and not mask_decoys:
            raise ValueError("next_decoy needs mask_decoys (it is a stricter mask)")
        self.kind, self.num_envs, self.mask_decoys = kind, int(num_envs), bool(mask_decoys)
        self.next_decoy = bool(next_decoy)
        self.dim = OBS_DIM + FEATURES[kind]
        self._hosts = np.zeros((self.num_envs, NUM_HOSTS, 6), np.int32)
        self._glob = np.zeros((self.num_envs, 6), np.int32)
        self._glob[:, _G_ACTION] = -1

    def observe(self, obs: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Count ``obs`` (float32[N,52]) into the state (``first`` bool[N] resets an env first)."""
        return self._features(self._hosts, self._glob, obs, np.asarray(first, bool))

    def _features(self, hosts, glob, obs, first) -> np.ndarray:
        obs = np.ascontiguousarray(obs, dtype=np.float32)
        if self.kind == "none":
            return obs
        out = np.empty((len(obs), self.dim), np.float32)
        out[:, :OBS_DIM] = obs
        _observe(hosts, glob, obs, first, self.kind == "bookkeeping", out[:, OBS_DIM:])
        return out

    def peek(self, rows: np.ndarray, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(input float32[k, dim], guess int64[k]) that ``observe`` would give envs ``rows``
        (int[k]) for obs float32[k,52] as a continuation of their episodes; state unchanged."""
        hosts, glob = self._hosts[rows], self._glob[rows]  # fancy indexing copies
        x = self._features(hosts, glob, obs, np.zeros(len(obs), bool))
        return x, glob[:, _G_GUESS].astype(np.int64)

    def record(self, actions: np.ndarray) -> None:
        """Count the agent's own actions int64[N] (after ``observe`` of the obs they answer)."""
        if self.kind == "bookkeeping":
            _record(self._hosts, self._glob, np.ascontiguousarray(actions, dtype=np.int64))

    def mask(self) -> np.ndarray | None:
        """bool[N, 145]: the actions that can help (decoys placed or unfit are False; with
        ``next_decoy`` only each host's next decoy), or None without ``mask_decoys``."""
        if not self.mask_decoys:
            return None
        return action_mask(self._hosts[:, :, _S_DECOYS], self.next_decoy)

    def guess(self) -> np.ndarray:
        """int64[N]: the red guess of each env (index into ``GUESSES``; 0 unknown)."""
        return self._glob[:, _G_GUESS].astype(np.int64)

    def load_state(self, source: "AgentState", rows: np.ndarray) -> None:
        """Env k takes over the state of ``source``'s env ``rows[k]`` (int[N]; same kind)."""
        if source.kind != self.kind:
            raise ValueError(f"source state is {source.kind!r}, this one {self.kind!r}")
        rows = np.asarray(rows, dtype=np.int64)
        if rows.shape != (self.num_envs,):
            raise ValueError(f"rows has shape {rows.shape}; expected ({self.num_envs},)")
        self._hosts[:] = source._hosts[rows]
        self._glob[:] = source._glob[rows]

    def decoys(self) -> np.ndarray:
        """int32[N, 13]: bit mask of the decoys each env's agent placed per host since its Restore."""
        return self._hosts[:, :, _S_DECOYS].copy()
