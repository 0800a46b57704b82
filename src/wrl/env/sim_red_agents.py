"""The numba simulator's red agents: B_lineAgent and RedMeanderAgent, each choosing one red action per step."""
from __future__ import annotations

from numba import njit

from wrl.env.sim_actions import red_act
from wrl.env.sim_state import (
    BL_CACHED12, BL_SCAN_EMPTY, E_EIP, E_ESC, E_KHOST, E_KIP, E_KSUB, E_LHOST, E_LIP, E_MAP, E_RACT,
    E_RFLAGS, E_RKIND, E_RSUCC, E_RUSER, E_SIP, E_SSUB, ENT0, ENT1, ENT2, OPS0, R_DISCOVER_SERVICES,
    R_DISCOVER_SYSTEMS, R_ESCALATE, R_EXPLOIT, R_IMPACT, R_SLEEP, USER1, below, pick_bit,
)
from wrl.env.sim_tables import (
    BLINE_JUMPS, ENTERPRISE_HOSTS, ENTERPRISE_SUBNET, MEANDER_SUBNET_ORDER, OP_HOSTS, USER_SUBNET,
)


@njit(cache=True)
def bline_act(hosts, envs, rng, i):
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
        u = USER1 + below(rng, i, 4)
        envs[i, E_RUSER] = u
    ent = ENT1 if u <= USER1 + 1 else ENT0
    if a == 0:
        return red_act(hosts, envs, rng, i, R_DISCOVER_SYSTEMS, USER_SUBNET)
    if a == 7:
        return red_act(hosts, envs, rng, i, R_DISCOVER_SYSTEMS, ENTERPRISE_SUBNET)
    if a == 14:
        return red_act(hosts, envs, rng, i, R_IMPACT, OPS0)
    stage = (a - 1) % 3  # 1,4,8,11 scan; 2,5,9,12 exploit; 3,6,10,13 escalate
    if a >= 8:
        stage = (a - 8) % 3
    target = u if a <= 3 else ent if a <= 6 else ENT2 if a <= 10 else OPS0
    kind = (R_DISCOVER_SERVICES, R_EXPLOIT, R_ESCALATE)[stage]
    return red_act(hosts, envs, rng, i, kind, target)


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
def meander_act(hosts, envs, rng, i):
    """RedMeanderAgent: scan subnets, scan IPs, escalate, exploit, each at random; Impact first."""
    _meander_process_success(envs, i)
    if (envs[i, E_ESC] >> OPS0) & 1:
        envs[i, E_LHOST] = OPS0
        return red_act(hosts, envs, rng, i, R_IMPACT, OPS0)
    for s in MEANDER_SUBNET_ORDER:
        bit = 1 << s
        if envs[i, E_KSUB] & bit and not envs[i, E_SSUB] & bit:
            envs[i, E_SSUB] |= bit
            return red_act(hosts, envs, rng, i, R_DISCOVER_SYSTEMS, s)
    cand = envs[i, E_KIP] & ~envs[i, E_SIP]
    if cand:
        h = pick_bit(rng, i, cand)
        envs[i, E_SIP] |= 1 << h
        return red_act(hosts, envs, rng, i, R_DISCOVER_SERVICES, h)
    cand = envs[i, E_KHOST] & ~envs[i, E_ESC] & ~(envs[i, E_MAP] & ~envs[i, E_EIP])
    if cand:
        h = pick_bit(rng, i, cand)
        envs[i, E_ESC] |= 1 << h
        envs[i, E_LHOST] = h
        return red_act(hosts, envs, rng, i, R_ESCALATE, h)
    cand = envs[i, E_KIP] & ~envs[i, E_EIP]
    if cand:
        h = pick_bit(rng, i, cand)
        envs[i, E_EIP] |= 1 << h
        envs[i, E_LIP] = h
        return red_act(hosts, envs, rng, i, R_EXPLOIT, h)
    envs[i, E_RKIND] = R_SLEEP  # CybORG raises "Red Meander has run out of options!"
    return False

