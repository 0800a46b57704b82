"""The numba CAGE2 simulator: the state of N envs in flat arrays, one kernel per step.

State layout (all per env ``i``; see ``new_state``):
- ``hosts`` int16[N, 13, NH]: per host, the ``H_*`` fields (red sessions by kind, red
  files, decoys, red's port knowledge, blue's remembered "compromised" value and the
  events of the current step that Monitor turns into the observation);
- ``envs`` int32[N, NE]: per env, the ``E_*`` fields (step count, OTService state, the
  red agent's state machine and knowledge, as bit masks over hosts/subnets);
- ``rng`` uint64[N]: a splitmix64 stream per env, so results never depend on threads.

Step order, as csle-cyborg's EnvironmentController: blue acts, then green, then red;
the reward is read from the true state; then Monitor collects the step's events into
blue's observation (BlueTableWrapper rules). Every rule cites its csle-cyborg source
in ``docs/fidelity.md``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from wrl.env.red import draw_red
from wrl.env.scenario import ACTION_HOST, ACTION_KIND, HOST_INDEX, HOST_SUBNET, NUM_HOSTS, OBS_DIM
from wrl.env.sim_tables import (
    BASE_CONN, BLINE_JUMPS, CONF_TENTHS, DECOY_CHECK_PORT, DECOY_EXPLOIT, DECOY_OS, DECOY_PORT,
    ENTERPRISE_HOSTS, ENTERPRISE_SUBNET, EPHEMERAL_BIT, EXPLOIT_OUTCOME, EXPLOIT_PORT,
    EXPLOIT_WEIGHT, GREEN_TARGETS, IS_WINDOWS, MEANDER_SUBNET_ORDER, NO_PROC, NUM_PORTS,
    OP_HOSTS, OPERATIONAL_SUBNET, OT_DOWN_TENTHS, PROC_FAILS, REVEAL_IPS, REVEAL_SUBNETS,
    ROOT_SHELL, SQL_EXPLOIT, SSH_EXPLOIT, SUBNET_HOSTS, USER_SUBNET, VSFTPD,
)

# --- per-host fields (hosts[i, h, F]) ---
H_PRIV, H_UDET, H_UHID = 0, 1, 2   # red sessions: root/SYSTEM; user & detected; user & hidden
H_FILES = 3                        # red left a malware file (cmd.* / escalate.*, density 0.9;
                                   # SSH brute force leaves none)
H_DECOYS, H_VSFTPD = 4, 5          # decoy bit mask (scenario.DECOYS order); Vsftpd count
H_KPORTS, H_SCANNED = 6, 7         # red's ports from its last scan (bit mask); scanned at all
H_BCOMP = 8                        # blue's compromised value: 0 No, 1 Unknown, 2 User, 3 Privileged
H_EVN, H_EVPORTS, H_EVFLAGS = 9, 10, 11  # this step: event count, port mask, flags below
NH = 12
EV_4444, EV_DECOY, EV_ANALYSED = 1, 2, 4

# --- per-env fields (envs[i, F]) ---
E_STEP, E_OT, E_RKIND, E_RSUCC = 0, 1, 2, 3
E_RACT, E_RUSER, E_RFLAGS = 4, 5, 6                     # B_lineAgent
E_KSUB, E_KIP, E_KHOST = 7, 8, 9                        # red's action space (known)
E_SSUB, E_SIP, E_EIP, E_ESC, E_MAP, E_LHOST, E_LIP = 10, 11, 12, 13, 14, 15, 16  # RedMeander
E_RTGT, E_REXP = 17, 18                                 # red's target and chosen exploit this step
NE = 19
OT_ALIVE, OT_LINKED, OT_ACTIVE, OT_KNOWN = 1, 2, 4, 8
BL_CACHED12, BL_SCAN_EMPTY = 1, 2

#: green agents by kernel code (red agents: ``wrl.env.red.RED_CODE``)
GREEN_CODES = {"sleep": 0, "random": 1}
#: red action kinds recorded in envs[:, E_RKIND]
R_SLEEP, R_DISCOVER_SYSTEMS, R_DISCOVER_SERVICES, R_EXPLOIT, R_ESCALATE, R_IMPACT = range(6)
#: columns of the red-action record (``red_log`` int16[N, RL_N], both backends): action kind
#: (R_*), target (host index; subnet index for DiscoverRemoteSystems; -1 none), exploit
#: chosen (index into sim_tables.EXPLOITS; -1 none), success (0/1), red's known ports of the
#: target after the action (bit mask over sim_tables.PORTS) and the target's decoys (bit
#: mask over scenario.DECOYS)
RL_KIND, RL_TARGET, RL_EXPLOIT, RL_SUCCESS, RL_PORTS, RL_DECOYS = range(6)
RL_N = 6

_USER0, _USER1 = HOST_INDEX["User0"], HOST_INDEX["User1"]
_ENT0, _ENT1, _ENT2 = HOST_INDEX["Enterprise0"], HOST_INDEX["Enterprise1"], HOST_INDEX["Enterprise2"]
_OPS0 = HOST_INDEX["Op_Server0"]
_K_ANALYSE, _K_REMOVE, _K_DECOY0, _K_RESTORE = 2, 3, 4, 12
_SUBNET = HOST_SUBNET.astype(np.int8)
_DET_P = 0.95     # ExploitAction.detection_rate
_TOP_P = 0.75     # DefaultExploitActionSelector odds_of_top_choice


def new_state(num_envs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zeroed state arrays for ``num_envs`` envs: (hosts int16[N,13,NH], envs int32[N,NE], rng uint64[N])."""
    return (np.zeros((num_envs, NUM_HOSTS, NH), np.int16), np.zeros((num_envs, NE), np.int32),
            np.zeros(num_envs, np.uint64))


