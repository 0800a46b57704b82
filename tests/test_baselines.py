"""Scripted blue baselines: their rules, determinism, and use on the simulator."""
import numpy as np
import pytest

from wrl.eval.baselines import DECOY_ALL_PLAN, DECOY_PLAN, DECOY_REMOVE_PLAN, make_baseline
from wrl.env import sim_state
from wrl.env.scenario import (
    ACTION_HOST, ANALYSE0, HOST_INDEX, NUM_ACTIONS, NUM_HOSTS, OBS_DIM, REMOVE0, RESTORE0, SLEEP,
)
from wrl.env.sim_env import SimVecEnv
from wrl.env.vec import make_vec


def obs_with(**flags):
    """One observation with host -> compromised value ('unknown', 'user', 'privileged')."""
    o = np.zeros((1, NUM_HOSTS, 4), np.float32)
    bits = {"unknown": (1, 0), "user": (0, 1), "privileged": (1, 1)}
    for host, value in flags.items():
        o[0, HOST_INDEX[host], 2:] = bits[value]
    return o.reshape(1, OBS_DIM)


NOT_FIRST5 = np.zeros(5, bool)


def test_every_baseline_returns_valid_int64_actions_deterministically():
    obs = np.random.default_rng(0).integers(0, 2, (5, OBS_DIM)).astype(np.float32)
    info = {"compromised": np.random.default_rng(1).integers(0, 2, (5, NUM_HOSTS)).astype(bool)}
    for name in ("sleep", "random", "react_restore", "decoy_heavy", "decoy_remove", "decoy_all",
                 "restore_opserver", "oracle:user,op_host,op_server,enterprise,defender"):
        a, b = make_baseline(name, 5, seed=3), make_baseline(name, 5, seed=3)
        for _ in range(3):
            x, y = a.act(obs, NOT_FIRST5, info), b.act(obs, NOT_FIRST5, info)
            assert x.dtype == np.int64 and x.shape == (5,)
            assert ((0 <= x) & (x < NUM_ACTIONS)).all() and np.array_equal(x, y)
    r1 = make_baseline("random", 5, seed=1).act(obs, NOT_FIRST5, info)
    assert not np.array_equal(r1, make_baseline("random", 5, seed=2).act(obs, NOT_FIRST5, info))


@pytest.mark.parametrize("name", ["nobody", "oracle:user,user", "oracle:"])
def test_bad_names_are_refused(name):
    with pytest.raises(ValueError):
        make_baseline(name, 1)


def test_react_restore_rule_and_host_priority():
    p = make_baseline("react_restore", 1)
    assert p.act(obs_with(), [False])[0] == SLEEP
    assert p.act(obs_with(User2="unknown"), [False])[0] == ANALYSE0 + HOST_INDEX["User2"]
    assert p.act(obs_with(User2="unknown", User3="user"), [False])[0] == REMOVE0 + HOST_INDEX["User3"]
    both = obs_with(User1="privileged", Op_Server0="privileged", Enterprise0="user")
    assert p.act(both, [False])[0] == RESTORE0 + HOST_INDEX["Op_Server0"]


def test_decoy_heavy_and_restore_opserver_follow_the_episode_clock():
    n = 2
    d = make_baseline("decoy_heavy", n)
    quiet = np.zeros((n, OBS_DIM), np.float32)
    seq = [d.act(quiet, np.zeros(n, bool)) for _ in range(len(DECOY_PLAN) + 1)]
    assert [s[0] for s in seq[:-1]] == list(DECOY_PLAN) and seq[-1][0] == SLEEP
    a = d.act(quiet, np.array([True, False]))  # env 0 starts a new episode
    assert a[0] == DECOY_PLAN[0] and a[1] == SLEEP
    r = make_baseline("restore_opserver", n)
    assert (r.act(quiet, np.zeros(n, bool)) == RESTORE0 + HOST_INDEX["Op_Server0"]).all()
    assert (r.act(quiet, np.zeros(n, bool)) == SLEEP).all()


def test_oracle_restores_the_highest_priority_compromised_type():
    comp = np.zeros((3, NUM_HOSTS), bool)
    comp[0, [HOST_INDEX["Enterprise1"], HOST_INDEX["User2"]]] = True
    comp[1, HOST_INDEX["User4"]] = True
    ent_first = make_baseline("oracle:enterprise,op_server,defender,op_host,user", 3)
    user_first = make_baseline("oracle:user,enterprise,op_server,defender,op_host", 3)
    quiet = np.zeros((3, OBS_DIM), np.float32)
    assert list(ent_first.act(quiet, np.zeros(3, bool), {"compromised": comp})) == [
        RESTORE0 + HOST_INDEX["Enterprise1"], RESTORE0 + HOST_INDEX["User4"], SLEEP]
    assert user_first.act(quiet, np.zeros(3, bool), {"compromised": comp})[0] == RESTORE0 + HOST_INDEX["User2"]


def test_oracle_beats_sleep_on_the_simulator():
    means = {}
    for name in ("sleep", "oracle:op_server,enterprise,op_host,defender,user"):
        with make_vec("numba", 64, "b_line", seed=0) as env:
            p = make_baseline(name, 64)
            obs, info = env.reset()
            total = np.zeros(64)
            for _ in range(100):
                obs, r, _, trunc, info = env.step(p.act(obs, np.zeros(64, bool), info))
                total += r
            means[name] = total.mean()
    assert means["oracle:op_server,enterprise,op_host,defender,user"] > means["sleep"] + 500


@pytest.mark.parametrize("name,plan", [("decoy_remove", DECOY_REMOVE_PLAN),
                                       ("decoy_all", DECOY_ALL_PLAN)])
def test_decoy_then_remove_policies_place_their_plan_then_remove_round_robin(name, plan):
    p = make_baseline(name, 2)
    obs = np.zeros((2, OBS_DIM), np.float32)
    acts = [p.act(obs, np.zeros(2, bool))[0] for _ in range(len(plan) + 2 * NUM_HOSTS)]
    assert np.array_equal(acts[:len(plan)], plan)
    assert acts[len(plan):] == [REMOVE0 + h for h in range(NUM_HOSTS)] * 2
    assert p.act(obs, np.array([True, False]))[0] == plan[0]


def test_every_planned_decoy_is_placed_on_a_fresh_network():
    for plan in (DECOY_REMOVE_PLAN, DECOY_ALL_PLAN):
        env = SimVecEnv(1, "sleep")
        env.reset()
        for a in plan:
            h = ACTION_HOST[a]
            before = env._hosts[0, h, sim_state.H_DECOYS], env._hosts[0, h, sim_state.H_VSFTPD]
            env.step(np.array([a]))
            assert (env._hosts[0, h, sim_state.H_DECOYS], env._hosts[0, h, sim_state.H_VSFTPD]) != before
