"""Actor-critic, GAE, the PPO update and the policy file."""
import numpy as np
import pytest
import torch

from wrl.env.scenario import NUM_ACTIONS, OBS_DIM
from wrl.rl.model import ActorCritic, load_policy, save_policy
from wrl.rl.ppo import PPOConfig, Rollout, advantages, compute_gae, ppo_update
from wrl.workflow import ALL_WORKFLOWS, format_workflow, onehot

WF = "defender,enterprise,op_server,op_host,user"


def test_gae_matches_a_hand_computed_case_with_truncation_bootstrap():
    # env 0 is truncated on step 1 with V(final_obs) = 4; env 1 terminates on step 2.
    rewards = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 1.0]])
    values = torch.tensor([[0.5, 1.0], [1.0, 1.0], [1.5, 1.0]])
    dones = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    bootstrap = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 0.0]])
    last_value = torch.tensor([2.0, 5.0])
    adv, ret = compute_gae(rewards, values, dones, bootstrap, last_value, gamma=0.9, lam=0.5)
    # env 0: d2 = 3 + .9*2 - 1.5; d1 = 2 + .9*4 - 1 (no s_2 value); A0 = d0 + .45*A1
    # env 1: d2 = 1 - 1 (terminal: no bootstrap, no next value); d1 = d0 = .9 - 1
    expected = torch.tensor([[1.4 + 0.45 * 4.6, -0.1 - 0.45 * 0.1], [4.6, -0.1], [3.3, 0.0]])
    torch.testing.assert_close(adv, expected)
    torch.testing.assert_close(ret, expected + values)


def test_gae_never_carries_across_an_episode_end():
    gen = torch.Generator().manual_seed(0)
    rewards, values = torch.randn(6, 3, generator=gen), torch.randn(6, 3, generator=gen)
    dones = torch.zeros(6, 3)
    dones[2] = 1.0  # every env's episode ends on step 2
    bootstrap, last_value = torch.zeros(6, 3), torch.randn(3, generator=gen)
    adv, _ = compute_gae(rewards, values, dones, bootstrap, last_value, 0.99, 0.95)
    later = rewards.clone()
    later[3:] += 100.0  # change only the next episode
    adv2, _ = compute_gae(later, values, dones, bootstrap, last_value, 0.99, 0.95)
    torch.testing.assert_close(adv[:3], adv2[:3])
    assert not torch.allclose(adv[3:], adv2[3:])


def test_workflow_bias_path_equals_concatenated_input():
    torch.manual_seed(0)
    model = ActorCritic(WF, hidden=(16, 8), activation="relu")
    obs = torch.rand(5, OBS_DIM)
    wf = torch.from_numpy(onehot(ALL_WORKFLOWS[7]))
    shared = model.logits(obs, wf)
    per_row = model.logits(obs, wf.expand(5, -1))
    torch.testing.assert_close(shared, per_row)
    assert shared.shape == (5, NUM_ACTIONS) and model.value(obs).shape == (5,)
    assert not torch.allclose(model.logits(obs), shared)  # own workflow differs from #7


def test_ppo_update_learns_a_bandit():
    torch.manual_seed(0)
    model = ActorCritic(WF, hidden=(32, 32))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    cfg = PPOConfig(epochs=4, minibatches=4)
    ro = Rollout(steps=8, num_envs=32, device=torch.device("cpu"))
    obs = torch.rand(32, OBS_DIM)
    good = 17
    for _ in range(15):
        with torch.no_grad():
            for t in range(ro.steps):
                ro.obs[t] = obs
                ro.actions[t], ro.logp[t], ro.values[t] = model.sample(obs)
                ro.rewards[t] = (ro.actions[t] == good).float()
                ro.dones[t] = 1.0
            ro.last_value = model.value(obs)
        stats = ppo_update(model, opt, ro, *advantages(ro, cfg), cfg)
    prob = torch.softmax(model.logits(obs), -1)[:, good].mean().item()
    assert prob > 0.3  # from 1/145 at the start
    assert set(stats) == {"policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac", "explained_var"}


def test_policy_file_round_trip(tmp_path):
    torch.manual_seed(1)
    model = ActorCritic(format_workflow(ALL_WORKFLOWS[42]), hidden=(24,), activation="relu")
    save_policy(model, tmp_path / "policy.pt")
    loaded = load_policy(tmp_path / "policy.pt")
    assert (loaded.workflow, loaded.hidden, loaded.activation) == (model.workflow, (24,), "relu")
    obs = torch.from_numpy(np.random.default_rng(0).random((6, OBS_DIM), dtype=np.float32))
    with torch.no_grad():
        torch.testing.assert_close(loaded.logits(obs), model.logits(obs))
        torch.testing.assert_close(loaded.value(obs, torch.from_numpy(onehot(WF))),
                                   model.value(obs, torch.from_numpy(onehot(WF))))