@njit(cache=True)
def seed_streams(rng, seed, first):
    """Seed ``rng[k]`` from (seed, first + k) with splitmix64 finalisers; uint64[N] in place."""
    base = np.uint64(seed) * np.uint64(0xD1B54A32D192ED03)
    for k in range(rng.shape[0]):
        z = base ^ (np.uint64(first + k) * np.uint64(0x9E3779B97F4A7C15))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        rng[k] = z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def _uniform(rng, i):
    """Next float64 in [0, 1) of env i's splitmix64 stream."""
    z = rng[i] + np.uint64(0x9E3779B97F4A7C15)
    rng[i] = z
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def _below(rng, i, n):
    """Uniform int in [0, n)."""
    k = int(_uniform(rng, i) * n)
    return k if k < n else n - 1


@njit(cache=True, inline="always")
def _popcount(x):
    c = 0
    while x:
        x &= x - 1
        c += 1
    return c


@njit(cache=True, inline="always")
def _pick_bit(rng, i, mask):
    """Index of a uniformly drawn set bit of ``mask`` (> 0)."""
    k = _below(rng, i, _popcount(mask))
    b = 0
    while True:
        if (mask >> b) & 1:
            if k == 0:
                return b
            k -= 1
        b += 1


@njit(cache=True)
def reset_env(hosts, envs, i):
    """Put env i at the start of an episode (red on its User0 foothold only)."""
    hosts[i, :, :] = 0
    envs[i, :] = 0
    envs[i, E_OT] = OT_ALIVE | OT_LINKED | OT_ACTIVE
    envs[i, E_RSUCC] = -1
    envs[i, E_RUSER] = -1
    envs[i, E_KSUB] = 1 << USER_SUBNET
    envs[i, E_KIP] = 1 << _USER0
    envs[i, E_KHOST] = 1 << _USER0
    envs[i, E_LHOST] = -1
    envs[i, E_LIP] = -1


