"""The shared-memory CybORG pool: the vector-env contract, determinism, and clean shutdown."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from wrl.env.scenario import NUM_HOSTS, OBS_DIM
from wrl.env.vec import make_vec


def shm_blocks():
    return {f for f in os.listdir("/dev/shm") if f.startswith("psm_")}


def alive(pid):
    """Is ``pid`` a live process (not gone, not a zombie)?"""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def rollout(num_envs, workers, steps, seed=5, red="b_line", env_actions=None):
    rng = np.random.default_rng(1)
    acts = rng.integers(0, 145, (steps, num_envs)) if env_actions is None else env_actions
    out = []
    with make_vec("cyborg", num_envs, red, seed=seed, workers=workers) as env:
        obs, info = env.reset()
        out.append((obs, info["compromised"]))
        for t in range(steps):
            obs, r, term, trunc, info = env.step(acts[t])
            out.append((obs, r, trunc, info["compromised"]))
    return out


def test_contract_shapes_dtypes_and_same_step_autoreset():
    with make_vec("cyborg", 3, "b_line", seed=0, workers=2, max_steps=5) as env:
        obs, info = env.reset()
        assert obs.shape == (3, OBS_DIM) and obs.dtype == np.float32
        assert info["compromised"].shape == (3, NUM_HOSTS) and info["compromised"].dtype == bool
        first = obs.copy()
        for t in range(1, 6):
            obs, r, term, trunc, info = env.step(np.zeros(3, np.int64))
            assert r.dtype == np.float32 and r.shape == (3,)
            assert not term.any()
            assert trunc.all() == (t == 5) and trunc.any() == (t == 5)
        # SAME_STEP: the returned obs is the next episode's first one, the last is in final_obs
        assert (obs == first).all()
        assert info["_final_obs"].all() and info["final_obs"].shape == (3, OBS_DIM)
        assert info["final_obs"].any()  # b_line has been seen by step 5
        for _ in range(5):
            *_, trunc, _ = env.step(np.zeros(3, np.int64))
        assert trunc.all()  # the step counter restarted with the new episode


@pytest.mark.slow
def test_same_results_for_any_worker_count():
    a, b = rollout(4, 1, 110), rollout(4, 2, 110)
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            assert (u == v).all()


@pytest.mark.slow
def test_env_trajectory_does_not_depend_on_batch_size():
    acts = np.random.default_rng(2).integers(0, 145, (60, 3))
    small = rollout(1, 1, 60, env_actions=acts[:, :1])
    big = rollout(3, 2, 60, env_actions=acts)
    for x, y in zip(small, big):
        assert (x[0][0] == y[0][0]).all()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="red="):
        make_vec("cyborg", 2, "blue")
    with pytest.raises(ValueError, match="green="):
        make_vec("cyborg", 2, "b_line", green="loud")
    with pytest.raises(ValueError, match="workers="):
        make_vec("cyborg", 2, "b_line", workers=3)
    with pytest.raises(ValueError, match="backend="):
        make_vec("gpu", 2, "b_line")


def test_close_frees_processes_and_shared_memory():
    before = shm_blocks()
    env = make_vec("cyborg", 2, "b_line", workers=2)
    assert len(shm_blocks() - before) == 1
    env.reset()  # every worker has mapped the block: its name is unlinked, the memory stays
    assert not shm_blocks() - before  # nothing of this pool left (others may free theirs)
    env.step(np.zeros(2, np.int64))
    procs = list(env.pool._procs)
    env.close()
    env.close()  # idempotent
    assert not shm_blocks() - before  # nothing of this pool left (others may free theirs)
    assert not any(p.is_alive() for p in procs)


def test_dead_worker_raises_within_a_second_and_cleans_up():
    before = shm_blocks()
    env = make_vec("cyborg", 2, "b_line", workers=2)
    env.reset()
    victim = env.pool._procs[1]
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(timeout=2)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="worker 1 .* died"):
        env.step(np.zeros(2, np.int64))
    assert time.monotonic() - t0 < 1.0
    assert not shm_blocks() - before  # nothing of this pool left (others may free theirs)
    assert not any(p.is_alive() for p in env.pool._procs)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_or_killed_pool_leaves_no_process_or_shared_memory(sig):
    # SIGINT to the group is a terminal's Ctrl-C; SIGKILL runs no finaliser, no resource tracker
    before = shm_blocks()
    # a shell's background job (`cmd &`, nohup) inherits SIGINT ignored; a terminal's does not
    script = textwrap.dedent("""
        import numpy as np, signal, sys
        from wrl import make_vec
        if __name__ == "__main__":
            signal.signal(signal.SIGINT, signal.default_int_handler)
            env = make_vec("cyborg", 2, "b_line", workers=2)
            env.reset()
            print(" ".join(str(p.pid) for p in env.pool._procs), flush=True)
            while True:
                env.step(np.zeros(2, np.int64))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    pids = [int(p) for p in proc.stdout.readline().split()]
    time.sleep(0.5)
    os.killpg(proc.pid, sig)  # the whole group
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # leave no process behind a failure
        raise
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "a worker outlived the pool"
        time.sleep(0.05)
    assert not shm_blocks() - before  # nothing of this pool left (others may free theirs)


def test_script_without_main_guard_gets_one_error_naming_the_fix(tmp_path):
    before = shm_blocks()
    script = tmp_path / "no_guard.py"  # a file: spawn re-runs a script, not a -c string
    script.write_text(textwrap.dedent("""
        import numpy as np
        from wrl import make_vec
        env = make_vec("cyborg", 2, "b_line", workers=2)
        env.reset()
        print("unreachable: the pool must refuse to run")
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "unreachable" not in done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: CybORG pool worker") and "no main guard" in last, done.stderr
    assert "fix: wrap the code that builds the pool in `if __name__ == '__main__':`" in last
    assert "exit code" not in done.stderr
    assert not shm_blocks() - before  # nothing of this pool left (others may free theirs)

