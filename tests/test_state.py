"""The agent's state: history features on hand-built observations, the decoy record against
the true state of both backends, masks, red identification, and their use in training."""
import numpy as np
import pytest

from wrl.env import make_vec, sim_state
from wrl.env.scenario import (
    ACTION_HOST, ACTION_KIND, ACTION_KINDS, ACTION_NAMES, DECOY0, DECOYS, HOST_INDEX, NUM_ACTIONS, NUM_HOSTS,
    OBS_DIM, RESTORE0,
)
from wrl.env.sim_tables import DECOY_EXPLOIT, EXPLOIT_WEIGHT
from wrl.errors import UsageError
from wrl.eval.baselines import make_baseline
from wrl.rl.agent import load
from wrl.rl.model import load_policy, save_policy
from wrl.rl.masks import DECOY_ORDER, NUM_DECOYS, decoy_fits
from wrl.rl.state import FEATURES, GUESSES, UNKNOWN, AgentState
from wrl.run.train import CandidateRun, train_candidate, validate_train_config

WF = "user,op_host,op_server,enterprise,defender"

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
    with pytest.raises(ValueError, match="rows has shape"):
        twin.load_state(mem, np.array([0, 1]))
    with pytest.raises(ValueError, match="source state is 'bookkeeping'"):
        twin.load_state(AgentState("bookkeeping", 3), np.arange(3))
    twin.load_state(mem, np.array([2, 1, 0]))
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


# ---- the agent's own actions: decoy record, masks, red identification ----------------

def _decoy_heavy_actions(rng, n):
    """Random actions, three in four a decoy, one in ten a Restore (int64[n])."""
    a = rng.integers(DECOY0, RESTORE0, n)
    other = rng.random(n)
    a[other < 0.25] = rng.integers(0, DECOY0, n)[other < 0.25]
    a[other < 0.1] = rng.integers(RESTORE0, NUM_ACTIONS, n)[other < 0.1]
    return a


def test_decoy_record_equals_the_true_decoys_on_numba():
    n, rng = 64, np.random.default_rng(0)
    state = AgentState("bookkeeping", n)
    with make_vec("numba", n, "b_line:0.5,meander:0.5", max_steps=30, seed=3) as env:
        obs, _ = env.reset()
        first = np.ones(n, bool)
        for _ in range(90):
            state.observe(obs, first)
            actions = _decoy_heavy_actions(rng, n)
            state.record(actions)
            obs, _, _, first, _ = env.step(actions)
            live = ~first  # a finished env autoreset: its true decoys are the new episode's
            np.testing.assert_array_equal(state.decoys()[live], env._hosts[live, :, sim_state.H_DECOYS])


@pytest.mark.slow
def test_decoy_record_equals_the_true_decoys_on_cyborg():
    from wrl.env.cyborg import CyborgEnv

    rng = np.random.default_rng(1)
    env = CyborgEnv("meander", max_steps=40, seed=2)
    state = AgentState("bookkeeping", 1)
    obs, first = env.reset(), np.ones(1, bool)
    for _ in range(40):
        state.observe(obs[None], first)
        first = np.zeros(1, bool)
        action = _decoy_heavy_actions(rng, 1)
        state.record(action)
        obs, _, _ = env.step(int(action[0]))
        np.testing.assert_array_equal(state.decoys()[0], env.decoys())


