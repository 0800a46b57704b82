"""A trained policy as an agent: a batched ``act`` and CybORG's own agent interface.

``load(path)`` gives a ``PolicyAgent``: ``act(obs float32[N,52], first bool[N]) ->
int64[N]``, where ``first`` marks the envs whose episode starts with this observation
(the agent forgets whatever it remembers of their previous episode). ``Cage2Agent(path)``
wraps one env's worth of it in CybORG's agent interface (``get_action(observation,
action_space)``, ``end_episode()``), so a policy trained here runs unchanged in the CAGE2
evaluation loop over csle-cyborg's ``ChallengeWrapper``.
"""
from __future__ import annotations

import os
from typing import Protocol

import numpy as np
import torch

from wrl.env.scenario import OBS_DIM
from wrl.rl.model import ActorCritic, load_policy
from wrl.rl.state import AgentState


class Agent(Protocol):
    """The one agent interface: trained policies, baselines, ``wrl evaluate``, the
    pipeline's evaluation and ``Cage2Agent`` all act through it.

    ``act(obs float32[N,52], first bool[N], info=None) -> int64[N]``: the actions for N
    envs, where ``first`` marks the envs whose episode starts with this observation (the
    agent forgets their previous episode); the agent keeps its own per-env state.
    ``info`` is the env's info dict, read only by reference baselines that use the true
    state (``oracle:W``).
    """

    def act(self, obs: np.ndarray, first: np.ndarray, info: dict | None = None) -> np.ndarray: ...


class PolicyAgent:
    """A batched agent over an ``ActorCritic``: greedy (argmax) or sampled actions.

    It keeps the agent's state (``wrl.rl.state``: kind ``model.memory``, the decoy mask when
    ``model.mask_decoys``, the red guess that picks a specialist) per env; the batch size
    is fixed by the first call. Masked actions are never chosen. Sampling uses a
    ``torch.Generator`` seeded by ``seed``.
    """

    def __init__(self, model: ActorCritic, greedy: bool = True, seed: int = 0):
        self.model = model.eval()
        self.greedy = greedy
        self.state: AgentState | None = None
        self._gen = torch.Generator(device=model.wf.device).manual_seed(int(seed))

    @torch.no_grad()
    def logits(self, obs: np.ndarray, first: np.ndarray) -> tuple[torch.Tensor, np.ndarray | None]:
        """Count observations float32[N, 52] into the state (``first`` bool[N] starts
        episodes) and return the policy's masked logits float32[N, 145] and the mask
        (bool[N, 145], or None without ``mask_decoys``). The caller picks the actions and
        must then ``state.record`` them, as ``act`` does."""
        obs = np.asarray(obs, dtype=np.float32).reshape(-1, OBS_DIM)
        first = np.asarray(first, dtype=bool).reshape(-1)
        if first.shape[0] != obs.shape[0]:
            raise ValueError(f"first has {first.shape[0]} entries for {obs.shape[0]} observations")
        if self.state is None:
            self.state = AgentState(self.model.memory, len(obs), self.model.mask_decoys,
                                    self.model.next_decoy)
            first = np.ones(len(obs), bool)  # nothing remembered yet
        elif len(obs) != self.state.num_envs:
            raise ValueError(f"{len(obs)} observations for an agent of {self.state.num_envs} envs; "
                             "load one agent per batch size")
        device = self.model.wf.device
        x = torch.from_numpy(self.state.observe(obs, first)).to(device)
        head = torch.from_numpy(self.state.guess()).to(device) if self.model.specialists else None
        mask = self.state.mask()
        logits = self.model.logits(x, None, head, None if mask is None else torch.from_numpy(mask).to(device))
        return logits, mask

    @torch.no_grad()
    def act(self, obs: np.ndarray, first: np.ndarray, info: dict | None = None) -> np.ndarray:
        """int64[N] actions for observations float32[N, 52]; ``first`` bool[N] starts
        episodes; ``info`` is never read (a CybORG agent gets only the observation)."""
        logits, _ = self.logits(obs, first)
        if self.greedy:
            actions = logits.argmax(-1).cpu().numpy()
        else:
            probs = torch.softmax(logits, -1)
            actions = torch.multinomial(probs, 1, generator=self._gen).squeeze(-1).cpu().numpy()
        self.state.record(actions)
        return actions


def load(path: str | os.PathLike, greedy: bool = True, seed: int = 0, device: str = "cpu") -> PolicyAgent:
    """The ``policy.pt`` at ``path`` as a ``PolicyAgent`` (raises naming the file if unreadable)."""
    return PolicyAgent(load_policy(path, device), greedy=greedy, seed=seed)


class Cage2Agent:
    """A trained policy in CybORG's agent interface, for the CAGE2 evaluation script.

    ``get_action(observation, action_space)`` takes the ChallengeWrapper's 52-float
    observation and returns the blue action index (0..144, the wrapper's own order);
    ``end_episode()`` tells the agent the next observation starts a new episode.
    """

    def __init__(self, path: str | os.PathLike, greedy: bool = True, seed: int = 0):
        self.agent = load(path, greedy=greedy, seed=seed)
        self._first = True

    def get_action(self, observation, action_space=None) -> int:
        """The blue action for one observation (array-like of 52 floats)."""
        action = self.agent.act(np.asarray(observation, dtype=np.float32)[None], np.array([self._first]))
        self._first = False
        return int(action[0])

    def end_episode(self) -> None:
        """The episode is over: the next observation is the first of a new one."""
        self._first = True
