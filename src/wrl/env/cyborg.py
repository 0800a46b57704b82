"""The real CybORG CAGE2 environment (PyPI ``csle-cyborg``), one env per object.

``CyborgEnv`` builds Scenario 2 from ``gym-csle-cyborg``'s scenario dict, steps it with
integer blue actions (0..144, ``wrl.env.scenario`` order) and reads the true state.
CybORG draws from the global ``random`` and ``numpy.random`` generators; each env
keeps its own copies of both and swaps them in around every call, so an env's
trajectory depends only on its seed and its actions, not on other envs in the process.
Under a red mixture an env holds one CybORG instance per red agent of the mixture
(built when first needed) and plays, each episode, the one ``reset`` names; the random
streams belong to the env, not to the instance.
"""
from __future__ import annotations

import random

import numpy as np

from wrl.env.red import parse_red
from wrl.env.scenario import DECOYS, HOST_INDEX, HOSTS, MAX_STEPS, NUM_HOSTS, OBS_DIM, SUBNETS
from wrl.env.sim_tables import EXPLOITS, PORTS

GREEN_AGENTS = ("sleep", "random")
_ROOT_USERS = frozenset({"root", "SYSTEM"})
#: red action classes by the kind codes of the red-action record (``wrl.env.sim_state.R_*``)
_RED_KINDS = {"Sleep": 0, "DiscoverRemoteSystems": 1, "DiscoverNetworkServices": 2,
              "ExploitRemoteService": 3, "PrivilegeEscalate": 4, "Impact": 5}
#: decoy process names (csle-cyborg ``concrete_actions/decoy_*.py``) -> bit in ``DECOYS`` order
_DECOY_BITS = {name: 1 << k for k, name in enumerate(
    ("apache2", "femitter", "haraka", "Smss.exe", "Sshd.exe", "Svchost.exe", "Tomcat.exe", "vsftpd"))}
_PORT_BITS = {p: 1 << k for k, p in enumerate(PORTS)}
assert len(_DECOY_BITS) == len(DECOYS)


def _agent_classes(red: str, green: str) -> dict:
    from csle_cyborg.agents.simple_agents.b_line import B_lineAgent
    from csle_cyborg.agents.simple_agents.green_agent import GreenAgent
    from csle_cyborg.agents.simple_agents.meander import RedMeanderAgent
    from csle_cyborg.agents.simple_agents.sleep_agent import SleepAgent

    reds = {"b_line": B_lineAgent, "meander": RedMeanderAgent, "sleep": SleepAgent}
    greens = {"sleep": SleepAgent, "random": GreenAgent}
    check_agents(red, green)
    return {"Red": reds[red], "Green": greens[green]}


def check_agents(red: str, green: str) -> None:
    """Raise ValueError naming the argument when ``red`` (an agent or a mixture,
    ``wrl.env.red``) or ``green`` is not known."""
    parse_red(red)
    if green not in GREEN_AGENTS:
        raise ValueError(f"green={green!r} is not a green agent; use one of {', '.join(GREEN_AGENTS)}")


