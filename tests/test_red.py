"""Red mixtures: the spec, the seeded per-episode draw, and the same draws on both backends."""
import numpy as np
import pytest

from wrl.env.red import RED_CODE, draw_reds, parse_red
from wrl.env.vec import make_vec

MIX = "b_line:0.4,meander:0.4,sleep:0.2"


def test_single_agent_and_mixture_specs():
    assert parse_red("meander").single == "meander"
    mix = parse_red(" b_line:0.4, meander:0.4 ,sleep:0.2")
    assert mix.single is None and mix.support == ("sleep", "b_line", "meander")
    np.testing.assert_allclose(mix.probs, [0.2, 0.4, 0.4])
    assert mix.cum[-1] == 1.0 and parse_red(mix.text).text == mix.text


@pytest.mark.parametrize("text, why", [
    ("bline", "not a red agent"), ("b_line:0.5,meander:0.4", "sum to 0.9"),
    ("b_line:0.5,b_line:0.5", "twice"), ("b_line:x,meander:0.5", "not a number"),
    ("b_line,meander", "no weight"), ("b_line:-1,meander:2", "positive"), ("", "empty"),
])
def test_bad_specs_are_refused_naming_the_problem(text, why):
    with pytest.raises(ValueError, match=why):
        parse_red(text)


def test_draws_follow_the_weights_and_depend_only_on_seed_env_episode():
    mix = parse_red(MIX)
    out = np.zeros(20000, np.int8)
    draw_reds(5, np.full(20000, 3), mix.cum, out)
    freq = np.bincount(out, minlength=3) / len(out)
    np.testing.assert_allclose(freq, mix.probs, atol=0.015)
    small = np.zeros(100, np.int8)
    draw_reds(5, np.full(100, 3), mix.cum, small)
    assert np.array_equal(small, out[:100])  # env i's draw ignores the batch size
    other = np.zeros(100, np.int8)
    draw_reds(6, np.full(100, 3), mix.cum, other)
    assert not np.array_equal(small, other)


def _red_history(backend, n, red, seed, workers, max_steps=5, steps=20):
    """Per env, the red code of each episode begun in ``steps`` steps; final_compromised checks."""
    with make_vec(backend, n, red, max_steps=max_steps, seed=seed, workers=workers) as env:
        obs, info = env.reset()
        history = [info["red"].copy()]
        for t in range(steps):
            obs, r, term, trunc, info = env.step(np.zeros(n, np.int64))
            assert info["red"].dtype == np.int8
            if trunc.any():
                history.append(info["red"].copy())
                # the new episode starts clean; final_compromised keeps the old one's end
                assert not info["compromised"][trunc].any()
                assert info["final_compromised"].shape == (n, 13)
            else:
                # red never changes within an episode
                assert np.array_equal(info["red"], history[-1])
    return np.stack(history)


def test_numba_mixture_draws_are_the_same_for_any_thread_count_and_follow_the_weights():
    a = _red_history("numba", 300, MIX, seed=9, workers=1, steps=50)
    b = _red_history("numba", 300, MIX, seed=9, workers=2, steps=50)
    assert np.array_equal(a, b) and a.shape == (11, 300)
    freq = np.bincount(a.ravel(), minlength=3) / a.size
    np.testing.assert_allclose(freq, parse_red(MIX).probs, atol=0.04)
    assert (a != a[0]).any(axis=0).mean() > 0.5  # redrawn per episode, not fixed per env


def test_mixture_episodes_play_the_drawn_red():
    # sleep episodes never see red leave its foothold; b_line episodes always do within 10 steps
    with make_vec("numba", 200, "b_line:0.5,sleep:0.5", max_steps=10, seed=1) as env:
        obs, info = env.reset()
        red, moved = info["red"].copy(), np.zeros(200, bool)
        for t in range(10):
            obs, r, term, trunc, info = env.step(np.zeros(200, np.int64))
            moved |= np.where(trunc[:, None], info["final_compromised"], info["compromised"]).any(axis=1)
        assert not moved[red == RED_CODE["sleep"]].any()
        assert moved[red == RED_CODE["b_line"]].all()


@pytest.mark.slow
def test_cyborg_pool_draws_the_same_reds_as_numba_for_any_worker_count():
    mix = "b_line:0.5,meander:0.5"
    ref = _red_history("numba", 4, mix, seed=3, workers=1, max_steps=4, steps=12)
    for w in (1, 2):
        assert np.array_equal(_red_history("cyborg", 4, mix, seed=3, workers=w, max_steps=4, steps=12), ref)