@njit(cache=True, inline="always")
def _sessions(hosts, i, h):
    return hosts[i, h, H_PRIV] + hosts[i, h, H_UDET] + hosts[i, h, H_UHID]


@njit(cache=True)
def _enterprise_session(hosts, i):
    """Red holds a session on an Enterprise host: the Operational subnet is routable."""
    for h in range(NUM_HOSTS):
        if (ENTERPRISE_HOSTS >> h) & 1 and _sessions(hosts, i, h) > 0:
            return True
    return False


@njit(cache=True)
def _routable(hosts, i, h):
    return _SUBNET[h] != OPERATIONAL_SUBNET or _enterprise_session(hosts, i)


@njit(cache=True)
def _listening(hosts, i, h, p):
    """Listening connections on port index p of host h (own processes + decoys)."""
    c = np.int32(BASE_CONN[h, p])
    mask = hosts[i, h, H_DECOYS]
    for k in range(8):
        if (mask >> k) & 1 and DECOY_PORT[k] == p:
            c += hosts[i, h, H_VSFTPD] if k == VSFTPD else 1
    return c


@njit(cache=True, inline="always")
def _event(hosts, i, h, bit, n):
    hosts[i, h, H_EVN] += n
    hosts[i, h, H_EVPORTS] |= 1 << bit


@njit(cache=True)
def _port_scan(hosts, i, h):
    """One event per listening connection on h (red or green scan); returns the port mask."""
    mask = 0
    for p in range(NUM_PORTS):
        c = _listening(hosts, i, h, p)
        if c > 0:
            _event(hosts, i, h, p, c)
            mask |= 1 << p
    return mask


# ---------------------------------------------------------------- blue
@njit(cache=True)
def _blue(hosts, envs, i, action):
    """Apply blue action ``action``; returns its cost in reward tenths (Restore: 10)."""
    kind = ACTION_KIND[action]
    h = ACTION_HOST[action]
    if kind == _K_ANALYSE:
        if hosts[i, h, H_FILES]:
            hosts[i, h, H_EVFLAGS] |= EV_ANALYSED
    elif kind == _K_REMOVE:
        hosts[i, h, H_UDET] = 0
    elif kind == _K_RESTORE:
        for f in (H_PRIV, H_UDET, H_UHID, H_FILES, H_DECOYS, H_VSFTPD):
            hosts[i, h, f] = 0
        if h == _OPS0:
            envs[i, E_OT] = (envs[i, E_OT] & OT_KNOWN) | OT_ALIVE | OT_ACTIVE
        return 10
    elif kind >= _K_DECOY0:
        k = kind - _K_DECOY0
        if (DECOY_OS[k] < 0 or DECOY_OS[k] == IS_WINDOWS[h]) and \
                _listening(hosts, i, h, DECOY_CHECK_PORT[k]) == 0:
            hosts[i, h, H_DECOYS] |= 1 << k
            if k == VSFTPD:
                hosts[i, h, H_VSFTPD] += 1
            hosts[i, h, H_EVFLAGS] |= EV_DECOY
    return 0


# ---------------------------------------------------------------- red actions
@njit(cache=True)
def _discover_systems(hosts, envs, i, subnet):
    """DiscoverRemoteSystems (ping sweep): learn the subnet's IPs; no events."""
    if subnet == OPERATIONAL_SUBNET and not _enterprise_session(hosts, i):
        return False
    envs[i, E_KIP] |= SUBNET_HOSTS[subnet]
    return True


@njit(cache=True)
def _discover_services(hosts, envs, i, h):
    """DiscoverNetworkServices (port scan). Unroutable Operational hosts: success, no data."""
    if not _routable(hosts, i, h):
        envs[i, E_RFLAGS] |= BL_SCAN_EMPTY
        return True
    hosts[i, h, H_KPORTS] = _port_scan(hosts, i, h)
    hosts[i, h, H_SCANNED] = 1
    return True


