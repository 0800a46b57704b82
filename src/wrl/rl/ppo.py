"""PPO: rollout storage, the reward scaler, GAE and the clipped update of a ``wrl.rl.model.ActorCritic``.

A rollout holds ``T`` steps x ``N`` envs of ``(s_t, a_t, log pi(a_t|s_t), r_t, V(s_t),
done_t)``, where ``done_t`` says the episode ended *on* step t (so ``s_{t+1}`` is the
first obs of the next episode), plus ``bootstrap_t = V(final_obs_t)`` for an episode
truncated (not terminated) on step t, which GAE adds in place of the next state's value;
with specialists also the head (red guess) of each step, with decoy masks the mask it
was sampled under (the update's ratio uses the same masked distribution).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from wrl.env.scenario import NUM_ACTIONS, OBS_DIM
from wrl.rl.model import ActorCritic
from wrl.workflow import onehot_all


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyper-parameters (names as in the ``train`` config section)."""

    lr: float = 1e-3
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    epochs: int = 1
    minibatches: int = 4
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5

    @classmethod
    def from_config(cls, cfg: dict) -> PPOConfig:
        """Pick the PPO fields out of a ``train`` config section."""
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg})


class RewardScaler:
    """Scales learning rewards by 1 / (running std of the discounted return), per step.

    CAGE2 returns reach hundreds; unscaled, the critic (Adam at lr 3e-4) needs thousands
    of updates to reach them and its advantages are noise. Dividing every reward by one
    positive number leaves the optimal policy unchanged. ``state`` / ``load`` carry the
    running statistics through a checkpoint (the per-env returns restart with the episodes).
    """

    def __init__(self, num_envs: int, gamma: float, eps: float = 1e-8):
        self.gamma, self.eps = gamma, eps
        self.ret = np.zeros(num_envs)
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        """float32[N] scaled rewards for rewards float32[N]; done bool[N] ends episodes."""
        self.ret = self.ret * self.gamma + reward
        n, mean, var = len(self.ret), self.ret.mean(), self.ret.var()
        delta, total = mean - self.mean, self.count + n
        self.mean += delta * n / total
        self.var = (self.var * self.count + var * n + delta**2 * self.count * n / total) / total
        self.count = total
        self.ret[done] = 0.0
        return (reward / np.sqrt(self.var + self.eps)).astype(np.float32)

    def state(self) -> dict:
        """Running statistics (mean, var, count) of the discounted return."""
        return {"mean": self.mean, "var": self.var, "count": self.count}

    def load(self, state: dict) -> None:
        """Restore ``state()``."""
        self.mean, self.var, self.count = state["mean"], state["var"], state["count"]


class Rollout:
    """Preallocated rollout tensors for ``steps`` x ``num_envs`` on ``device``.

    obs float32[T, N, obs_dim] (the policy inputs); actions int64[T, N]; logp, rewards, values, dones,
    bootstrap float32[T, N]; last_value float32[N] = V(s_T). With ``per_env_workflows``
    also wf int64[T, N], the workflow index (0..119) each step was conditioned on (else
    None: the model's own workflow conditions every step). With ``heads`` also head
    int64[T, N], the red guess that routed each step (else None); with ``masks`` also mask
    bool[T, N, 145], the actions each step could take (else None).
    """

    def __init__(self, steps: int, num_envs: int, device: torch.device, per_env_workflows: bool = False,
                 obs_dim: int = OBS_DIM, heads: bool = False, masks: bool = False):
        def f(*shape, dtype=torch.float32):
            return torch.zeros(shape, dtype=dtype, device=device)

        self.steps, self.num_envs = steps, num_envs
        self.obs = f(steps, num_envs, obs_dim)
        self.actions = f(steps, num_envs, dtype=torch.int64)
        self.logp, self.rewards, self.values = f(steps, num_envs), f(steps, num_envs), f(steps, num_envs)
        self.dones, self.bootstrap = f(steps, num_envs), f(steps, num_envs)
        self.last_value = f(num_envs)
        self.wf = f(steps, num_envs, dtype=torch.int64) if per_env_workflows else None
        self.head = f(steps, num_envs, dtype=torch.int64) if heads else None
        self.mask = f(steps, num_envs, NUM_ACTIONS, dtype=torch.bool) if masks else None


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    bootstrap: torch.Tensor,
    last_value: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and value targets, both float32[T, N].

    rewards, values, dones (1.0 where the episode ended on step t), bootstrap
    (V(final_obs) where it was truncated, else 0): [T, N]; last_value: V(s_T) [N].
    delta_t = r_t + gamma * (bootstrap_t + (1 - done_t) V(s_{t+1})) - V(s_t);
    A_t = delta_t + gamma * lam * (1 - done_t) * A_{t+1}. Returns (advantages, A + V).
    """
    steps = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    next_value, next_adv = last_value, torch.zeros_like(last_value)
    for t in range(steps - 1, -1, -1):
        live = 1.0 - dones[t]
        delta = rewards[t] + gamma * (bootstrap[t] + live * next_value) - values[t]
        next_adv = delta + gamma * lam * live * next_adv
        adv[t] = next_adv
        next_value = values[t]
    return adv, adv + values


def advantages(ro: Rollout, cfg: PPOConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """``compute_gae`` on a filled rollout with ``cfg``'s gamma and lambda: (advantages, returns)."""
    return compute_gae(ro.rewards, ro.values, ro.dones, ro.bootstrap, ro.last_value, cfg.gamma, cfg.gae_lambda)


