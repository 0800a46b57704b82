"""Scenario 2 facts the numba simulator needs, as small constant arrays.

Every table is read off csle-cyborg 0.0.3 (the specification); ``tests/test_sim.py``
checks the port, OS and process tables against a live CybORG state. Hosts are in
``wrl.env.scenario.HOSTS`` order; "port index" means an index into ``PORTS``.
"""
from __future__ import annotations

import numpy as np

from wrl.env.scenario import HOST_INDEX, HOST_SUBNET, NUM_HOSTS

#: Listening ports that occur in Scenario 2 (base processes and decoys).
PORTS: tuple[int, ...] = (21, 22, 25, 53, 68, 80, 135, 139, 443, 445, 3389, 3390)
NUM_PORTS = len(PORTS)
#: Extra bit in an event port mask: the ephemeral local port of a reverse shell (4444 event).
EPHEMERAL_BIT = NUM_PORTS
_P = {p: i for i, p in enumerate(PORTS)}

_H = HOST_INDEX
WINDOWS_HOSTS = ("Enterprise1", "Enterprise2", "User0", "User1", "User2")
#: int8[13]: 1 for a Windows host, 0 for Linux.
IS_WINDOWS = np.array([h in WINDOWS_HOSTS for h in HOST_INDEX], np.int8)

#: int8[13, 12]: listening connections (local port, no remote port) per host and port.
#: A port scan reports one event per connection (Defender's resolver listens on 53 twice).
BASE_CONN = np.zeros((NUM_HOSTS, NUM_PORTS), np.int8)
for _host, _ports in {
    "Defender": (22, 53, 53, 68),
    "Enterprise0": (22,),
    "Enterprise1": (22, 135, 3389, 445, 139, 80, 443),
    "Enterprise2": (22, 135, 3389, 445, 139, 80, 443),
    "Op_Host0": (22,), "Op_Host1": (22,), "Op_Host2": (22,), "Op_Server0": (22,),
    "User0": (22, 21), "User1": (22, 21),
    "User2": (445, 139, 135, 3389),
    "User3": (80, 3389, 443, 25),
    "User4": (22, 80, 3390, 443, 25),
}.items():
    for _p in _ports:
        BASE_CONN[_H[_host], _P[_p]] += 1

# Exploits in the order of csle-cyborg's DefaultExploitActionSelector.
EXPLOITS: tuple[str, ...] = ("EternalBlue", "BlueKeep", "HTTPRFI", "HTTPSRFI", "SSHBruteForce",
                             "SQLInjection", "HarakaRCE", "FTPDirectoryTraversal")
SSH_EXPLOIT = EXPLOITS.index("SSHBruteForce")
SQL_EXPLOIT = EXPLOITS.index("SQLInjection")
#: float64[8]: selector weight of each exploit (the top one is taken with p=0.75).
EXPLOIT_WEIGHT = np.array([2.0, 1.0, 3.0, 4.0, 0.1, 5.0, 6.0, 7.0])
#: int8[8]: port index each exploit needs in red's last scan (and attacks).
EXPLOIT_PORT = np.array([_P[p] for p in (139, 3389, 80, 443, 22, 3390, 25, 21)], np.int8)

#: Outcome of an exploit on a host's own (non-decoy) process.
NO_PROC, USER_SHELL, ROOT_SHELL, PROC_FAILS = 0, 1, 2, 3
#: int8[13, 8]: outcome per host and exploit. NO_PROC: no process of the exploit's type
#: listens on its port (no event, failure); PROC_FAILS: SSH on Defender (no
#: brute-forceable user). ROOT_SHELL: the process runs as root/SYSTEM.
EXPLOIT_OUTCOME = np.zeros((NUM_HOSTS, len(EXPLOITS)), np.int8)
for _host, _outcomes in {
    "Defender": {"SSHBruteForce": PROC_FAILS},
    "Enterprise0": {"SSHBruteForce": USER_SHELL},
    "Enterprise1": {"BlueKeep": ROOT_SHELL, "HTTPRFI": USER_SHELL, "HTTPSRFI": USER_SHELL,
                    "SSHBruteForce": USER_SHELL},
    "Enterprise2": {"BlueKeep": ROOT_SHELL, "HTTPRFI": USER_SHELL, "HTTPSRFI": USER_SHELL,
                    "SSHBruteForce": USER_SHELL},
    "Op_Host0": {"SSHBruteForce": USER_SHELL}, "Op_Host1": {"SSHBruteForce": USER_SHELL},
    "Op_Host2": {"SSHBruteForce": USER_SHELL}, "Op_Server0": {"SSHBruteForce": USER_SHELL},
    "User0": {"SSHBruteForce": USER_SHELL, "FTPDirectoryTraversal": ROOT_SHELL},
    "User1": {"SSHBruteForce": USER_SHELL, "FTPDirectoryTraversal": ROOT_SHELL},
    "User2": {"EternalBlue": ROOT_SHELL, "BlueKeep": USER_SHELL},
    "User3": {"HTTPRFI": USER_SHELL, "HTTPSRFI": USER_SHELL, "HarakaRCE": ROOT_SHELL},
    "User4": {"HTTPRFI": USER_SHELL, "HTTPSRFI": USER_SHELL, "SSHBruteForce": USER_SHELL,
              "SQLInjection": ROOT_SHELL, "HarakaRCE": ROOT_SHELL},
}.items():
    for _e, _o in _outcomes.items():
        EXPLOIT_OUTCOME[_H[_host], EXPLOITS.index(_e)] = _o