@njit(cache=True, inline="always")
def _applies(known, e):
    """Exploit e is an option given red's known port mask (SQL also needs 80 or 443)."""
    if not (known >> EXPLOIT_PORT[e]) & 1:
        return False
    if e == SQL_EXPLOIT:
        return ((known >> EXPLOIT_PORT[2]) & 1) + ((known >> EXPLOIT_PORT[3]) & 1) > 0
    return True


@njit(cache=True)
def _choose_exploit(rng, i, known):
    """DefaultExploitActionSelector over red's known ports; -1 if none applies."""
    top, n = -1, 0
    for e in range(8):
        if _applies(known, e):
            n += 1
            if top < 0 or EXPLOIT_WEIGHT[e] > EXPLOIT_WEIGHT[top]:
                top = e
    if n <= 1 or _uniform(rng, i) < _TOP_P:
        return top
    k = _below(rng, i, n - 1)
    for e in range(8):
        if e != top and _applies(known, e):
            if k == 0:
                return e
            k -= 1
    return top


@njit(cache=True)
def _exploit(hosts, envs, rng, i, h):
    """ExploitRemoteService on host h; returns success."""
    if not hosts[i, h, H_SCANNED]:
        return False
    e = _choose_exploit(rng, i, hosts[i, h, H_KPORTS])
    envs[i, E_REXP] = e
    if e < 0 or not _routable(hosts, i, h):
        return False
    outcome = EXPLOIT_OUTCOME[h, e]
    decoy = False
    if outcome == NO_PROC:
        for k in range(8):
            if (hosts[i, h, H_DECOYS] >> k) & 1 and DECOY_EXPLOIT[k] == e:
                decoy = True
        if not decoy:
            return False
    p = EXPLOIT_PORT[e]
    if e == SSH_EXPLOIT:  # ten brute-force connections, one more on success; no 4444, no file
        _event(hosts, i, h, p, 10)
        if decoy or outcome == PROC_FAILS:
            return False
        _event(hosts, i, h, p, 1)
        hosts[i, h, H_UHID] += 1
    else:
        _event(hosts, i, h, p, 1)
        if decoy:
            _event(hosts, i, h, p, 1)
            return False
        detected = _uniform(rng, i) < _DET_P
        if detected:
            _event(hosts, i, h, EPHEMERAL_BIT, 1)
            hosts[i, h, H_EVFLAGS] |= EV_4444
        if outcome == ROOT_SHELL:
            hosts[i, h, H_PRIV] += 1
        elif detected:
            hosts[i, h, H_UDET] += 1
        else:
            hosts[i, h, H_UHID] += 1
        hosts[i, h, H_FILES] = 1  # cmd.exe / cmd.sh
    envs[i, E_KHOST] |= 1 << h
    return True


@njit(cache=True)
def _escalate(hosts, envs, rng, i, h):
    """PrivilegeEscalate on host h; on success red learns the host's ``info``."""
    if not (h == _USER0 or hosts[i, h, H_PRIV] > 0):
        udet, uhid = hosts[i, h, H_UDET], hosts[i, h, H_UHID]
        if udet + uhid == 0:
            return False
        if _below(rng, i, udet + uhid) < udet:
            hosts[i, h, H_UDET] -= 1
        else:
            hosts[i, h, H_UHID] -= 1
        hosts[i, h, H_PRIV] += 1
        hosts[i, h, H_FILES] = 1
    envs[i, E_KIP] |= REVEAL_IPS[h]
    envs[i, E_KSUB] |= REVEAL_SUBNETS[h]
    if h == _OPS0:
        envs[i, E_OT] |= OT_KNOWN
    return True


