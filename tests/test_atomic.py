"""Atomic writes killed inside the write: the rerun removes the temporaries and finishes.

Each job runs in a fresh Python whose ``os.replace`` is wrapped so that the process
SIGKILLs itself on its n-th atomic write of a chosen file: the temporary is written and
not yet renamed. That is the worst moment for a kill, hit every time, not by luck.
"""
import json
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pyarrow.parquet as pq
import pytest

from wrl.atomic import atomic_write, clean_stale_temporaries
from wrl.cli import main
from wrl.run.config import validate_config
from wrl.search.rounds import propose_round
from wrl.report.figures import make_report
from wrl.run.train import EPISODE_SCHEMA, train_candidate

WF = "op_server,defender,enterprise,op_host,user"
#: 7-step rollouts of 10-step episodes: every checkpoint finds the 4 envs mid-episode
TRAIN = {"backend": "numba", "envs": 4, "max_steps": 10, "update_steps": 7, "episodes": 16,
         "hidden": [16, 16], "device": "cpu", "checkpoint_minutes": 0}
SEARCH = validate_config({"search": {"rounds": 1, "batch": 2}})["search"]
OUTPUTS = ["episodes.parquet", "policy.pt", "score.json", "updates.parquet"]

KILL_INSIDE_WRITE = textwrap.dedent("""
    import os, signal
    from pathlib import Path
    _replace, _seen = os.replace, []
    def _replace_or_die(src, dst, *args, **kwargs):
        if Path(dst).name.startswith({name!r}):
            _seen.append(dst)
            if len(_seen) == {nth}:  # the temporary is written, not yet renamed
                os.kill(os.getpid(), signal.SIGKILL)
        return _replace(src, dst, *args, **kwargs)
    os.replace = _replace_or_die
""")


def temporaries(root):
    """Every temporary of ``atomic_write`` under ``root``, recursively."""
    return sorted(p for p in root.rglob(".*.tmp*") if p.is_file())


def kill_inside_write(name: str, nth: int, code: str, root) -> list:
    """Run ``code`` in a fresh Python killed inside its ``nth`` write of a file ``name*``.

    Returns the temporaries it left under ``root`` (at least the killed write's).
    """
    proc = subprocess.run([sys.executable, "-c", KILL_INSIDE_WRITE.format(name=name, nth=nth) + code],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    left = temporaries(root)
    assert any(p.name.startswith(f".{name}") for p in left), left
    return left


def test_clean_stale_temporaries_removes_only_temporaries(tmp_path):
    names = [".checkpoint.tmp12.pt", ".part-00003.tmp9.parquet", ".report.tmp7", ".a.b.tmp1.json"]
    keep = ["checkpoint.pt", ".hidden", ".x.tmpabc.pt", "part-00000.parquet", "notes.tmp1.txt"]
    for name in names + keep:
        (tmp_path / name).write_text("x")
    (tmp_path / ".dir.tmp3.d").mkdir()
    removed = clean_stale_temporaries(tmp_path)
    assert sorted(p.name for p in removed) == sorted(names)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep + [".dir.tmp3.d"])
    assert clean_stale_temporaries(tmp_path / "missing") == []
    seen = []  # atomic_write's own temporary name matches
    atomic_write(tmp_path / "x.parquet", lambda tmp: seen.append(tmp.name) or tmp.write_text("y"))
    (tmp_path / seen[0]).write_text("stale")  # as a write killed before its rename leaves it
    assert [p.name for p in clean_stale_temporaries(tmp_path)] == seen


@pytest.mark.slow
@pytest.mark.parametrize("name, nth", [("checkpoint", 3), ("part-", 2), ("policy", 1), ("score", 1)])
def test_trainer_killed_inside_a_write_resumes_and_leaves_no_temporary(tmp_path, name, nth):
    out = tmp_path / "run"
    code = f"from wrl.run.train import train_candidate\ntrain_candidate({TRAIN!r}, {WF!r}, {str(out)!r}, threads=1)\n"
    kill_inside_write(name, nth, code, out)
    assert not (out / "score.json").exists()
    result = train_candidate(TRAIN, WF, out, threads=1)
    assert temporaries(out) == [] and sorted(p.name for p in out.iterdir()) == OUTPUTS
    assert result["resumes"] == 1 and result["episodes"] >= 16
    # every checkpoint found the 4 envs mid-episode: the resume abandoned those 4
    assert result["abandoned_episodes"] == 4
    ep = pd.read_parquet(out / "episodes.parquet")
    assert pq.read_schema(out / "episodes.parquet").equals(EPISODE_SCHEMA) and len(ep) == result["episodes"]
    for _, g in ep.groupby("env_id"):  # every env's episodes 0..k-1, none missing
        assert sorted(g.episode) == list(range(len(g)))


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Two trained tiny candidates of round 0 and the round's search state."""
    root = tmp_path_factory.mktemp("scored")
    propose_round(0, [], SEARCH, root / "round_0" / "proposals.json", root / "search")
    paths = []
    for i, wf in enumerate(json.loads((root / "round_0" / "proposals.json").read_text())["workflows"]):
        train_candidate(TRAIN | {"episodes": 8}, wf, root / "round_0" / f"cand_{i}", threads=1)
        paths.append(root / "round_0" / f"cand_{i}" / "score.json")
    return root, paths


@pytest.mark.slow
def test_propose_killed_inside_a_write_leaves_no_temporary_after_rerun(tmp_path, scored):
    _, paths = scored
    args = (1, [str(p) for p in paths], SEARCH, str(tmp_path / "round_1" / "proposals.json"),
            str(tmp_path / "search"))
    kill_inside_write("posterior_round_1", 1, f"from wrl.search.rounds import propose_round\npropose_round(*{args!r})\n",
                      tmp_path)
    assert not (tmp_path / "round_1" / "proposals.json").exists()
    assert len(propose_round(*args)) == 2
    assert temporaries(tmp_path) == []
    assert len(pd.read_parquet(tmp_path / "search" / "posterior_round_1.parquet")) == 120


@pytest.mark.slow
def test_report_killed_inside_a_write_leaves_no_temporary_after_rerun(tmp_path, scored):
    root, paths = scored
    outputs = {k: str(tmp_path / "report" / f"{k}.png") for k in ("curves", "posterior", "picks", "compliance")}
    outputs |= {"best": str(tmp_path / "report" / "best_workflows.csv"),
                "search": str(tmp_path / "search" / "final_posterior.parquet"),
                "observations": str(tmp_path / "search" / "observations.parquet")}
    args = ([str(p) for p in paths], [str(root / "search" / "posterior_round_0.parquet")], SEARCH, outputs)
    kill_inside_write("best_workflows", 1, f"from wrl.report.figures import make_report\nmake_report(*{args!r})\n",
                      tmp_path)
    assert len(make_report(*args)) == 2
    assert temporaries(tmp_path) == []
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == sorted(
        [f"{k}.png" for k in ("curves", "posterior", "picks", "compliance")] + ["best_workflows.csv"])


@pytest.mark.slow
def test_evaluate_killed_inside_a_write_leaves_no_temporary_after_rerun(tmp_path):
    argv = ["evaluate", "--policy", "sleep", "--backend", "numba", "--red", "b_line", "--steps", "10",
            "--episodes", "2", "--out", str(tmp_path / "eval")]
    kill_inside_write("evaluation", 1, f"from wrl.cli import main\nmain({argv!r})\n", tmp_path)
    assert main(argv) == 0
    assert temporaries(tmp_path) == []
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == ["evaluation.parquet", "leaderboard.md"]
