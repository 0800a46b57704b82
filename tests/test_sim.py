"""The numba simulator: the vector-env contract, determinism, and CybORG facts it must keep."""
import numpy as np
import pytest

from wrl.env import sim_state
from wrl.env.scenario import (
    ACTION_HOST, DECOY0, HOST_INDEX, HOSTS, NUM_ACTIONS, NUM_HOSTS, OBS_DIM, RESTORE0, action_id,
)
from wrl.env.sim_env import SERIAL_BELOW, SimVecEnv
from wrl.env.sim_tables import BASE_CONN, DECOY_PORT, IS_WINDOWS, PORTS
from wrl.env.vec import make_vec


def rollout(n, steps, seed=3, red="b_line", green="sleep", workers=None, max_steps=100, acts=None):
    if acts is None:
        acts = np.random.default_rng(7).integers(0, NUM_ACTIONS, (steps, n))
    env = SimVecEnv(n, red, green, max_steps=max_steps, seed=seed, workers=workers)
    obs, info = env.reset()
    out = [(obs, info["compromised"])]
    for t in range(steps):
        obs, r, term, trunc, info = env.step(acts[t])
        out.append((obs, r, trunc, info["compromised"], info["red_root"], info["final_obs"]))
    return out


def same(a, b):
    return all(all(np.array_equal(x, y) for x, y in zip(p, q)) for p, q in zip(a, b))


def test_contract_shapes_dtypes_and_spaces():
    env = make_vec("numba", 4, "b_line", seed=0)
    assert env.single_action_space.n == 145 and env.single_observation_space.shape == (52,)
    obs, info = env.reset()
    assert obs.shape == (4, OBS_DIM) and obs.dtype == np.float32 and not obs.any()
    assert info["compromised"].shape == (4, NUM_HOSTS) and info["compromised"].dtype == bool
    assert info["red_root"].dtype == bool
    obs, r, term, trunc, info = env.step(np.zeros(4, np.int64))
    assert r.shape == (4,) and r.dtype == np.float32
    assert term.dtype == bool and trunc.dtype == bool and not term.any() and not trunc.any()
    assert info["final_obs"].shape == (4, OBS_DIM) and info["_final_obs"].dtype == bool
    assert info["impact"].shape == (4,)
    env.close()


@pytest.mark.parametrize("kw,name", [({"red": "nobody"}, "red"), ({"green": "loud"}, "green")])
def test_bad_agent_names_are_refused_naming_the_argument(kw, name):
    args = {"red": "b_line", "green": "sleep", **kw}
    with pytest.raises(ValueError, match=name):
        SimVecEnv(2, args["red"], args["green"])


def test_bad_actions_are_refused():
    env = SimVecEnv(2, "b_line")
    env.reset()
    with pytest.raises(ValueError, match="0..144"):
        env.step(np.array([0, 145]))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3, np.int64))


def test_same_seed_same_results_whatever_the_thread_count():
    n = SERIAL_BELOW + 44  # large enough for the parallel kernel
    one = rollout(n, 120, workers=1, red="meander", green="random")
    two = rollout(n, 120, workers=2, red="meander", green="random")
    assert same(one, two)
    assert not same(one, rollout(n, 120, seed=4, workers=1, red="meander", green="random"))


def test_env_trajectory_does_not_depend_on_batch_size():
    n = SERIAL_BELOW + 8  # the parallel kernel against the serial one below
    acts = np.random.default_rng(2).integers(0, NUM_ACTIONS, (150, n))
    big = rollout(n, 150, acts=acts)
    small = rollout(3, 150, acts=acts[:, :3])
    for p, q in zip(big, small):
        for x, y in zip(p, q):
            assert np.array_equal(x[:3], y)


def test_a_loaded_snapshot_continues_as_its_source_and_new_streams_change_it():
    """``load_state``: a planner's copy of env rows mid-episode plays on exactly as they do
    to the episode's end, and with new random streams it plays out differently."""
    rng = np.random.default_rng(9)
    src = SimVecEnv(4, "b_line:0.5,meander:0.5", max_steps=30, seed=5)
    src.reset()
    for a in rng.integers(0, NUM_ACTIONS, (12, 4)):
        src.step(a)
    rows = np.array([2, 0, 2])
    copy = SimVecEnv(3, "b_line:0.5,meander:0.5", max_steps=30, seed=99)
    copy.load_state(src, rows)
    fresh = SimVecEnv(3, "b_line:0.5,meander:0.5", max_steps=30, seed=99)
    streams = np.zeros(3, np.uint64)
    sim_state.seed_streams(streams, 123, 0)
    fresh.load_state(src, rows, streams)
    differs = False
    for a in rng.integers(0, NUM_ACTIONS, (18, 4)):  # to the end of the 30-step episode
        out, got, other = src.step(a), copy.step(a[rows]), fresh.step(a[rows])
        for x, y in zip(out[:4], got[:4]):
            assert np.array_equal(x[rows], y)
        assert np.array_equal(out[4]["final_obs"][rows], got[4]["final_obs"])
        differs |= not np.array_equal(out[1][rows], other[1])
    assert differs
    with pytest.raises(ValueError, match="rows has shape"):
        copy.load_state(src, np.array([0, 1]))