@njit(cache=True)
def _impact(hosts, envs, i):
    """Impact on Op_Server0: stops OTService if red has a session there and knows it."""
    if _sessions(hosts, i, _OPS0) == 0 or not envs[i, E_OT] & OT_KNOWN:
        return False
    ot = envs[i, E_OT]
    if ot & OT_ACTIVE:
        ot &= ~OT_ACTIVE
        if ot & OT_LINKED:  # after a Restore the service no longer points at the process
            ot &= ~OT_ALIVE
    envs[i, E_OT] = ot
    return True


@njit(cache=True)
def _red_act(hosts, envs, rng, i, kind, target):
    """Run red action ``kind`` on ``target`` (host or subnet); returns success."""
    envs[i, E_RKIND] = kind
    envs[i, E_RTGT] = target
    if kind == R_DISCOVER_SYSTEMS:
        return _discover_systems(hosts, envs, i, target)
    if kind == R_DISCOVER_SERVICES:
        return _discover_services(hosts, envs, i, target)
    if kind == R_EXPLOIT:
        return _exploit(hosts, envs, rng, i, target)
    if kind == R_ESCALATE:
        return _escalate(hosts, envs, rng, i, target)
    if kind == R_IMPACT:
        return _impact(hosts, envs, i)
    return False


# ---------------------------------------------------------------- red agents
@njit(cache=True)
def _bline(hosts, envs, rng, i):
    """B_lineAgent: a 15-state machine with failure jumps; returns success."""
    a = envs[i, E_RACT]
    if envs[i, E_RSUCC] == 1:
        if a < 14:
            a += 1
    else:
        a = BLINE_JUMPS[a]
    flags = envs[i, E_RFLAGS]
    if a == 12 and not flags & BL_CACHED12:
        if flags & BL_SCAN_EMPTY:  # first exploit of Op_Server0 with an empty scan: restart at 1
            a = 1
        else:
            flags |= BL_CACHED12
    envs[i, E_RFLAGS] = flags & ~BL_SCAN_EMPTY
    envs[i, E_RACT] = a
    u = envs[i, E_RUSER]
    if a == 1 and u < 0:
        u = _USER1 + _below(rng, i, 4)
        envs[i, E_RUSER] = u
    ent = _ENT1 if u <= _USER1 + 1 else _ENT0
    if a == 0:
        return _red_act(hosts, envs, rng, i, R_DISCOVER_SYSTEMS, USER_SUBNET)
    if a == 7:
        return _red_act(hosts, envs, rng, i, R_DISCOVER_SYSTEMS, ENTERPRISE_SUBNET)
    if a == 14:
        return _red_act(hosts, envs, rng, i, R_IMPACT, _OPS0)
    stage = (a - 1) % 3  # 1,4,8,11 scan; 2,5,9,12 exploit; 3,6,10,13 escalate
    if a >= 8:
        stage = (a - 8) % 3
    target = u if a <= 3 else ent if a <= 6 else _ENT2 if a <= 10 else _OPS0
    kind = (R_DISCOVER_SERVICES, R_EXPLOIT, R_ESCALATE)[stage]
    return _red_act(hosts, envs, rng, i, kind, target)


@njit(cache=True)
def _meander_process_success(envs, i):
    """RedMeanderAgent._process_success: un-exploit / un-escalate after failures."""
    succ = envs[i, E_RSUCC] == 1
    lip, lhost = envs[i, E_LIP], envs[i, E_LHOST]
    if lip >= 0:
        if succ:
            envs[i, E_MAP] |= 1 << lip
        else:
            envs[i, E_EIP] &= ~(1 << lip)
            esc = envs[i, E_ESC]
            drop = esc & OP_HOSTS
            if drop == 0:
                drop = esc & ENTERPRISE_HOSTS
            envs[i, E_ESC] = esc & ~drop
            envs[i, E_EIP] &= ~drop
        envs[i, E_LIP] = -1
    if lhost >= 0:
        if not succ:
            bit = 1 << lhost
            envs[i, E_ESC] &= ~bit
            if envs[i, E_MAP] & bit:
                envs[i, E_EIP] &= ~bit
        envs[i, E_LHOST] = -1