# Decoys in blue action order (wrl.env.scenario.DECOYS).
#: int8[8]: port index the decoy process listens on (Vsftpd: 80, the quirk).
DECOY_PORT = np.array([_P[p] for p in (80, 21, 25, 139, 22, 3389, 443, 80)], np.int8)
#: int8[8]: port index that must be free for the decoy to be placed (Vsftpd checks 21).
DECOY_CHECK_PORT = np.array([_P[p] for p in (80, 21, 25, 139, 22, 3389, 443, 21)], np.int8)
#: int8[8]: OS the decoy needs: -1 any, 0 Linux, 1 Windows.
DECOY_OS = np.array([-1, 1, 0, 1, -1, 1, -1, 0], np.int8)
VSFTPD = 7
#: int8[8]: exploit each decoy's process answers (and blocks): Apache and Vsftpd look
#: like HTTP on 80, Femitter FTP, Haraka SMTP, Smss SMB, SSHD SSH, Svchost RDP, Tomcat HTTPS.
DECOY_EXPLOIT = np.array([EXPLOITS.index(e) for e in (
    "HTTPRFI", "FTPDirectoryTraversal", "HarakaRCE", "EternalBlue", "SSHBruteForce",
    "BlueKeep", "HTTPSRFI", "HTTPRFI")], np.int8)

#: int8[13]: confidentiality loss per step (tenths of reward) while red holds root/SYSTEM.
CONF_TENTHS = np.array([1, 10, 10, 10, 1, 1, 1, 10, 0, 1, 1, 1, 1], np.int8)
#: Reward (tenths) per step while Op_Server0's OTService process is gone.
OT_DOWN_TENTHS = 100

ENTERPRISE_SUBNET, OPERATIONAL_SUBNET, USER_SUBNET = 1, 2, 0
#: int32[3]: host bit mask of each subnet (index as HOST_SUBNET).
SUBNET_HOSTS = np.array([sum(1 << h for h in range(NUM_HOSTS) if HOST_SUBNET[h] == s)
                         for s in range(3)], np.int32)
#: int32: hosts whose red session opens routing into the Operational subnet ('Enterprise' in name).
ENTERPRISE_HOSTS = sum(1 << _H[f"Enterprise{i}"] for i in range(3))
#: int32: host masks of RedMeander's 'Op' and 'Ent' name tests.
OP_HOSTS = sum(1 << h for h, name in enumerate(HOST_INDEX) if "Op" in name)
#: int32[13]: IPs (as host bits) red learns by escalating on the host (its ``info``).
REVEAL_IPS = np.zeros(NUM_HOSTS, np.int32)
#: int32[13]: subnets (as subnet bits) red learns by escalating on the host.
REVEAL_SUBNETS = np.zeros(NUM_HOSTS, np.int32)
for _h, _name in enumerate(HOST_INDEX):
    if _name != "Defender":  # Defender has no ``info``
        REVEAL_IPS[_h] = 1 << _h
        REVEAL_SUBNETS[_h] = 1 << int(HOST_SUBNET[_h])
for _src, _dst in (("User1", "Enterprise1"), ("User2", "Enterprise1"), ("User3", "Enterprise0"),
                   ("User4", "Enterprise0"), ("Enterprise2", "Op_Server0")):
    REVEAL_IPS[_H[_src]] |= 1 << _H[_dst]
#: RedMeander scans known subnets in the insertion order of its action space.
MEANDER_SUBNET_ORDER = np.array([ENTERPRISE_SUBNET, OPERATIONAL_SUBNET, USER_SUBNET], np.int8)

#: B_lineAgent's failure jumps: state s failing goes to JUMPS[s].
BLINE_JUMPS = np.array([0, 1, 2, 2, 2, 2, 5, 5, 5, 5, 9, 9, 9, 12, 13], np.int8)
#: GreenAgent's port-scan targets.
GREEN_TARGETS = np.array([_H[h] for h in ("User0", "User1", "User2", "User3", "User4",
                                          "Enterprise0", "Enterprise1", "Enterprise2")], np.int8)
