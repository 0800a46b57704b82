"""Episode-long memory: the history features on hand-built observation sequences, and their use."""
import numpy as np
import pytest

from wrl.agent import load
from wrl.cage.scenario import HOST_INDEX, NUM_HOSTS, OBS_DIM
from wrl.state import FEATURES, AgentState
from wrl.ppo import load_policy
from wrl.train import train_candidate

ENT1, USER2 = HOST_INDEX["Enterprise1"], HOST_INDEX["User2"]


def obs_with(scan=(), exploit=()):
    o = np.zeros((1, OBS_DIM), np.float32)
    for h in scan:
        o[0, 4 * h] = 1.0
    for h in exploit:
        o[0, 4 * h] = o[0, 4 * h + 1] = 1.0
    return o


def feats(x, h):
    return x[0, OBS_DIM + 4 * h: OBS_DIM + 4 * h + 4].tolist()


def test_history_counts_activity_over_the_episode_and_resets_on_first():
    mem = AgentState("history", 1)
    assert mem.dim == OBS_DIM + FEATURES["history"] == OBS_DIM + 4 * NUM_HOSTS + 2
    x = mem.observe(obs_with(), [True])  # step 0: nothing seen
    assert feats(x, USER2) == [0.0, 0.0, 0.0, 1.0] and x[0, -2:].tolist() == [0.0, 0.0]
    mem.observe(obs_with(scan=[USER2]), [False])  # step 1: a scan of User2
    x = mem.observe(obs_with(exploit=[USER2]), [False])  # step 2: an exploit of User2
    assert feats(x, USER2) == pytest.approx([1.0, 1.0, 0.2, 0.0])
    for _ in range(5):  # steps 3..7: quiet
        x = mem.observe(obs_with(), [False])
    assert feats(x, USER2) == pytest.approx([1.0, 1.0, 0.2, 0.05])  # last activity 5 steps ago
    assert x[0, -2] == pytest.approx(0.07) and x[0, -1] == pytest.approx(1 / NUM_HOSTS)
    np.testing.assert_array_equal(x[:, :OBS_DIM], obs_with())  # the observation itself comes first
    x = mem.observe(obs_with(scan=[ENT1]), [True])  # a new episode forgets the old one
    assert feats(x, USER2) == [0.0, 0.0, 0.0, 1.0] and feats(x, ENT1) == pytest.approx([1.0, 0.0, 0.1, 0.0])
    assert x[0, -2] == 0.0


def test_peek_continues_the_episode_without_changing_memory():
    mem = AgentState("history", 3)
    mem.observe(np.zeros((3, OBS_DIM), np.float32), np.ones(3, bool))
    mem.observe(np.repeat(obs_with(scan=[USER2]), 3, axis=0), np.zeros(3, bool))
    peeked, _ = mem.peek(np.array([1]), obs_with(exploit=[USER2]))
    twin = AgentState("history", 3)
    twin._hosts, twin._glob = mem._hosts.copy(), mem._glob.copy()
    after = twin.observe(np.repeat(obs_with(exploit=[USER2]), 3, axis=0), np.zeros(3, bool))
    np.testing.assert_array_equal(peeked[0], after[1])
    again, _ = mem.peek(np.array([1]), obs_with(exploit=[USER2]))
    np.testing.assert_array_equal(peeked, again)  # memory unchanged by peek


def test_no_memory_passes_the_observation_through():
    mem = AgentState("none", 2)
    o = np.random.default_rng(0).random((2, OBS_DIM), dtype=np.float32)
    np.testing.assert_array_equal(mem.observe(o, np.ones(2, bool)), o)
    with pytest.raises(ValueError, match="memory 'lstm'"):
        AgentState("lstm", 2)


@pytest.mark.slow
def test_a_policy_with_memory_trains_saves_and_acts_with_its_memory(tmp_path):
    cfg = {"backend": "numba", "envs": 8, "max_steps": 10, "update_steps": 10, "episodes": 16,
           "hidden": [16], "device": "cpu", "memory": "history", "red": "b_line:0.5,meander:0.5"}
    train_candidate(cfg, "user,op_host,op_server,enterprise,defender", tmp_path, threads=1)
    model = load_policy(tmp_path / "policy.pt")
    assert model.memory == "history" and model.in_dim == OBS_DIM + FEATURES["history"]
    agent = load(tmp_path / "policy.pt")
    o = np.zeros((4, OBS_DIM), np.float32)
    assert agent.act(o, np.ones(4, bool)).shape == (4,)
    with pytest.raises(ValueError, match="one agent per batch size"):
        agent.act(np.zeros((3, OBS_DIM), np.float32), np.ones(3, bool))