@njit(cache=True)
def _meander(hosts, envs, rng, i):
    """RedMeanderAgent: scan subnets, scan IPs, escalate, exploit, each at random; Impact first."""
    _meander_process_success(envs, i)
    if (envs[i, E_ESC] >> _OPS0) & 1:
        envs[i, E_LHOST] = _OPS0
        return _red_act(hosts, envs, rng, i, R_IMPACT, _OPS0)
    for s in MEANDER_SUBNET_ORDER:
        bit = 1 << s
        if envs[i, E_KSUB] & bit and not envs[i, E_SSUB] & bit:
            envs[i, E_SSUB] |= bit
            return _red_act(hosts, envs, rng, i, R_DISCOVER_SYSTEMS, s)
    cand = envs[i, E_KIP] & ~envs[i, E_SIP]
    if cand:
        h = _pick_bit(rng, i, cand)
        envs[i, E_SIP] |= 1 << h
        return _red_act(hosts, envs, rng, i, R_DISCOVER_SERVICES, h)
    cand = envs[i, E_KHOST] & ~envs[i, E_ESC] & ~(envs[i, E_MAP] & ~envs[i, E_EIP])
    if cand:
        h = _pick_bit(rng, i, cand)
        envs[i, E_ESC] |= 1 << h
        envs[i, E_LHOST] = h
        return _red_act(hosts, envs, rng, i, R_ESCALATE, h)
    cand = envs[i, E_KIP] & ~envs[i, E_EIP]
    if cand:
        h = _pick_bit(rng, i, cand)
        envs[i, E_EIP] |= 1 << h
        envs[i, E_LIP] = h
        return _red_act(hosts, envs, rng, i, R_EXPLOIT, h)
    envs[i, E_RKIND] = R_SLEEP  # CybORG raises "Red Meander has run out of options!"
    return False


# ---------------------------------------------------------------- observation
@njit(cache=True)
def _observe(hosts, i, action, obs):
    """BlueTableWrapper: activity from this step's events, compromised remembered."""
    kind = ACTION_KIND[action]
    ah = ACTION_HOST[action]
    for h in range(NUM_HOSTS):
        bc = hosts[i, h, H_BCOMP]
        if h == ah and kind == _K_RESTORE:
            bc = 0
        elif h == ah and kind == _K_REMOVE and bc != 0:
            bc = 1
        flags = hosts[i, h, H_EVFLAGS]
        n = hosts[i, h, H_EVN] + (1 if flags & EV_DECOY else 0)
        nports = _popcount(hosts[i, h, H_EVPORTS])
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
        compromised[i, h] = _sessions(hosts, i, h) > 0
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


# ---------------------------------------------------------------- the kernels
@njit(cache=True)
def _step_env(hosts, envs, rng, i, a, red, green, max_steps, out):
    """One step of env i with blue action ``a`` (see ``step_kernel``); ``out`` as there."""
    (obs, reward, truncated, final_obs, compromised, final_compromised, red_root, impact,
     red_of, episode_of, red_seed, red_cum, red_log) = out
    for h in range(NUM_HOSTS):
        hosts[i, h, H_EVN] = 0
        hosts[i, h, H_EVPORTS] = 0
        hosts[i, h, H_EVFLAGS] = 0
    tenths = _blue(hosts, envs, i, a)
    if green == 1 and _uniform(rng, i) >= 0.5:
        _port_scan(hosts, i, GREEN_TARGETS[_below(rng, i, 8)])
    envs[i, E_RKIND] = R_SLEEP
    envs[i, E_RTGT] = -1
    envs[i, E_REXP] = -1
    if red == 1:
        envs[i, E_RSUCC] = 1 if _bline(hosts, envs, rng, i) else 0
    elif red == 2:
        envs[i, E_RSUCC] = 1 if _meander(hosts, envs, rng, i) else 0
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
