"""The agent's action masks: which decoys can still change anything on a host.

Decoy fit (``decoy_fits``): a decoy is placed only when its OS matches the host's and its
check port is free of the host's own listening processes and of the decoys already
there (csle-cyborg's ``DecoyApache`` etc. ``execute``: ``docs/training.md``); the agent's
decoy record (``wrl.rl.state``) applies the same rule, so it equals the true decoys on the
host.

Next decoy (``next_only``): per host only one decoy is offered, the first in
``DECOY_ORDER`` that fits and whose exploit no decoy on the host already offers. The
order is red's preference (csle-cyborg's ``DefaultExploitActionSelector`` weights of the
exploit each decoy answers), so a host's first decoy becomes red's top choice soonest;
repeating "decoy on h" walks down the list, as CardiffUni's per-host decoy actions do. A
second decoy of an exploit already offered (Vsftpd after Apache: both answer HTTPRFI on
port 80) cannot change red's choice, so it is never offered.

Analyse, Remove, Restore and Sleep are never masked.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from wrl.env.scenario import DECOY0, DECOYS, NUM_ACTIONS, NUM_HOSTS, RESTORE0
from wrl.env.sim_tables import (
    BASE_CONN, DECOY_CHECK_PORT, DECOY_EXPLOIT, DECOY_OS, DECOY_PORT, EXPLOIT_WEIGHT, IS_WINDOWS,
)

NUM_DECOYS = len(DECOYS)
#: int64[8]: decoys (``scenario.DECOYS`` index) by red's preference for the exploit they
#: answer, highest first (ties in ``DECOYS`` order): Femitter, Haraka, Tomcat, Apache,
#: Vsftpd, Smss, Svchost, SSHD.
DECOY_ORDER = np.argsort(-EXPLOIT_WEIGHT[DECOY_EXPLOIT], kind="stable").astype(np.int64)


@njit(cache=True)
def decoy_fits(h, k, placed):
    """True when decoy ``k`` (``scenario.DECOYS`` index) can be placed on host ``h`` that
    holds the decoys of bit mask ``placed``: its OS fits and its check port is free."""
    if DECOY_OS[k] >= 0 and DECOY_OS[k] != IS_WINDOWS[h]:
        return False
    p = DECOY_CHECK_PORT[k]
    if BASE_CONN[h, p] > 0:
        return False
    for j in range(NUM_DECOYS):
        if (placed >> j) & 1 and DECOY_PORT[j] == p:
            return False
    return True


@njit(cache=True)
def _next_decoy(h, placed):
    """The decoy (``DECOYS`` index) offered on host ``h`` holding decoys ``placed``: the first
    of ``DECOY_ORDER`` that fits and answers an exploit no placed decoy answers; -1 if none."""
    for k in DECOY_ORDER:
        if (placed >> k) & 1 or not decoy_fits(h, k, placed):
            continue
        offered = False
        for j in range(NUM_DECOYS):
            if (placed >> j) & 1 and DECOY_EXPLOIT[j] == DECOY_EXPLOIT[k]:
                offered = True
        if not offered:
            return k
    return -1


@njit(cache=True)
def _fill_mask(decoys, out, next_only):
    """out bool[N, 145] from decoys int32[N, 13] (see ``action_mask``)."""
    for i in range(out.shape[0]):
        for a in range(DECOY0):
            out[i, a] = True
        for a in range(RESTORE0, NUM_ACTIONS):
            out[i, a] = True
        for h in range(NUM_HOSTS):
            placed = decoys[i, h]
            nxt = _next_decoy(h, placed) if next_only else -1
            for k in range(NUM_DECOYS):
                if next_only:
                    ok = k == nxt
                else:
                    ok = not ((placed >> k) & 1) and decoy_fits(h, k, placed)
                out[i, DECOY0 + k * NUM_HOSTS + h] = ok


def action_mask(decoys: np.ndarray, next_only: bool) -> np.ndarray:
    """bool[N, 145]: every action except a decoy already placed or one that cannot fit, for
    hosts holding the decoys ``decoys`` (int32[N, 13], bit masks over ``scenario.DECOYS``);
    with ``next_only`` each host's decoys are cut further to its next decoy (or none)."""
    decoys = np.ascontiguousarray(decoys, dtype=np.int32)
    out = np.empty((decoys.shape[0], NUM_ACTIONS), bool)
    _fill_mask(decoys, out, bool(next_only))
    return out
