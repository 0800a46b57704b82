"""One candidate's training run: outputs and their schema, rollouts, determinism, resume, CLI."""
import importlib.util
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
import yaml

from wrl.cli import main
from wrl.errors import UsageError
from wrl.rl.model import load_policy
from wrl.run.config import validate_train_config
from wrl.run.heldout import heldout_returns, heldout_score
from wrl.run.train import EPISODE_SCHEMA, UPDATE_SCHEMA, CandidateRun, pool_seed, train_candidate

# DESIGN.md: the numba simulator is the training backend; the real CybORG until it exists.
BACKEND = "numba" if importlib.util.find_spec("wrl.env.sim_env") else "cyborg"
WF = "op_server,defender,enterprise,op_host,user"
SMALL = {"backend": BACKEND, "envs": 4, "max_steps": 10, "update_steps": 10, "episodes": 8,
         "hidden": [16, 16], "device": "cpu", "checkpoint_minutes": 60}
SCORE_KEYS = {"workflow", "score", "score_se", "scores_by_red", "score_se_by_red", "compliance",
              "episodes", "env_steps", "wall_s", "seed"}

WRL = [sys.executable, "-m", "wrl"]
pytestmark = pytest.mark.slow


def _episodes(out):
    return pd.read_parquet(out / "episodes.parquet")


def test_short_run_writes_all_outputs_with_the_documented_schema(tmp_path):
    result = train_candidate(SMALL, WF, tmp_path, threads=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "episodes.parquet", "policy.pt", "score.json", "updates.parquet"]
    assert json.loads((tmp_path / "score.json").read_text()) == result
    assert SCORE_KEYS <= set(result)
    assert result["workflow"] == WF and result["episodes"] >= 8 and result["env_steps"] == 4 * 10 * 2
    assert pq.read_schema(tmp_path / "episodes.parquet").equals(EPISODE_SCHEMA)
    assert pq.read_schema(tmp_path / "updates.parquet").equals(UPDATE_SCHEMA)
    ep = _episodes(tmp_path)
    assert len(ep) == result["episodes"] and (ep.workflow == WF).all()
    assert sorted(zip(ep.env_id, ep.episode)) == [(e, k) for e in range(4) for k in range(2)]
    assert (ep.fixes >= ep.compliant_fixes).all()
    np.testing.assert_allclose(ep.compliance, ep.compliant_fixes / ep.fixes.where(ep.fixes > 0))
    # score: mean over envs of the mean of each env's last (here: both) episodes
    assert result["score"] == pytest.approx(ep.groupby("env_id").env_return.mean().mean())
    up = pd.read_parquet(tmp_path / "updates.parquet")
    assert up["update"].tolist() == [1, 2] and up.global_step.tolist() == [40, 80]
    assert load_policy(tmp_path / "policy.pt").workflow == WF


def test_red_mixture_run_logs_each_episodes_red_and_scores_per_red(tmp_path):
    result = train_candidate(SMALL | {"red": "b_line:0.5,sleep:0.5", "envs": 16, "episodes": 48}, WF,
                             tmp_path, threads=1)
    ep = _episodes(tmp_path)
    assert set(ep.red) == {"b_line", "sleep"}
    last = ep.sort_values("episode").groupby("env_id").tail(3)  # the rings: last 3 per env
    by_red = last.groupby("red").env_return
    assert result["scores_by_red"] == pytest.approx(by_red.mean().to_dict())
    assert result["score_se_by_red"] == pytest.approx(by_red.sem().to_dict())
    per_env = last.groupby("env_id").env_return.mean()
    assert result["score"] == pytest.approx(per_env.mean())
    assert result["score_se"] == pytest.approx(per_env.sem())


