"""The workflow-conditioned actor-critic (one pair, or one per red guess) and its ``policy.pt``.

The actor and the critic are separate MLPs on ``[observation 52 | state features |
workflow one-hot 25]`` (``wrl.rl.state``, ``wrl.workflow.onehot``); the state features are
absent for ``memory="none"``. With ``specialists`` the model holds one actor and one
critic per red guess (``wrl.rl.state.GUESSES``) and each row is routed to the pair of its
agent's guess; with ``mask_decoys`` the actions the agent's state rules out get no
probability (sampling, greedy argmax and the PPO ratio all use the masked distribution).
When one workflow conditions the whole batch (training one candidate, evaluating one
policy) the one-hot's contribution to the first layer is a bias, so the batch is never
concatenated: ``W @ [o | w] + b = W_o @ o + (W_w @ w + b)``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wrl.atomic import atomic_write
from wrl.env.scenario import NUM_ACTIONS, OBS_DIM
from wrl.rl.state import FEATURES as MEMORY_FEATURES
from wrl.rl.state import GUESSES
from wrl.workflow import NUM_UNIT_TYPES, format_workflow, onehot, parse_workflow


WF_DIM = NUM_UNIT_TYPES * NUM_UNIT_TYPES


ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


POLICY_FORMAT = "wrl-policy-1"


MASKED_LOGIT = -1e9  #: logit of a masked action (finite, so that 0 * log p stays 0)


class MLP(nn.Module):
    """Linear layers with an activation between them, input ``[x | workflow one-hot]``.

    in_dim: width of x (observation and memory features); hidden: hidden layer widths;
    out_dim: output width; out_gain: orthogonal-init gain of the output layer (0.01 for
    logits, 1 for a value).
    """

    def __init__(self, in_dim: int, hidden: tuple[int, ...], activation: str, out_dim: int, out_gain: float):
        super().__init__()
        self.in_dim = in_dim
        widths = [in_dim + WF_DIM, *hidden, out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.act = ACTIVATIONS[activation]()
        for i, layer in enumerate(self.layers):
            last = i == len(self.layers) - 1
            nn.init.orthogonal_(layer.weight, out_gain if last else np.sqrt(2.0))
            nn.init.zeros_(layer.bias)

    def forward(self, obs: torch.Tensor, wf: torch.Tensor) -> torch.Tensor:
        """obs float32[B, in_dim]; wf float32[25] (one workflow for all) or [B, 25] -> [B, out]."""
        first = self.layers[0]
        if wf.dim() == 1:
            d = self.in_dim
            x = F.linear(obs, first.weight[:, :d], first.bias + first.weight[:, d:] @ wf)
        else:
            x = first(torch.cat([obs, wf], dim=1))
        for layer in self.layers[1:]:
            x = layer(self.act(x))
        return x


class ActorCritic(nn.Module):
    """Actor (145 logits) and critic (1 value) MLPs, conditioned on one workflow.

    hidden: hidden widths of each MLP (default 64-64); activation: tanh | relu;
    workflow: the workflow this policy is trained for (its one-hot is the default
    conditioning of every call); conditioned=False gives plain PPO: the workflow input
    is always zeros, whatever a caller passes; memory: ``wrl.rl.state`` kind whose
    features follow the observation in every input (``in_dim`` wide in all);
    mask_decoys: the agent masks decoys its state rules out (``wrl.rl.state.AgentState.mask``);
    next_decoy: the mask offers only each host's next decoy (needs mask_decoys);
    specialists: one actor-critic pair per red guess, rows routed by ``head``
    (int64[B], index into ``wrl.rl.state.GUESSES``), else one pair for all.
    """

    def __init__(self, workflow: str, hidden: tuple[int, ...] = (64, 64), activation: str = "tanh",
                 conditioned: bool = True, memory: str = "none", mask_decoys: bool = False,
                 specialists: bool = False, next_decoy: bool = False):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation {activation!r}: use one of {sorted(ACTIVATIONS)}")
        if not hidden or any(int(h) < 1 for h in hidden):
            raise ValueError(f"hidden {list(hidden)!r}: give one or more positive layer widths")
        self.hidden = tuple(int(h) for h in hidden)
        self.activation = activation
        self.workflow = format_workflow(parse_workflow(workflow))
        if memory not in MEMORY_FEATURES:
            raise ValueError(f"memory {memory!r}: use one of {', '.join(MEMORY_FEATURES)}")
        if (mask_decoys or specialists) and memory != "bookkeeping":
            raise ValueError(f"mask_decoys and specialists need memory 'bookkeeping', not {memory!r}")
        if next_decoy and not mask_decoys:
            raise ValueError("next_decoy needs mask_decoys (it is a stricter mask)")
        self.memory, self.mask_decoys, self.specialists = memory, bool(mask_decoys), bool(specialists)
        self.next_decoy = bool(next_decoy)
        self.in_dim = OBS_DIM + MEMORY_FEATURES[memory]
        heads = len(GUESSES) if self.specialists else 1
        self.actors = nn.ModuleList(MLP(self.in_dim, self.hidden, activation, NUM_ACTIONS, out_gain=0.01)
                                    for _ in range(heads))
        self.critics = nn.ModuleList(MLP(self.in_dim, self.hidden, activation, 1, out_gain=1.0)
                                     for _ in range(heads))
        self.conditioned = bool(conditioned)
        wf = onehot(self.workflow) if self.conditioned else np.zeros(WF_DIM, np.float32)
        self.register_buffer("wf", torch.from_numpy(wf), persistent=False)

    def _wf(self, wf: torch.Tensor | np.ndarray | None) -> torch.Tensor:
        if wf is None or not self.conditioned:
            return self.wf
        return torch.as_tensor(wf, dtype=torch.float32, device=self.wf.device)

    @staticmethod
    def _route(nets: nn.ModuleList, obs: torch.Tensor, wf: torch.Tensor, head: torch.Tensor | None):
        """Each row through the net of its head (one net: all rows)."""
        if len(nets) == 1:
            return nets[0](obs, wf)
        if head is None:
            raise ValueError("a model with specialists needs the head (red guess) of every row")
        out = None
        for k, net in enumerate(nets):
            idx = (head == k).nonzero().squeeze(1)
            if idx.numel() == 0:
                continue
            y = net(obs[idx], wf if wf.dim() == 1 else wf[idx])
            if out is None:
                out = obs.new_empty(len(obs), y.shape[1])
            out[idx] = y
        return out

    def value(self, obs: torch.Tensor, wf: torch.Tensor | None = None,
              head: torch.Tensor | None = None) -> torch.Tensor:
        """V(s): float32[B] for inputs float32[B, in_dim] (head int64[B] with specialists)."""
        return self._route(self.critics, obs, self._wf(wf), head).squeeze(-1)

    def logits(self, obs: torch.Tensor, wf: torch.Tensor | None = None, head: torch.Tensor | None = None,
               mask: torch.Tensor | None = None) -> torch.Tensor:
        """Action logits float32[B, 145] for inputs float32[B, in_dim]; ``mask`` bool[B, 145]
        (False: never taken) sets the masked logits to ``MASKED_LOGIT``."""
        logits = self._route(self.actors, obs, self._wf(wf), head)
        return logits if mask is None else _apply_mask(logits, mask.to(logits.dtype))

    def _log_probs(self, obs: torch.Tensor, wf: torch.Tensor | None, head: torch.Tensor | None,
                   mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(log-probabilities, probabilities), each float32[B, 145], of the masked policy.

        A masked action's probability is exactly 0 (so it is never sampled), its
        log-probability about ``MASKED_LOGIT``. Each masked log-probability is zeroed before
        the ``exp``: on the CPU, ``exp`` of an input below -87 (float32 underflow) takes a
        slow path, 8x the time; the results are bit for bit those of ``log_probs.exp()``.
        """
        logits = self._route(self.actors, obs, self._wf(wf), head)
        if mask is None:
            log_probs = torch.log_softmax(logits, dim=-1)
            return log_probs, log_probs.exp()
        keep = mask.to(logits.dtype)
        log_probs = torch.log_softmax(_apply_mask(logits, keep), dim=-1)
        return log_probs, (log_probs * keep).exp() * keep

    def sample(self, obs: torch.Tensor, wf: torch.Tensor | None = None, head: torch.Tensor | None = None,
               mask: torch.Tensor | None = None):
        """Sample actions for a rollout: (actions int64[B], log-probs [B], values [B])."""
        logp_all, probs = self._log_probs(obs, wf, head, mask)
        # inverse-CDF sampling: one uniform per row (half the time of torch.multinomial on CPU);
        # a masked action has probability 0, so its CDF step is empty and it is never drawn
        cdf = probs.cumsum(-1)
        u = torch.rand(len(cdf), 1, device=cdf.device) * cdf[:, -1:]
        actions = (cdf < u).sum(-1).clamp_max(cdf.shape[1] - 1)
        return actions, logp_all.gather(1, actions[:, None]).squeeze(-1), self.value(obs, wf, head)

    def design(self) -> str:
        """The settings two policies must share to swap weights (warm start, composing
        specialists), as text: hidden, activation, memory, masks, specialists."""
        return (f"hidden={list(self.hidden)} activation={self.activation} memory={self.memory} "
                f"mask_decoys={self.mask_decoys} next_decoy={self.next_decoy} specialists={self.specialists}")

    def evaluate(self, obs: torch.Tensor, actions: torch.Tensor, wf: torch.Tensor | None = None,
                 head: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        """For PPO: (log pi(actions) [B], entropy [B], values [B]) under the masked distribution."""
        logp_all, probs = self._log_probs(obs, wf, head, mask)
        entropy = -(probs * logp_all).sum(-1)
        return logp_all.gather(1, actions[:, None]).squeeze(-1), entropy, self.value(obs, wf, head)


def _apply_mask(logits: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``logits`` with every entry where ``keep`` (float 0/1, the same shape) is 0 set to
    ``MASKED_LOGIT``: bit for bit ``logits.masked_fill(keep == 0, MASKED_LOGIT)``, and its
    gradient too, in about an eighth of the time on the CPU (plain arithmetic, where
    ``masked_fill`` and ``where`` with a bool mask are not vectorised)."""
    return logits * keep + (keep - 1.0) * -MASKED_LOGIT


def compose_heads(models: list[ActorCritic], sources: list[int]) -> ActorCritic:
    """One agent from several specialist agents of one design and workflow: head ``h``
    (``wrl.rl.state.GUESSES[h]``, its actor and critic) copied from ``models[sources[h]]``.

    sources: int[len(GUESSES)], indices into ``models``. Raises ValueError when a model has
    no specialists, or its design (``ActorCritic.design``), workflow or conditioning
    differs from the first's.
    """
    first = models[0]
    for k, m in enumerate(models):
        if not m.specialists:
            raise ValueError(f"policy {k} has no specialists (one actor-critic): nothing to compose")
        for what, mine, theirs in (("design", m.design(), first.design()),
                                   ("workflow", m.workflow, first.workflow),
                                   ("conditioned", m.conditioned, first.conditioned)):
            if mine != theirs:
                raise ValueError(f"policy {k} has {what} {mine}; policy 0 has {theirs}: "
                                 "compose policies trained with the same config and workflow")
    if len(sources) != len(GUESSES) or not all(0 <= s < len(models) for s in sources):
        raise ValueError(f"sources {list(sources)}: give one index into the {len(models)} "
                         f"policies per head {GUESSES}")
    with torch.random.fork_rng(devices=[]):
        out = ActorCritic(first.workflow, first.hidden, first.activation, first.conditioned, first.memory,
                          first.mask_decoys, first.specialists, first.next_decoy)
    for h, s in enumerate(sources):
        out.actors[h].load_state_dict(models[s].actors[h].state_dict())
        out.critics[h].load_state_dict(models[s].critics[h].state_dict())
    return out


def save_policy(model: ActorCritic, path: str | os.PathLike) -> None:
    """Write a self-describing ``policy.pt`` (weights, sizes, activation, workflow, dims) atomically."""
    blob = {
            "format": POLICY_FORMAT,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "hidden": list(model.hidden),
            "activation": model.activation,
            "workflow": model.workflow,
            "conditioned": model.conditioned,
            "memory": model.memory,
            "mask_decoys": model.mask_decoys,
            "specialists": model.specialists,
            "next_decoy": model.next_decoy,
            "obs_dim": OBS_DIM,
            "act_dim": NUM_ACTIONS,
    }
    atomic_write(path, lambda tmp: torch.save(blob, tmp))


def load_policy(path: str | os.PathLike, device: str = "cpu") -> ActorCritic:
    """Load a ``policy.pt`` written by ``save_policy`` into an ``ActorCritic`` on ``device``.

    Leaves torch's global RNG where it was (a training run may load policies midway).

    Raises FileNotFoundError (missing) or ValueError (not a readable wrl policy), naming path.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"policy file {path} does not exist; pass the policy.pt of a finished training run")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if blob.get("format") != POLICY_FORMAT:
            raise ValueError(f"format {blob.get('format')!r}, expected {POLICY_FORMAT!r}")
        if (blob["obs_dim"], blob["act_dim"]) != (OBS_DIM, NUM_ACTIONS):
            raise ValueError(f"dims {blob['obs_dim']}x{blob['act_dim']}, expected {OBS_DIM}x{NUM_ACTIONS}")
        with torch.random.fork_rng(devices=[]):  # the throw-away init must not move the caller's RNG
            model = ActorCritic(blob["workflow"], tuple(blob["hidden"]), blob["activation"],
                                blob.get("conditioned", True), blob.get("memory", "none"),
                                blob.get("mask_decoys", False), blob.get("specialists", False),
                                blob.get("next_decoy", False))
        model.load_state_dict(_current_keys(blob["state_dict"]))
    except Exception as err:  # noqa: BLE001 - any failure means the same thing to the user
        raise ValueError(
            f"policy file {path} is not a readable wrl policy ({type(err).__name__}: {err}); "
            "re-run the training that wrote it"
        ) from None
    return model.to(device)


def _current_keys(state_dict: dict) -> dict:
    """A state dict with the keys of today's ``ActorCritic`` (files written before
    specialists named the one actor ``actor.*`` and the one critic ``critic.*``)."""
    renamed = {}
    for key, value in state_dict.items():
        for old, new in (("actor.", "actors.0."), ("critic.", "critics.0.")):
            if key.startswith(old):
                key = new + key[len(old):]
        renamed[key] = value
    return renamed
