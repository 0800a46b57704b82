"""``python -m wrl`` is the ``wrl`` command: help, one-line errors, spawned pool workers."""
import os
import subprocess
import sys

import pytest

WRL = [sys.executable, "-m", "wrl"]


def test_python_m_wrl_shows_help_with_every_subcommand():
    done = subprocess.run(WRL + ["--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: wrl")
    for command in ("train", "evaluate", "fidelity", "bench"):
        assert command in done.stdout


def test_python_m_wrl_bad_value_exits_2_with_one_line(tmp_path):
    done = subprocess.run(WRL + ["train", "--workflow", "defender,user", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wrl train: error:") and "workflow" in lines[0]


def _train(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(WRL + ["train", "--workflow", "defender,enterprise,op_server,op_host,user",
                                 "--envs", "4", "--episodes", "4", *args],
                          capture_output=True, text=True, timeout=300)


def _one_error_line(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wrl train: error:"), lines
    assert all(w in lines[0] for w in words), lines[0]


def test_a_non_finite_config_number_is_named_and_nothing_is_written(tmp_path):
    (tmp_path / "config.yaml").write_text("train: {lr: .nan}\n")
    done = _train("--config", str(tmp_path / "config.yaml"), "--out", str(tmp_path / "out"))
    _one_error_line(done, "train.lr", "not a finite number", "fix:")
    assert not (tmp_path / "out").exists()


def test_out_naming_a_file_is_refused_and_the_file_kept(tmp_path):
    (tmp_path / "file").write_text("mine")
    _one_error_line(_train("--out", str(tmp_path / "file")), "field out", "is a file", "fix:")
    assert (tmp_path / "file").read_text() == "mine"


def test_a_second_run_into_a_busy_directory_names_the_holder(tmp_path):
    from wrl.run.lock import directory_lock

    out = tmp_path / "out"
    out.mkdir()
    with directory_lock(out):  # this test process plays the first run
        done = _train("--out", str(out))
    _one_error_line(done, "field out", f"in use by process {os.getpid()}", "fix:")
    assert sorted(p.name for p in out.iterdir()) == []  # the lock went with its holder; nothing written


@pytest.mark.slow
def test_python_m_wrl_runs_the_cyborg_pool(tmp_path):
    # the pool's spawned workers re-import wrl.__main__: its main guard must hold
    done = subprocess.run(WRL + ["evaluate", "--policy", "sleep", "--backend", "cyborg", "--red", "b_line",
                                 "--steps", "5", "--episodes", "2", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evaluation.parquet", "leaderboard.md"]