def test_same_step_autoreset_keeps_the_last_observation():
    acts = np.random.default_rng(5).integers(0, NUM_ACTIONS, (10, 6))
    short = rollout(6, 10, max_steps=5, acts=acts)
    long = rollout(6, 5, max_steps=50, acts=acts)
    for t in range(1, 5):
        assert np.array_equal(short[t][0], long[t][0]) and np.array_equal(short[t][1], long[t][1])
    obs, r, trunc, comp, root, final = short[5]
    assert trunc.all() and not obs.any() and not comp.any() and not root.any()
    assert np.array_equal(final, long[5][0]) and np.array_equal(r, long[5][1])
    assert not short[6][2].any()  # a new 5-step episode has started


def test_red_sleep_leaves_everything_quiet_and_restore_costs_one():
    env = SimVecEnv(145, "sleep")
    env.reset()
    for _ in range(3):
        obs, r, _, _, info = env.step(np.arange(145))
        assert not obs.any() and not info["compromised"].any()
        assert np.array_equal(r, np.where(np.arange(145) >= RESTORE0, -1.0, 0.0).astype(np.float32))


def test_bline_opening_matches_cyborg_with_a_sleeping_blue():
    """Step 1 ping sweep is silent; step 2 scans one user host (Scan); rewards start at 0."""
    env = SimVecEnv(64, "b_line", seed=1)
    env.reset()
    obs, r, *_ = env.step(np.zeros(64, np.int64))
    assert not obs.any() and not r.any()
    obs, r, *_ = env.step(np.zeros(64, np.int64))
    o = obs.reshape(64, NUM_HOSTS, 4)
    scanned = o[:, :, 0] == 1
    assert (scanned.sum(axis=1) == 1).all() and not o[:, :, 1:].any()
    users = [HOST_INDEX[f"User{k}"] for k in range(1, 5)]
    assert scanned[:, users].any(axis=1).all()


def test_sleep_vs_bline_reaches_impact_and_restoring_opserver_first_neutralises_it():
    env = SimVecEnv(200, "b_line", seed=2)
    env.reset()
    worst, impacts = np.zeros(200), np.zeros(200, bool)
    for t in range(100):
        _, r, _, _, info = env.step(np.zeros(200, np.int64))
        worst, impacts = np.minimum(worst, r), impacts | info["impact"]
    assert impacts.mean() > 0.9 and (worst <= -10).mean() > 0.9
    env.reset()
    worst = np.zeros(200)
    restore = np.full(200, RESTORE0 + HOST_INDEX["Op_Server0"])
    for t in range(100):
        _, r, _, _, info = env.step(restore if t == 0 else np.zeros(200, np.int64))
        worst, impacts = np.minimum(worst, r), impacts | info["impact"]
    assert worst.min() > -10  # Impact still happens but OTService never goes down


def test_compromised_excludes_the_user0_foothold_and_red_root_implies_compromised():
    out = rollout(32, 300, red="meander")
    for step in out[1:]:
        comp, root = step[3], step[4]
        assert not (root & ~comp).any()
    assert any(step[3][:, HOST_INDEX["User0"]].any() for step in out[1:])  # meander exploits User0
    assert not out[0][1].any()


def _cyborg_processes():
    from wrl.env.cyborg import CyborgEnv

    env = CyborgEnv("sleep", seed=0)
    env.reset()
    return env, env._state.hosts


@pytest.mark.slow
def test_port_and_os_tables_match_a_live_cyborg_state():
    _, hosts = _cyborg_processes()
    for h, name in enumerate(HOSTS):
        host = hosts[name]
        conn = np.zeros(len(PORTS), np.int8)
        for proc in host.processes:
            for c in proc.connections:
                if "remote_port" not in c and c.get("local_port") in PORTS:
                    conn[PORTS.index(c["local_port"])] += 1
        assert np.array_equal(conn, BASE_CONN[h]), name
        assert IS_WINDOWS[h] == (host.os_type.name == "WINDOWS"), name


@pytest.mark.slow
def test_decoy_placement_matches_cyborg_on_every_host():
    """Each of the 104 decoy actions on a fresh network: placed in CybORG iff in the sim."""
    env, _ = _cyborg_processes()
    sim_env = SimVecEnv(104, "sleep")
    sim_env.reset()
    acts = DECOY0 + np.arange(104)
    sim_env.step(acts)
    placed_sim = sim_env._hosts[np.arange(104), ACTION_HOST[acts], sim_state.H_DECOYS] > 0
    assert 0 < placed_sim.sum() < 104
    for k, a in enumerate(acts):
        env.reset()
        name = HOSTS[ACTION_HOST[a]]
        before = len(env._state.hosts[name].processes)
        env.step(int(a))
        placed = len(env._state.hosts[name].processes) > before
        assert placed == placed_sim[k], (k, name, int(DECOY_PORT[(a - DECOY0) // NUM_HOSTS]))


def test_vsftpd_quirk_opens_port_80_and_can_be_stacked():
    env = SimVecEnv(1, "sleep")
    env.reset()
    a = action_id("DecoyVsftpd", "Op_Server0")
    for _ in range(3):
        env.step(np.array([a]))
    h = HOST_INDEX["Op_Server0"]
    assert env._hosts[0, h, sim_state.H_VSFTPD] == 3
    env.step(np.array([action_id("DecoyApache", "Op_Server0")]))  # port 80 is taken now
    assert not (env._hosts[0, h, sim_state.H_DECOYS] & 1)
