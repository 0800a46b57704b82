"""``python -m wrl`` is the ``wrl`` command: help, one-line errors, spawned pool workers."""
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


@pytest.mark.slow
def test_python_m_wrl_runs_the_cyborg_pool(tmp_path):
    # the pool's spawned workers re-import wrl.__main__: its main guard must hold
    done = subprocess.run(WRL + ["evaluate", "--policy", "sleep", "--backend", "cyborg", "--red", "b_line",
                                 "--steps", "5", "--episodes", "2", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evaluation.parquet", "leaderboard.md"]