def test_masks_rule_out_exactly_the_decoys_that_cannot_change_anything():
    state = AgentState("bookkeeping", 1, mask_decoys=True)
    state.observe(np.zeros((1, OBS_DIM), np.float32), [True])
    mask = state.mask()[0]
    assert mask[:DECOY0].all() and mask[RESTORE0:].all()
    ent1 = HOST_INDEX["Enterprise1"]
    fits = [k for k in range(NUM_DECOYS) if mask[DECOY0 + k * NUM_HOSTS + ent1]]
    assert [DECOYS[k] for k in fits] == ["DecoyFemitter"]  # Windows; its other ports are taken
    user4 = HOST_INDEX["User4"]
    assert [DECOYS[k] for k in range(NUM_DECOYS) if mask[DECOY0 + k * NUM_HOSTS + user4]] == ["DecoyVsftpd"]
    op = HOST_INDEX["Op_Server0"]
    vsftpd, apache = DECOY0 + DECOYS.index("DecoyVsftpd") * NUM_HOSTS + op, DECOY0 + DECOYS.index("DecoyApache") * NUM_HOSTS + op
    state.record(np.array([vsftpd]))
    state.observe(np.zeros((1, OBS_DIM), np.float32), [False])
    mask = state.mask()[0]
    assert not mask[vsftpd] and not mask[apache]  # placed; Vsftpd listens on 80, Apache checks 80
    state.record(np.array([RESTORE0 + op]))  # a Restore clears the host's decoys
    state.observe(np.zeros((1, OBS_DIM), np.float32), [False])
    assert state.mask()[0, vsftpd] and state.mask()[0, apache]


def _decoys_offered(mask):
    """{host index: [decoy indices offered]} of one env's mask bool[145]."""
    return {h: [k for k in range(NUM_DECOYS) if mask[DECOY0 + k * NUM_HOSTS + h]] for h in range(NUM_HOSTS)}


def test_next_decoy_offers_one_decoy_per_host_in_reds_order_and_every_exploit_stays_reachable():
    assert [EXPLOIT_WEIGHT[DECOY_EXPLOIT[k]] for k in DECOY_ORDER] == sorted(EXPLOIT_WEIGHT[DECOY_EXPLOIT], reverse=True)
    plain, nxt = AgentState("bookkeeping", 1, mask_decoys=True), AgentState("bookkeeping", 1, True, next_decoy=True)
    for state in (plain, nxt):
        state.observe(np.zeros((1, OBS_DIM), np.float32), [True])
    fresh = _decoys_offered(plain.mask()[0])
    for h in range(NUM_HOSTS):
        walked = []
        while offered := _decoys_offered(nxt.mask()[0])[h]:
            assert len(offered) == 1 and offered[0] in _decoys_offered(plain.mask()[0])[h]
            walked.append(offered[0])
            for state in (plain, nxt):  # "decoy on h" again: the next one down the list
                state.record(np.array([DECOY0 + offered[0] * NUM_HOSTS + h]))
                state.observe(np.zeros((1, OBS_DIM), np.float32), [False])
        # red's preference order, and every exploit a fitting decoy answers is offered once
        assert walked == sorted(walked, key=lambda k: list(DECOY_ORDER).index(k))
        assert sorted({DECOY_EXPLOIT[k] for k in walked}) == sorted({DECOY_EXPLOIT[k] for k in fresh[h]})
        assert len(walked) == len({DECOY_EXPLOIT[k] for k in walked})
    ent0 = HOST_INDEX["Enterprise0"]
    assert [DECOYS[k] for k in np.flatnonzero(nxt.decoys()[0, ent0] >> np.arange(NUM_DECOYS) & 1)] == \
        ["DecoyApache", "DecoyHarakaSMPT", "DecoyTomcat"]
    nxt.record(np.array([RESTORE0 + ent0]))  # a Restore starts the host's list again
    nxt.observe(np.zeros((1, OBS_DIM), np.float32), [False])
    assert [DECOYS[k] for k in _decoys_offered(nxt.mask()[0])[ent0]] == ["DecoyHarakaSMPT"]


def test_next_decoy_without_the_masks_is_a_config_error():
    with pytest.raises(UsageError, match="train.next_decoy"):
        validate_train_config({"memory": "bookkeeping", "next_decoy": True})


