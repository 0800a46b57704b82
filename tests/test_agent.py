"""The agent API: a trained policy as a batched agent and inside CybORG's own evaluation loop."""
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from wrl.rl.agent import Cage2Agent, load
from wrl.env.pool import env_seed
from wrl.env.scenario import NUM_ACTIONS, OBS_DIM
from wrl.eval.evaluate import evaluate_policy

POLICIES = Path(__file__).resolve().parents[1] / "docs" / "policies"
POLICY = POLICIES / "learning_check_b_line.pt"
CAGE2_POLICY = POLICIES / "cage2.pt"  # the agent's state, next-decoy masks, specialists (docs/training.md, "The defender")


def test_batched_agent_acts_greedily_and_checks_first():
    agent = load(POLICY)
    obs = np.random.default_rng(0).random((5, OBS_DIM), dtype=np.float32)
    actions = agent.act(obs, np.ones(5, bool))
    assert actions.shape == (5,) and actions.dtype == np.int64
    with torch.no_grad():
        expected = agent.model.logits(torch.from_numpy(obs)).argmax(-1).numpy()
    np.testing.assert_array_equal(actions, expected)
    with pytest.raises(ValueError, match="first has 4 entries"):
        agent.act(obs, np.ones(4, bool))


def test_sampling_agent_is_seeded():
    obs = np.zeros((64, OBS_DIM), np.float32)
    a = load(POLICY, greedy=False, seed=1).act(obs, np.ones(64, bool))
    b = load(POLICY, greedy=False, seed=1).act(obs, np.ones(64, bool))
    c = load(POLICY, greedy=False, seed=2).act(obs, np.ones(64, bool))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert ((0 <= a) & (a < NUM_ACTIONS)).all()


def _challenge_wrapper_episode(policy, red_class, steps, seed):
    """One episode of csle-cyborg's own loop (as the CAGE2 evaluation script runs it)."""
    from csle_cyborg.agents.wrappers.challenge_wrapper import ChallengeWrapper
    from csle_cyborg.main import Main
    from gym_csle_cyborg.constants.constants import CYBORG

    cyborg = Main(CYBORG.CYBORG_SCENARIO_2_DICT, "sim", agents={"Red": red_class})
    wrapped = ChallengeWrapper(env=cyborg, agent_name="Blue", max_steps=steps)
    # the same random streams wrl.env.cyborg.CyborgEnv gives env `seed`
    py_seed, np_seed = np.random.SeedSequence(seed).generate_state(2, dtype=np.uint32)
    random.seed(int(py_seed))
    np.random.seed(int(np_seed))
    agent = Cage2Agent(policy)
    observation, _ = wrapped.reset()
    total = 0.0
    for _ in range(steps):
        action = agent.get_action(observation, wrapped.action_space)
        observation, reward, done, _, _ = wrapped.step(action)
        total += reward
    agent.end_episode()
    return total


@pytest.mark.slow
@pytest.mark.parametrize("policy", [POLICY, CAGE2_POLICY], ids=["no_memory", "state_and_masks"])
def test_cage2_agent_in_the_challenge_wrapper_loop_gets_what_wrl_evaluate_gets(policy):
    from csle_cyborg.agents.simple_agents.b_line import B_lineAgent

    episodes, steps, seed = 3, 30, 5
    ours = evaluate_policy(str(policy), "cyborg", ["b_line"], [steps], episodes, seed=seed, workers=1)
    theirs = [_challenge_wrapper_episode(policy, B_lineAgent, steps, env_seed(seed, i)) for i in range(episodes)]
    np.testing.assert_allclose(theirs, ours["return"].to_numpy(), atol=1e-4)
    assert len(set(np.round(theirs, 3))) > 1 or theirs[0] < 0  # real episodes, not all-zero


@pytest.mark.parametrize("policy, red, cyborg_mean", [
    ("cage2.pt", "b_line", -13.59), ("cage2.pt", "meander", -16.35), ("cage2.pt", "sleep", 0.0),
    ("cage2_composed.pt", "b_line", -13.57), ("cage2_composed.pt", "meander", -16.03),
    ("cage2_composed.pt", "sleep", 0.0)])
def test_committed_cage2_policies_score_on_numba_what_docs_report_on_cyborg(policy, red, cyborg_mean):
    """docs/policies/cage2_composed.pt (the defender: ``wrl compose`` of two seeds) and
    cage2.pt (its seed-0 source), 100 greedy numba episodes of 100 steps per red, land within 2 points (about 6 SE
    of 100 episodes) of their 1000-episode CybORG means in docs/training.md: the files,
    the agent state (decoy record, masks, red guess, specialists) and the simulator still
    make the agents the docs describe."""
    returns = evaluate_policy(str(POLICIES / policy), "numba", [red], [100], 100, workers=1)["return"]
    assert abs(returns.mean() - cyborg_mean) < 2.0
