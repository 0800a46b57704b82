"""The numba CAGE2 simulator's step: one kernel steps N envs (state: ``wrl.env.sim_state``).

Step order, as csle-cyborg's EnvironmentController: blue acts (``sim_actions.blue_act``),
then green, then red (``sim_red_agents``); the reward is read from the true state; then
Monitor collects the step's events into blue's observation (BlueTableWrapper rules).
Every rule cites its csle-cyborg source in ``docs/fidelity.md``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from wrl.env.red import draw_red
from wrl.env.scenario import ACTION_HOST, ACTION_KIND, NUM_HOSTS, OBS_DIM
from wrl.env.sim_actions import blue_act
from wrl.env.sim_red_agents import bline_act, meander_act
from wrl.env.sim_state import (
    E_OT, E_REXP, E_RKIND, E_RSUCC, E_RTGT, E_STEP, EV_4444, EV_ANALYSED, EV_DECOY, H_BCOMP, H_DECOYS,
    H_EVFLAGS, H_EVN, H_EVPORTS, H_KPORTS, H_PRIV, K_REMOVE, K_RESTORE, OT_ALIVE, R_DISCOVER_SYSTEMS,
    R_IMPACT, R_SLEEP, RL_DECOYS, RL_EXPLOIT, RL_KIND, RL_PORTS, RL_SUCCESS, RL_TARGET, below,
    popcount, port_scan, reset_env, sessions, uniform,
)
from wrl.env.sim_tables import CONF_TENTHS, GREEN_TARGETS, OT_DOWN_TENTHS

#: green agents by kernel code (red agents: ``wrl.env.red.RED_CODE``)
GREEN_CODES = {"sleep": 0, "random": 1}


@njit(cache=True)
def _observe(hosts, i, action, obs):
    """BlueTableWrapper: activity from this step's events, compromised remembered."""
    kind = ACTION_KIND[action]
    ah = ACTION_HOST[action]
    for h in range(NUM_HOSTS):
        bc = hosts[i, h, H_BCOMP]
        if h == ah and kind == K_RESTORE:
            bc = 0
        elif h == ah and kind == K_REMOVE and bc != 0:
            bc = 1
        flags = hosts[i, h, H_EVFLAGS]
        n = hosts[i, h, H_EVN] + (1 if flags & EV_DECOY else 0)
        nports = popcount(hosts[i, h, H_EVPORTS])
        if n == 0:
            act = 0
        elif n >= 3 and nports >= 3:
            act = 1
        elif flags & EV_4444 or (n >= 3 and nports == 1):
            act = 2
        elif flags & EV_DECOY:  # first anomalous process is the decoy: 'Service Name' -> None
            act = 0
        else:
            act = 1
        if act == 2:
            bc = 2
        if flags & EV_ANALYSED:
            bc = 3
        hosts[i, h, H_BCOMP] = bc
        o = 4 * h
        obs[i, o] = 1.0 if act >= 1 else 0.0
        obs[i, o + 1] = 1.0 if act == 2 else 0.0
        obs[i, o + 2] = 1.0 if bc == 1 or bc == 3 else 0.0
        obs[i, o + 3] = 1.0 if bc >= 2 else 0.0


@njit(cache=True)
def _true_state(hosts, i, compromised, red_root):
    for h in range(NUM_HOSTS):
        compromised[i, h] = sessions(hosts, i, h) > 0
        red_root[i, h] = hosts[i, h, H_PRIV] > 0


@njit(cache=True, inline="always")
def _log_red(hosts, envs, i, red_log):
    """Write env i's red-action record (RL_* columns) for this step."""
    kind, tgt = envs[i, E_RKIND], envs[i, E_RTGT]
    red_log[i, RL_KIND] = kind
    red_log[i, RL_TARGET] = tgt
    red_log[i, RL_EXPLOIT] = envs[i, E_REXP]
    red_log[i, RL_SUCCESS] = 1 if kind != R_SLEEP and envs[i, E_RSUCC] == 1 else 0
    on_host = tgt >= 0 and kind != R_DISCOVER_SYSTEMS
    red_log[i, RL_PORTS] = hosts[i, tgt, H_KPORTS] if on_host else 0
    red_log[i, RL_DECOYS] = hosts[i, tgt, H_DECOYS] if on_host else 0