@pytest.mark.parametrize("next_decoy", [False, True])
def test_a_masked_agent_never_takes_a_masked_action_in_training_or_as_an_agent(tmp_path, next_decoy):
    cfg = validate_train_config({"backend": "numba", "envs": 32, "max_steps": 30, "update_steps": 30,
                                 "env_steps": 1, "hidden": [16], "memory": "bookkeeping", "mask_decoys": True,
                                 "next_decoy": next_decoy, "specialists": True, "red": "b_line:0.5,meander:0.5"})
    run = CandidateRun(cfg, WF, tmp_path, None, threads=1)
    try:
        run.collector.start()
        for _ in range(3):
            ro = run.collector.collect(run.model, run.scaler, run.counters, run.wall)
            assert ro.mask.gather(2, ro.actions[..., None]).all()  # training: sampled under the mask
            assert (ro.actions >= DECOY0).float().mean() > 0.3  # decoys were on offer and taken
            per_host = ro.mask[..., DECOY0:RESTORE0].reshape(*ro.mask.shape[:2], NUM_DECOYS, NUM_HOSTS).sum(2)
            assert (per_host.max() <= 1) == next_decoy  # one decoy per host on offer, or several
    finally:
        run.close()
    save_policy(run.model, tmp_path / "agent.pt")
    agent, n = load(tmp_path / "agent.pt", greedy=False, seed=0), 32
    with make_vec("numba", n, "meander", max_steps=50, seed=1) as env:
        obs, _ = env.reset()
        first = np.ones(n, bool)
        for _ in range(100):  # the true state says no action re-places or misplaces a decoy
            actions = agent.act(obs, first)
            kind, host = ACTION_KIND[actions], ACTION_HOST[actions]
            for i in np.flatnonzero((actions >= DECOY0) & (actions < RESTORE0)):
                k, h = kind[i] - ACTION_KINDS.index(DECOYS[0]), host[i]
                placed = env._hosts[i, h, sim_state.H_DECOYS]
                assert not (placed >> k) & 1 and decoy_fits(h, k, placed), (i, ACTION_NAMES[actions[i]])
                if next_decoy:  # nothing of higher preference that answers a new exploit was left
                    earlier = DECOY_ORDER[:list(DECOY_ORDER).index(k)]
                    assert not any(not (placed >> j) & 1 and decoy_fits(h, j, placed) and
                                   not any((placed >> q) & 1 and DECOY_EXPLOIT[q] == DECOY_EXPLOIT[j]
                                           for q in range(NUM_DECOYS)) for j in earlier)
            obs, _, _, first, _ = env.step(actions)


@pytest.mark.parametrize("red", ["sleep", "b_line", "meander"])
def test_red_is_identified_by_step_five_and_never_wrongly(red):
    n = 300
    state = AgentState("bookkeeping", n)
    blue = make_baseline("react_restore", n)
    with make_vec("numba", n, red, max_steps=20, seed=4) as env:
        obs, info = env.reset()
        first = np.ones(n, bool)
        for t in range(20):
            state.observe(obs, first)
            guess = state.guess()
            assert np.isin(guess, [UNKNOWN, GUESSES.index(red)]).all(), t  # never a wrong red
            if t >= 5:
                assert (guess == GUESSES.index(red)).all(), t
            actions = blue.act(obs, first)
            state.record(actions)
            obs, _, _, first, info = env.step(actions)


@pytest.mark.slow
def test_both_backends_give_the_same_state_for_the_same_seed_and_actions():
    """Against Sleep the observations are the same on both backends, so the same actions
    (decoys, Restores, anything) must give the same state, feature for feature."""
    from wrl.env.cyborg import CyborgEnv

    actions = _decoy_heavy_actions(np.random.default_rng(3), 40)
    states = {}
    for backend in ("numba", "cyborg"):
        state, rows = AgentState("bookkeeping", 1, mask_decoys=True), []
        if backend == "numba":
            env = make_vec("numba", 1, "sleep", max_steps=40, seed=5)
            obs = env.reset()[0]
        else:
            env = CyborgEnv("sleep", max_steps=40, seed=5)
            obs = env.reset()[None]
        for t, a in enumerate(actions):
            rows.append(np.concatenate([state.observe(obs, [t == 0])[0], state.mask()[0]]))
            state.record(a[None])
            obs = env.step(a[None])[0] if backend == "numba" else env.step(int(a))[0][None]
        states[backend] = np.array(rows)
    np.testing.assert_array_equal(states["numba"], states["cyborg"])
    assert states["numba"][:, OBS_DIM + FEATURES["history"]:].any()  # decoys and actions were recorded