class CyborgEnv:
    """One CybORG Scenario 2 env with its own RNG streams.

    ``red``: one agent or a mixture (``wrl.env.red``); ``reset(red_name)`` picks the
    episode's agent. ``reset()`` and ``step(action)`` return float32[52] observations;
    after each call ``compromised`` (bool[13]) and ``red_root`` (bool[13]) hold the true
    state.
    """

    def __init__(self, red: str = "b_line", green: str = "sleep", max_steps: int = MAX_STEPS,
                 seed: int = 0):
        check_agents(red, green)
        self.red, self.green, self.max_steps = red, green, int(max_steps)
        self._mix = parse_red(red)
        self._games: dict[str, tuple] = {}  # red agent -> (Main, ChallengeWrapper, state)
        self._use(self._mix.single or self._mix.support[0])
        self.compromised = np.zeros(NUM_HOSTS, dtype=bool)
        self.red_root = np.zeros(NUM_HOSTS, dtype=bool)
        self.steps = 0
        self.seed(seed)

    def _use(self, red: str) -> None:
        """Make the CybORG instance of red agent ``red`` the active one (build it if new)."""
        if red not in self._mix.support:
            raise ValueError(f"red agent {red!r} is not in this env's red spec {self._mix.text!r}")
        if red not in self._games:
            from csle_cyborg.agents.wrappers.challenge_wrapper import ChallengeWrapper
            from csle_cyborg.main import Main
            from gym_csle_cyborg.constants.constants import CYBORG

            cyborg = Main(CYBORG.CYBORG_SCENARIO_2_DICT, "sim", agents=_agent_classes(red, self.green))
            wrapper = ChallengeWrapper(env=cyborg, agent_name="Blue", max_steps=self.max_steps)
            self._games[red] = (cyborg, wrapper, cyborg.environment_controller.state)
        self.active_red = red
        self._cyborg, self._env, self._state = self._games[red]

    def seed(self, seed: int) -> None:
        """Re-seed this env's private ``random`` and ``numpy.random`` streams."""
        ss = np.random.SeedSequence(int(seed))
        py_seed, np_seed = ss.generate_state(2, dtype=np.uint32)
        self._py_state = random.Random(int(py_seed)).getstate()
        self._np_state = np.random.RandomState(int(np_seed)).get_state()

    def _swap_in(self):
        saved = random.getstate(), np.random.get_state()
        random.setstate(self._py_state)
        np.random.set_state(self._np_state)
        return saved

    def _swap_out(self, saved) -> None:
        self._py_state = random.getstate()
        self._np_state = np.random.get_state()
        random.setstate(saved[0])
        np.random.set_state(saved[1])

    def reset(self, red: str | None = None) -> np.ndarray:
        """Start a new episode against red agent ``red`` (default: the single agent of the
        spec, else the last one played); returns the first observation, float32[52]."""
        if red is not None:
            self._use(red)
        saved = self._swap_in()
        try:
            obs, _ = self._env.reset()
        finally:
            self._swap_out(saved)
        self.steps = 0
        self._read_true_state()
        return np.asarray(obs, dtype=np.float32).reshape(OBS_DIM)

    def step(self, action: int) -> tuple[np.ndarray, float, bool]:
        """Apply blue action ``action`` (0..144); returns (obs float32[52], reward, truncated)."""
        saved = self._swap_in()
        try:
            obs, reward, _, _, _ = self._env.step(int(action))
        finally:
            self._swap_out(saved)
        self.steps += 1
        self._read_true_state()
        return np.asarray(obs, dtype=np.float32).reshape(OBS_DIM), float(reward), self.steps >= self.max_steps

    def _read_true_state(self) -> None:
        self.compromised[:] = False
        self.red_root[:] = False
        for ident, sess in self._state.sessions["Red"].items():
            if ident == 0 or not sess.active:  # session 0 is the User0 foothold
                continue
            h = HOST_INDEX.get(sess.host)
            if h is None:
                continue
            self.compromised[h] = True
            if sess.username in _ROOT_USERS:
                self.red_root[h] = True

    def decoys(self) -> np.ndarray:
        """int32[13]: the decoys on each host now (bit mask in ``DECOYS`` order), the true state."""
        hosts = self._state.hosts
        return np.array([sum({_DECOY_BITS[p.name] for p in hosts[name].processes
                              if p.decoy_type.value and p.name in _DECOY_BITS}) for name in HOSTS], np.int32)

    def red_record(self) -> tuple[int, int, int, int, int, int]:
        """Red's last action and its outcome as the numba simulator logs it (``sim_state.RL_*``
        columns): (kind, target host or subnet, exploit index or -1, success 0/1, red's
        known ports of the target as a ``PORTS`` bit mask, the target's decoys as a
        ``DECOYS`` bit mask). Call it once after every step (it clears the exploit it read)."""
        action = self._cyborg.get_last_action("Red")
        name = "Sleep" if action is None else type(action).__name__
        kind, target, exploit, ports, decoys = _RED_KINDS[name], -1, -1, 0, 0
        if name == "DiscoverRemoteSystems":
            cidrs = self._state.subnet_name_to_cidr
            target = next(k for k, s in enumerate(SUBNETS) if cidrs[s] == action.subnet)
        elif name != "Sleep":
            host = action.hostname if hasattr(action, "hostname") else \
                self._state.ip_addresses[action.ip_address]
            target = HOST_INDEX[host]
            sub = getattr(action, "sub_action", None)
            if name == "ExploitRemoteService" and sub is not None:
                exploit = EXPLOITS.index(type(sub).__name__)
                action.sub_action = None  # B_line reuses the object; an unscanned IP sets none
            ip = next(a for a, h in self._state.ip_addresses.items() if h == host)
            known = self._state.sessions["Red"][0].ports.get(ip, ())
            ports = sum(_PORT_BITS.get(p, 0) for p in set(known))
            decoys = sum({_DECOY_BITS[p.name] for p in self._state.hosts[host].processes
                          if p.decoy_type.value and p.name in _DECOY_BITS})
        success = name != "Sleep" and str(self._cyborg.get_observation("Red")["success"]) == "TRUE"
        return kind, target, exploit, int(success), ports, decoys

    @property
    def possible_actions(self) -> list:
        """csle-cyborg's own list of the 145 blue action objects, in its order."""
        return self._env.possible_actions