def test_missing_or_corrupt_policy_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_policy(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load_policy(bad)
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt"):
        load_policy(tmp_path / "other.pt")


def test_bad_network_settings_are_rejected():
    with pytest.raises(ValueError, match="activation"):
        ActorCritic(WF, activation="sigmoid")
    with pytest.raises(ValueError, match="hidden"):
        ActorCritic(WF, hidden=(64, 0))


def test_plain_ppo_policy_ignores_the_workflow_and_keeps_that_through_a_file(tmp_path):
    torch.manual_seed(0)
    plain = ActorCritic(format_workflow(ALL_WORKFLOWS[0]), conditioned=False)
    obs = torch.rand(6, OBS_DIM)
    a, b = onehot(ALL_WORKFLOWS[0]), onehot(ALL_WORKFLOWS[119])
    assert torch.equal(plain.logits(obs, a), plain.logits(obs, b))
    conditioned = ActorCritic(format_workflow(ALL_WORKFLOWS[0]))
    assert not torch.equal(conditioned.logits(obs, a), conditioned.logits(obs, b))
    save_policy(plain, tmp_path / "plain.pt")
    back = load_policy(tmp_path / "plain.pt")
    assert not back.conditioned
    assert torch.equal(back.logits(obs, b), plain.logits(obs, a))


def test_sampled_actions_follow_the_policy_distribution():
    torch.manual_seed(0)
    model = ActorCritic(WF, hidden=(8,))
    with torch.no_grad():
        model.actors[0].layers[-1].bias[:] = torch.linspace(-3, 3, NUM_ACTIONS)  # a skewed distribution
        obs = torch.zeros(20000, OBS_DIM)
        actions, logp, _ = model.sample(obs)
        probs = torch.softmax(model.logits(obs[:1]), -1)[0]
    freq = torch.bincount(actions, minlength=NUM_ACTIONS).float() / len(actions)
    assert (freq - probs).abs().max() < 0.01
    torch.testing.assert_close(logp, probs.log()[actions])


def test_loading_a_policy_leaves_the_global_torch_rng_alone(tmp_path):
    # a run that loads a policy midway (wrl bench learn's greedy checks) keeps its trajectory
    save_policy(ActorCritic("defender,enterprise,op_server,op_host,user"), tmp_path / "p.pt")
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    load_policy(tmp_path / "p.pt")
    assert torch.equal(torch.rand(4), expected)


def test_masked_distribution_is_bit_for_bit_the_masked_fill_one_with_its_gradient():
    # the model masks with arithmetic (fast on the CPU); it must equal masked_fill exactly
    torch.manual_seed(3)
    model = ActorCritic(format_workflow(ALL_WORKFLOWS[7]), memory="bookkeeping", mask_decoys=True,
                        specialists=True)
    obs = torch.randn(300, model.in_dim)
    head = torch.randint(0, 4, (300,))
    mask = torch.rand(300, NUM_ACTIONS) > 0.6
    mask[:, 0] = True
    actions = torch.multinomial(mask.float(), 1).squeeze(1)  # allowed actions only

    def reference():  # the steps in evaluate's order: the gradients' sums are taken in it
        logits = model._route(model.actors, obs, model.wf, head).masked_fill(~mask, -1e9)
        logp_all = torch.log_softmax(logits, -1)
        entropy = -(logp_all.exp() * logp_all).sum(-1)
        return logp_all.gather(1, actions[:, None]).squeeze(1), entropy

    results = []
    for fn in (reference, lambda: model.evaluate(obs, actions, None, head, mask)[:2]):
        model.zero_grad()
        logp, entropy = fn()
        (logp.sum() + 0.3 * entropy.sum()).backward()
        results.append((logp.detach(), entropy.detach(), [p.grad.clone() for p in model.actors.parameters()]))
    (ref_logp, ref_ent, ref_grads), (logp, ent, grads) = results
    assert torch.equal(logp, ref_logp) and torch.equal(ent, ref_ent)
    assert all(torch.equal(g, r) for g, r in zip(grads, ref_grads))
    assert torch.equal(model.logits(obs, None, head, mask),
                       model._route(model.actors, obs, model.wf, head).masked_fill(~mask, -1e9))
    with torch.no_grad():
        sampled = model.sample(obs, None, head, mask)[0]
    assert mask[torch.arange(300), sampled].all()
