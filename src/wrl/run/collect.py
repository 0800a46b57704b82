"""Rollout collection: the env pool stepped by the policy, the alignment reward, the agent's
state (``wrl.rl.state``) and the episode bookkeeping, written into a ``wrl.rl.ppo.Rollout``.

Learning reward = env reward + alignment reward (``wrl.workflow``), where a fix is judged
against ``info["compromised"]`` of the previous reset/step (the true state just before
the action) and the state just after it (``wrl.workflow.state_after``), divided by the
running std of its discounted return (``wrl.rl.ppo.RewardScaler``). A base policy
(``base=True``) draws each env's workflow afresh at every episode start from (seed, env,
episode) (``wrl.env.seeding``) and feeds its one-hot to the policy.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from wrl.run.checkpoint import Counters
from wrl.run.episodes import EpisodeBook
from wrl.rl.model import ActorCritic
from wrl.rl.ppo import RewardScaler, Rollout
from wrl.env.seeding import WORKFLOW_SALT, draw_indices
from wrl.rl.state import AgentState
from wrl.timing import SectionTimer
from wrl.workflow import (
    ALL_WORKFLOWS, NUM_WORKFLOWS, alignment_reward, fix_compliance, format_workflow, onehot_all,
    state_after, type_ranks, type_ranks_all,
)

WORKFLOW_TEXT = np.array([format_workflow(w) for w in ALL_WORKFLOWS])  #: text of workflow index i
FLUSH_EPISODES = 100  #: flush the episode log once this many rows are buffered


class Collector:
    """Steps ``env`` (a ``wrl.env.vec`` pool of N envs) with a policy and fills ``rollout``.

    cfg: the ``train`` section (envs, update_steps, lam, memory, seed); workflow: the
    candidate's workflow text, or None for a base policy; book: the run's episode book
    (its rows are logged as episodes end).
    """

    def __init__(self, cfg: dict, workflow: str | None, env, book: EpisodeBook, device: torch.device,
                 timer: SectionTimer):
        n = cfg["envs"]
        self.cfg, self.workflow, self.env, self.book, self.timer = cfg, workflow, env, book, timer
        self.base = workflow is None
        self.ranks = type_ranks_all() if self.base else type_ranks(workflow)
        self.state = AgentState(cfg["memory"], n, cfg["mask_decoys"], cfg["next_decoy"])
        self.rollout = Rollout(cfg["update_steps"], n, device, per_env_workflows=self.base,
                               obs_dim=self.state.dim, heads=cfg["specialists"], masks=cfg["mask_decoys"])
        self.device = device
        self.onehots = torch.from_numpy(onehot_all()).to(device)
        self.env_wf = np.zeros(n, np.int64)  # workflow index of each env's episode (base policy)

    def start(self) -> None:
        """Reset the env pool: every env starts a fresh episode."""
        obs, info = self.env.reset()
        self.obs = self.state.observe(obs, np.ones(self.cfg["envs"], bool))
        self.compromised = info["compromised"]
        self.book.red[:] = info["red"]
        self._draw_workflows()

    def _draw_workflows(self) -> None:
        if self.base:
            draw_indices(self.cfg["seed"], self.book.env_episode, WORKFLOW_SALT, NUM_WORKFLOWS, self.env_wf)

    def _end_episodes(self, done: np.ndarray, global_step: int, wall_s: float) -> None:
        idx = np.flatnonzero(done)
        workflows = WORKFLOW_TEXT[self.env_wf[idx]] if self.base else [self.workflow] * len(idx)
        self.book.end(done, workflows, global_step, wall_s)
        if self.book.log.buffered >= FLUSH_EPISODES:
            self.book.log.flush()

    @torch.no_grad()
    def collect(self, model: ActorCritic, scaler: RewardScaler, counters: Counters,
                wall: Callable[[], float]) -> Rollout:
        """One rollout of ``update_steps`` steps from where the last one stopped (after ``start``).

        Advances ``counters.global_step`` by N per step; ``wall()`` gives the seconds trained
        so far (the episode log's timestamp). Returns the filled rollout (T x N).
        """
        ro, lam, timer = self.rollout, self.cfg["lam"], self.timer
        obs, compromised = self.obs, self.compromised
        timer.start()
        for t in range(ro.steps):
            ro.obs[t].copy_(torch.from_numpy(obs))
            wf = None
            if self.base:
                ro.wf[t].copy_(torch.from_numpy(self.env_wf))
                wf = self.onehots[ro.wf[t]]
            head = mask = None
            if ro.head is not None:
                head = ro.head[t]
                head.copy_(torch.from_numpy(self.state.guess()))
            if ro.mask is not None:
                mask = ro.mask[t]
                mask.copy_(torch.from_numpy(self.state.mask()))
            actions, logp, values = model.sample(ro.obs[t], wf, head, mask)
            ro.actions[t], ro.logp[t], ro.values[t] = actions, logp, values
            a = actions.cpu().numpy()
            self.state.record(a)
            timer.lap("policy")
            obs, reward, terminated, truncated, info = self.env.step(a)
            timer.lap("sim")
            ranks = self.ranks[self.env_wf] if self.base else self.ranks
            counted, compliant = fix_compliance(a, compromised, state_after(info), ranks)
            align = alignment_reward(counted, compliant, lam)
            compromised = info["compromised"]
            done = terminated | truncated
            cut = np.flatnonzero(truncated & ~terminated)
            final, final_head = self.state.peek(cut, info["final_obs"][cut]) if cut.size else (None, None)
            obs = self.state.observe(obs, done)
            ro.rewards[t].copy_(torch.from_numpy(scaler(reward + align, done)))
            ro.dones[t].copy_(torch.from_numpy(done))
            ro.bootstrap[t].zero_()
            if cut.size:
                cut_t = torch.from_numpy(cut).to(self.device)
                ro.bootstrap[t, cut_t] = model.value(
                    torch.from_numpy(final).to(self.device), None if wf is None else wf[cut_t],
                    torch.from_numpy(final_head).to(self.device) if ro.head is not None else None)
            counters.global_step += len(a)
            self.book.add_step(reward, align, counted, compliant, info.get("impact"))
            if done.any():
                self._end_episodes(done, counters.global_step, wall())
                self.book.red[done] = info["red"][done]
                self._draw_workflows()
            timer.lap("bookkeeping")
        wf = self.onehots[torch.from_numpy(self.env_wf).to(self.device)] if self.base else None
        head = torch.from_numpy(self.state.guess()).to(self.device) if ro.head is not None else None
        ro.last_value.copy_(model.value(torch.from_numpy(obs).to(self.device), wf, head))
        self.obs, self.compromised = obs, compromised
        timer.lap("policy")
        return ro