def ppo_update(model: ActorCritic, optimizer: torch.optim.Optimizer, ro: Rollout, adv: torch.Tensor,
               returns: torch.Tensor, cfg: PPOConfig) -> dict:
    """Clipped-PPO update on one rollout: ``epochs`` passes of ``minibatches`` shuffled minibatches.

    adv, returns: float32[T, N] from ``advantages(ro, cfg)``. Advantages are normalised over the batch; loss = policy + vf_coef * value
    - ent_coef * entropy; the actor's and the critic's gradients are each clipped to
    ``max_grad_norm`` (separately, so large value errors do not shrink the policy step). Uses the global
    torch RNG for shuffling. Returns means of policy_loss, value_loss, entropy,
    approx_kl, clip_frac over the last epoch, and the explained variance.
    """
    obs = ro.obs.reshape(-1, ro.obs.shape[-1])
    wf = None if ro.wf is None else torch.from_numpy(onehot_all()).to(obs.device)[ro.wf.reshape(-1)]
    head = None if ro.head is None else ro.head.reshape(-1)
    mask = None if ro.mask is None else ro.mask.reshape(-1, NUM_ACTIONS)
    actions, old_logp = ro.actions.reshape(-1), ro.logp.reshape(-1)
    adv, returns, old_values = adv.reshape(-1), returns.reshape(-1), ro.values.reshape(-1)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    batch = obs.shape[0]
    mb = max(1, batch // cfg.minibatches)
    for _ in range(cfg.epochs):
        sums = torch.zeros(5, device=obs.device)
        perm = torch.randperm(batch, device="cpu").to(obs.device)
        for start in range(0, mb * cfg.minibatches, mb):
            idx = perm[start : start + mb]
            logp, entropy, values = model.evaluate(obs[idx], actions[idx], None if wf is None else wf[idx],
                                                   None if head is None else head[idx],
                                                   None if mask is None else mask[idx])
            logratio = logp - old_logp[idx]
            ratio = logratio.exp()
            a = adv[idx]
            policy_loss = torch.max(-a * ratio, -a * ratio.clamp(1 - cfg.clip, 1 + cfg.clip)).mean()
            value_loss = 0.5 * (values - returns[idx]).pow(2).mean()
            ent = entropy.mean()
            loss = policy_loss + cfg.vf_coef * value_loss - cfg.ent_coef * ent
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.actors.parameters(), cfg.max_grad_norm)
            nn.utils.clip_grad_norm_(model.critics.parameters(), cfg.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                kl = ((ratio - 1) - logratio).mean()
                clip_frac = ((ratio - 1).abs() > cfg.clip).float().mean()
                sums += torch.stack([policy_loss.detach(), value_loss.detach(), ent.detach(), kl, clip_frac])
    means = (sums / cfg.minibatches).tolist()
    var_ret = returns.var()
    explained = float("nan") if var_ret == 0 else float(1 - (returns - old_values).var() / var_ret)
    return dict(zip(("policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac"), means)) | {
        "explained_var": explained
    }
