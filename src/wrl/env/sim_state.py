"""The numba simulator's state: N envs in flat arrays, and the queries every rule shares.

Layout (all per env ``i``; see ``new_state``):
- ``hosts`` int16[N, 13, NH]: per host, the ``H_*`` fields (red sessions by kind, red
  files, decoys, red's port knowledge, blue's remembered "compromised" value and the
  events of the current step that Monitor turns into the observation);
- ``envs`` int32[N, NE]: per env, the ``E_*`` fields (step count, OTService state, the
  red agent's state machine and knowledge, as bit masks over hosts/subnets);
- ``rng`` uint64[N]: a splitmix64 stream per env, so results never depend on threads.

Also here: the red-action record's columns (``RL_*``) and red's action kinds (``R_*``),
which both backends write.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from wrl.env.scenario import HOST_INDEX, HOST_SUBNET, NUM_HOSTS
from wrl.env.sim_tables import (
    BASE_CONN, DECOY_PORT, ENTERPRISE_HOSTS, NUM_PORTS, OPERATIONAL_SUBNET, USER_SUBNET, VSFTPD,
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

#: red action kinds recorded in envs[:, E_RKIND]
R_SLEEP, R_DISCOVER_SYSTEMS, R_DISCOVER_SERVICES, R_EXPLOIT, R_ESCALATE, R_IMPACT = range(6)
#: columns of the red-action record (``red_log`` int16[N, RL_N], both backends): action kind
#: (R_*), target (host index; subnet index for DiscoverRemoteSystems; -1 none), exploit
#: chosen (index into sim_tables.EXPLOITS; -1 none), success (0/1), red's known ports of the
#: target after the action (bit mask over sim_tables.PORTS) and the target's decoys (bit
#: mask over scenario.DECOYS)
RL_KIND, RL_TARGET, RL_EXPLOIT, RL_SUCCESS, RL_PORTS, RL_DECOYS = range(6)
RL_N = 6

#: host indices the rules name
USER0, USER1 = HOST_INDEX["User0"], HOST_INDEX["User1"]
ENT0, ENT1, ENT2 = HOST_INDEX["Enterprise0"], HOST_INDEX["Enterprise1"], HOST_INDEX["Enterprise2"]
OPS0 = HOST_INDEX["Op_Server0"]
#: blue action kinds (``scenario.ACTION_KIND``) the rules name
K_ANALYSE, K_REMOVE, K_DECOY0, K_RESTORE = 2, 3, 4, 12
_SUBNET = HOST_SUBNET.astype(np.int8)


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
def uniform(rng, i):
    """Next float64 in [0, 1) of env i's splitmix64 stream."""
    z = rng[i] + np.uint64(0x9E3779B97F4A7C15)
    rng[i] = z
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def below(rng, i, n):
    """Uniform int in [0, n)."""
    k = int(uniform(rng, i) * n)
    return k if k < n else n - 1


@njit(cache=True, inline="always")
def popcount(x):
    """Number of set bits of the int ``x`` (>= 0)."""
    c = 0
    while x:
        x &= x - 1
        c += 1
    return c


@njit(cache=True, inline="always")
def pick_bit(rng, i, mask):
    """Index of a uniformly drawn set bit of ``mask`` (> 0)."""
    k = below(rng, i, popcount(mask))
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
    envs[i, E_KIP] = 1 << USER0
    envs[i, E_KHOST] = 1 << USER0
    envs[i, E_LHOST] = -1
    envs[i, E_LIP] = -1


@njit(cache=True, inline="always")
def sessions(hosts, i, h):
    """Red sessions (root + user, detected or not) on host h of env i."""
    return hosts[i, h, H_PRIV] + hosts[i, h, H_UDET] + hosts[i, h, H_UHID]


@njit(cache=True)
def enterprise_session(hosts, i):
    """Red holds a session on an Enterprise host: the Operational subnet is routable."""
    for h in range(NUM_HOSTS):
        if (ENTERPRISE_HOSTS >> h) & 1 and sessions(hosts, i, h) > 0:
            return True
    return False


@njit(cache=True)
def routable(hosts, i, h):
    """Red can reach host h: outside the Operational subnet, or red holds an Enterprise session."""
    return _SUBNET[h] != OPERATIONAL_SUBNET or enterprise_session(hosts, i)


@njit(cache=True)
def listening(hosts, i, h, p):
    """Listening connections on port index p of host h (own processes + decoys)."""
    c = np.int32(BASE_CONN[h, p])
    mask = hosts[i, h, H_DECOYS]
    for k in range(8):
        if (mask >> k) & 1 and DECOY_PORT[k] == p:
            c += hosts[i, h, H_VSFTPD] if k == VSFTPD else 1
    return c


@njit(cache=True, inline="always")
def event(hosts, i, h, bit, n):
    """Record ``n`` events on host h this step, on port bit ``bit`` (``EPHEMERAL_BIT``: a 4444 shell)."""
    hosts[i, h, H_EVN] += n
    hosts[i, h, H_EVPORTS] |= 1 << bit


@njit(cache=True)
def port_scan(hosts, i, h):
    """One event per listening connection on h (red or green scan); returns the port mask."""
    mask = 0
    for p in range(NUM_PORTS):
        c = listening(hosts, i, h, p)
        if c > 0:
            event(hosts, i, h, p, c)
            mask |= 1 << p
    return mask