@njit(cache=True)
def _step_env(hosts, envs, rng, i, a, red, green, max_steps, out):
    """One step of env i with blue action ``a`` (see ``step_kernel``); ``out`` as there."""
    (obs, reward, truncated, final_obs, compromised, final_compromised, red_root, impact,
     red_of, episode_of, red_seed, red_cum, red_log) = out
    for h in range(NUM_HOSTS):
        hosts[i, h, H_EVN] = 0
        hosts[i, h, H_EVPORTS] = 0
        hosts[i, h, H_EVFLAGS] = 0
    tenths = blue_act(hosts, envs, i, a)
    if green == 1 and uniform(rng, i) >= 0.5:
        port_scan(hosts, i, GREEN_TARGETS[below(rng, i, 8)])
    envs[i, E_RKIND] = R_SLEEP
    envs[i, E_RTGT] = -1
    envs[i, E_REXP] = -1
    if red == 1:
        envs[i, E_RSUCC] = 1 if bline_act(hosts, envs, rng, i) else 0
    elif red == 2:
        envs[i, E_RSUCC] = 1 if meander_act(hosts, envs, rng, i) else 0
    impact[i] = envs[i, E_RKIND] == R_IMPACT
    _log_red(hosts, envs, i, red_log)
    for h in range(NUM_HOSTS):
        if hosts[i, h, H_PRIV] > 0:
            tenths += CONF_TENTHS[h]
    if not envs[i, E_OT] & OT_ALIVE:
        tenths += OT_DOWN_TENTHS
    reward[i] = -np.float32(tenths) / np.float32(10.0)
    _observe(hosts, i, a, obs)
    envs[i, E_STEP] += 1
    truncated[i] = envs[i, E_STEP] >= max_steps
    if truncated[i]:
        for k in range(OBS_DIM):
            final_obs[i, k] = obs[i, k]
            obs[i, k] = 0.0
        _true_state(hosts, i, final_compromised, red_root)
        reset_env(hosts, envs, i)
        episode_of[i] += 1
        red_of[i] = draw_red(red_seed, i, episode_of[i], red_cum)
    _true_state(hosts, i, compromised, red_root)


@njit(cache=True, parallel=True)
def step_kernel(hosts, envs, rng, actions, green, max_steps, out):
    """Step every env once with blue ``actions`` int[N], in parallel; SAME_STEP autoreset.

    ``out`` is the tuple (obs, reward, truncated, final_obs, compromised,
    final_compromised, red_root, impact, red_of, episode_of, red_seed, red_cum, red_log):
    writes obs/final_obs float32[N,52], reward float32[N], truncated bool[N],
    compromised/red_root bool[N,13] (after the step, or of the new episode when it
    autoreset), final_compromised bool[N,13] (the true state at the end of a finished
    episode; other rows untouched) and impact bool[N] (red's action this step was
    Impact). Env i plays red agent ``red_of[i]`` (int8, ``wrl.env.red`` codes); at an
    autoreset ``episode_of[i]`` (int64) advances and the next red is drawn from
    (red_seed, i, episode) with the cumulative weights ``red_cum`` float64[3].
    ``red_log`` int16[N, RL_N] gets red's action this step and its outcome.
    """
    red_of = out[8]
    for i in prange(actions.shape[0]):
        _step_env(hosts, envs, rng, i, actions[i], red_of[i], green, max_steps, out)


@njit(cache=True)
def step_serial(hosts, envs, rng, actions, green, max_steps, out):
    """``step_kernel`` on the calling thread (same results; no thread start-up cost)."""
    red_of = out[8]
    for i in range(actions.shape[0]):
        _step_env(hosts, envs, rng, i, actions[i], red_of[i], green, max_steps, out)


@njit(cache=True, parallel=True)
def reset_kernel(hosts, envs, obs, compromised, red_root):
    """Start a new episode in every env; the first observation is all zeros."""
    for i in prange(envs.shape[0]):
        reset_env(hosts, envs, i)
        for k in range(OBS_DIM):
            obs[i, k] = 0.0
        _true_state(hosts, i, compromised, red_root)