def test_rollout_pairs_each_action_with_its_own_state_and_never_mixes_episodes(tmp_path):
    cfg = validate_train_config(SMALL | {"max_steps": 5, "update_steps": 12})
    run = CandidateRun(cfg, WF, tmp_path, None, threads=1)
    try:
        run.collector.start()
        start = run.collector.obs.copy()
        ro = run.collector.collect(run.model, run.scaler, run.counters, run.wall)
        ended = [t for t in range(12) if ro.dones[t].all()]
        assert ended == [4, 9] and ro.dones.sum() == 2 * 4  # 5-step episodes, all envs together
        assert (ro.bootstrap[[4, 9]] != 0).all() and (ro.bootstrap[[0, 1, 2, 3, 5, 10, 11]] == 0).all()
        for t in (0, 5, 10):  # the state after an episode end is the next episode's first obs
            np.testing.assert_array_equal(ro.obs[t].numpy(), start)
        with torch.no_grad():  # logp was computed from the stored state s_t, not s_{t+1}
            logp, _, values = run.model.evaluate(ro.obs.reshape(-1, 52), ro.actions.reshape(-1))
        torch.testing.assert_close(logp, ro.logp.reshape(-1))
        torch.testing.assert_close(values, ro.values.reshape(-1))
        assert run.book.episodes_done == 8 and run.book.env_episode.tolist() == [2, 2, 2, 2]
    finally:
        run.close()


def test_heldout_score_is_the_kept_policys_greedy_return_and_leaves_training_alone(tmp_path):
    """score.by heldout scores policy.pt on its own held-out seeds; the training is the same."""
    cfg = SMALL | {"red": "b_line:0.5,meander:0.5", "select": {"every_updates": 1, "episodes": 4}}
    by_training = train_candidate(cfg, WF, tmp_path / "t", threads=1)
    by_heldout = train_candidate(cfg | {"score": {"by": "heldout", "episodes": 6}}, WF, tmp_path / "h", threads=1)
    assert by_training["score_by"] == "training" and by_heldout["score_by"] == "heldout"
    assert by_training["training_score"] == by_training["score"]
    assert (by_heldout["training_score"], by_heldout["training_score_se"]) == (
        by_training["score"], by_training["score_se"])
    for a, b in zip(load_policy(tmp_path / "t" / "policy.pt").parameters(),
                    load_policy(tmp_path / "h" / "policy.pt").parameters()):
        assert torch.equal(a, b)
    kept = load_policy(tmp_path / "h" / "policy.pt")
    again = heldout_score(kept, validate_train_config(cfg), 6)
    assert by_heldout["score"] == pytest.approx(again["score"])
    assert by_heldout["scores_by_red"] == pytest.approx(again["scores_by_red"])
    by_red = by_heldout["scores_by_red"]
    assert by_heldout["score"] == pytest.approx(0.5 * by_red["b_line"] + 0.5 * by_red["meander"])
    se = by_heldout["score_se_by_red"]
    assert by_heldout["score_se"] == pytest.approx(0.5 * np.hypot(se["b_line"], se["meander"]))
    # the selection's check and the score use different seeds
    assert heldout_returns(kept, validate_train_config(cfg), 6)["heldout_b_line"] != by_red["b_line"]


def test_same_seed_same_score_and_logs(tmp_path):
    a = train_candidate(SMALL | {"seed": 3}, WF, tmp_path / "a", threads=1)
    b = train_candidate(SMALL | {"seed": 3}, WF, tmp_path / "b", threads=1)
    c = train_candidate(SMALL | {"seed": 4}, WF, tmp_path / "c", threads=1)
    assert a["score"] == b["score"] and a["score"] != c["score"]
    cols = ["env_id", "episode", "env_return", "alignment_return", "fixes", "first_impact_step"]
    pd.testing.assert_frame_equal(_episodes(tmp_path / "a")[cols], _episodes(tmp_path / "b")[cols])


def test_finished_run_is_a_no_op_and_warm_start_loads_weights(tmp_path):
    first = train_candidate(SMALL, WF, tmp_path / "a", threads=1)
    stamp = (tmp_path / "a" / "policy.pt").stat().st_mtime_ns
    assert train_candidate(SMALL, WF, tmp_path / "a", threads=1) == first
    assert (tmp_path / "a" / "policy.pt").stat().st_mtime_ns == stamp
    # a (practically) zero learning rate keeps the warm-started weights
    other = "user,op_host,op_server,enterprise,defender"
    train_candidate(SMALL | {"lr": 1e-12}, other, tmp_path / "b", init_policy=str(tmp_path / "a" / "policy.pt"),
                    threads=1)
    src, dst = load_policy(tmp_path / "a" / "policy.pt"), load_policy(tmp_path / "b" / "policy.pt")
    assert dst.workflow == other
    for (k, v), w in zip(src.state_dict().items(), dst.state_dict().values()):
        torch.testing.assert_close(v, w, atol=1e-6, rtol=0, msg=k)
    with pytest.raises(UsageError, match="init_policy"):
        train_candidate(SMALL | {"hidden": [8]}, WF, tmp_path / "c", init_policy=str(tmp_path / "a" / "policy.pt"))


