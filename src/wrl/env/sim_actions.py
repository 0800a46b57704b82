"""The numba simulator's actions: blue's, and red's primitives (scan, exploit, escalate, impact).

Each rule cites its csle-cyborg source in ``docs/fidelity.md``.
"""
from __future__ import annotations

from numba import njit

from wrl.env.scenario import ACTION_HOST, ACTION_KIND
from wrl.env.sim_state import (
    E_KHOST, E_KIP, E_KSUB, E_OT, E_REXP, E_RFLAGS, E_RKIND, E_RTGT, EV_4444, EV_ANALYSED, EV_DECOY,
    H_DECOYS, H_EVFLAGS, H_FILES, H_KPORTS, H_PRIV, H_SCANNED, H_UDET, H_UHID, H_VSFTPD, K_ANALYSE, K_DECOY0,
    K_REMOVE, K_RESTORE, OPS0, OT_ACTIVE, OT_ALIVE, OT_KNOWN, OT_LINKED, R_DISCOVER_SERVICES,
    R_DISCOVER_SYSTEMS, R_ESCALATE, R_EXPLOIT, R_IMPACT, USER0, BL_SCAN_EMPTY, below,
    enterprise_session, event, listening, port_scan, routable, sessions, uniform,
)
from wrl.env.sim_tables import (
    DECOY_CHECK_PORT, DECOY_EXPLOIT, DECOY_OS, EPHEMERAL_BIT, EXPLOIT_OUTCOME, EXPLOIT_PORT,
    EXPLOIT_WEIGHT, IS_WINDOWS, NO_PROC, OPERATIONAL_SUBNET, PROC_FAILS, REVEAL_IPS, REVEAL_SUBNETS,
    ROOT_SHELL, SQL_EXPLOIT, SSH_EXPLOIT, SUBNET_HOSTS, VSFTPD,
)

_DET_P = 0.95     # ExploitAction.detection_rate
_TOP_P = 0.75     # DefaultExploitActionSelector odds_of_top_choice


@njit(cache=True)
def blue_act(hosts, envs, i, action):
    """Apply blue action ``action``; returns its cost in reward tenths (Restore: 10)."""
    kind = ACTION_KIND[action]
    h = ACTION_HOST[action]
    if kind == K_ANALYSE:
        if hosts[i, h, H_FILES]:
            hosts[i, h, H_EVFLAGS] |= EV_ANALYSED
    elif kind == K_REMOVE:
        hosts[i, h, H_UDET] = 0
    elif kind == K_RESTORE:
        for f in (H_PRIV, H_UDET, H_UHID, H_FILES, H_DECOYS, H_VSFTPD):
            hosts[i, h, f] = 0
        if h == OPS0:
            envs[i, E_OT] = (envs[i, E_OT] & OT_KNOWN) | OT_ALIVE | OT_ACTIVE
        return 10
    elif kind >= K_DECOY0:
        k = kind - K_DECOY0
        if (DECOY_OS[k] < 0 or DECOY_OS[k] == IS_WINDOWS[h]) and \
                listening(hosts, i, h, DECOY_CHECK_PORT[k]) == 0:
            hosts[i, h, H_DECOYS] |= 1 << k
            if k == VSFTPD:
                hosts[i, h, H_VSFTPD] += 1
            hosts[i, h, H_EVFLAGS] |= EV_DECOY
    return 0


@njit(cache=True)
def _discover_systems(hosts, envs, i, subnet):
    """DiscoverRemoteSystems (ping sweep): learn the subnet's IPs; no events."""
    if subnet == OPERATIONAL_SUBNET and not enterprise_session(hosts, i):
        return False
    envs[i, E_KIP] |= SUBNET_HOSTS[subnet]
    return True


@njit(cache=True)
def _discover_services(hosts, envs, i, h):
    """DiscoverNetworkServices (port scan). Unroutable Operational hosts: success, no data."""
    if not routable(hosts, i, h):
        envs[i, E_RFLAGS] |= BL_SCAN_EMPTY
        return True
    hosts[i, h, H_KPORTS] = port_scan(hosts, i, h)
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
    if n <= 1 or uniform(rng, i) < _TOP_P:
        return top
    k = below(rng, i, n - 1)
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
    if e < 0 or not routable(hosts, i, h):
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
        event(hosts, i, h, p, 10)
        if decoy or outcome == PROC_FAILS:
            return False
        event(hosts, i, h, p, 1)
        hosts[i, h, H_UHID] += 1
    else:
        event(hosts, i, h, p, 1)
        if decoy:
            event(hosts, i, h, p, 1)
            return False
        detected = uniform(rng, i) < _DET_P
        if detected:
            event(hosts, i, h, EPHEMERAL_BIT, 1)
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
    if not (h == USER0 or hosts[i, h, H_PRIV] > 0):
        udet, uhid = hosts[i, h, H_UDET], hosts[i, h, H_UHID]
        if udet + uhid == 0:
            return False
        if below(rng, i, udet + uhid) < udet:
            hosts[i, h, H_UDET] -= 1
        else:
            hosts[i, h, H_UHID] -= 1
        hosts[i, h, H_PRIV] += 1
        hosts[i, h, H_FILES] = 1
    envs[i, E_KIP] |= REVEAL_IPS[h]
    envs[i, E_KSUB] |= REVEAL_SUBNETS[h]
    if h == OPS0:
        envs[i, E_OT] |= OT_KNOWN
    return True


@njit(cache=True)
def _impact(hosts, envs, i):
    """Impact on Op_Server0: stops OTService if red has a session there and knows it."""
    if sessions(hosts, i, OPS0) == 0 or not envs[i, E_OT] & OT_KNOWN:
        return False
    ot = envs[i, E_OT]
    if ot & OT_ACTIVE:
        ot &= ~OT_ACTIVE
        if ot & OT_LINKED:  # after a Restore the service no longer points at the process
            ot &= ~OT_ALIVE
    envs[i, E_OT] = ot
    return True


@njit(cache=True)
def red_act(hosts, envs, rng, i, kind, target):
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