def test_resume_after_sigkill_continues_the_logs(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"train": SMALL | {"episodes": 200, "checkpoint_minutes": 0}}))
    out = tmp_path / "run"
    cmd = WRL + ["train", "--workflow", WF, "--out", str(out),
           "--config", str(cfg), "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        ckpt = out / "checkpoint.pt"
        if ckpt.exists() and torch.load(ckpt, weights_only=False)["counters"]["updates"] >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert not (out / "score.json").exists() and not (out / "episodes.parquet").exists()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads((out / "score.json").read_text())
    assert result["resumes"] == 1 and result["episodes"] >= 200
    assert sorted(p.name for p in out.iterdir()) == [
        "episodes.parquet", "policy.pt", "score.json", "updates.parquet"]
    ep = _episodes(out)
    assert len(ep) == result["episodes"] and not ep.duplicated(["env_id", "episode"]).any()
    for _, g in ep.groupby("env_id"):  # every env's episodes 0..k-1, none missing
        assert sorted(g.episode) == list(range(len(g)))
    up = pd.read_parquet(out / "updates.parquet")
    assert up["update"].tolist() == list(range(1, result["updates"] + 1))
    assert up.global_step.is_monotonic_increasing and ep.global_step.is_monotonic_increasing
    assert pool_seed(SMALL.get("seed", 0), 1) != pool_seed(SMALL.get("seed", 0), 0)


def test_early_stop_ends_the_run_before_the_budget(tmp_path):
    stop = {"enabled": True, "compliance": 0.0, "patience": 1}
    result = train_candidate(SMALL | {"episodes": 400, "early_stop": stop}, WF, tmp_path, threads=1)
    assert result["stop_reason"] == "early_stop" and result["episodes"] < 400
    assert result["updates"] == len(pd.read_parquet(tmp_path / "updates.parquet"))


@pytest.mark.parametrize("args, field", [
    (["--workflow", "defender,user"], "workflow"),
    (["--envs", "many"], "envs"),
    (["--envs", "0"], "envs"),
    (["--backend", "gpu"], "backend"),
    (["--episodes", "2.5"], "episodes"),
    (["--threads", "-1"], "threads"),
    (["--config", "/nonexistent/config.yaml"], "config"),
])
def test_bad_cli_values_exit_nonzero_with_one_line(tmp_path, capsys, args, field):
    base = {"--workflow": WF, "--out": str(tmp_path / "out")}
    base.update(dict(zip(args[::2], args[1::2])))
    assert main(["train", *[x for kv in base.items() for x in kv]]) != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and field in lines[0]
    assert not (tmp_path / "out").exists()


def test_config_validation_names_the_field():
    with pytest.raises(UsageError, match="train.colour"):
        validate_train_config({"colour": "red"})
    with pytest.raises(UsageError, match="train.gamma"):
        validate_train_config({"gamma": 1.5})
    with pytest.raises(UsageError, match="train.early_stop.enabled"):
        validate_train_config({"early_stop": {"enabled": "yes"}})
    with pytest.raises(UsageError, match="train.episodes"):
        validate_train_config({"episodes": None, "env_steps": None})
    with pytest.raises(UsageError, match="train.minibatches"):
        validate_train_config({"envs": 2, "update_steps": 2, "minibatches": 8})
    cfg = validate_train_config({"envs": 8, "lam": 0.5})
    assert cfg["envs"] == 8 and cfg["lam"] == 0.5 and cfg["hidden"] == [64, 64]


def test_lr_end_anneals_the_learning_rate_linearly_over_the_budget(tmp_path):
    cfg = validate_train_config(SMALL | {"env_steps": 4 * 10 * 4, "lr": 0.001, "lr_end": 0.0001})
    run = CandidateRun(cfg, WF, tmp_path, None, threads=1)
    try:
        lrs = [run.optimizer.param_groups[0]["lr"] for _ in run.updates()]
    finally:
        run.close()
    assert lrs == pytest.approx([0.001, 0.000775, 0.00055, 0.000325])  # set before each of 4 updates
