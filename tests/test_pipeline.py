"""The Snakemake pipeline: config validation, DAG shape, a tiny end-to-end run, resume."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from wrl.run.config import ConfigError, load_config, validate_config

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TINY_TRAIN = ("train: {backend: numba, envs: 16, episodes: 32, checkpoint_minutes: 0}\n"
              "base: {env_steps: 3200}\n")
BASE_POLICY = "results/base/policy.pt"
TINY_RES = "resources: {train: {threads: 1, mem_mb: 1000, runtime: 5}, evaluate: {threads: 1}}\n"


def _snakemake(workdir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the repo's Snakefile in ``workdir`` with ``workdir/config.yaml``; output merged.

    ``--workflow-profile none``: the flags of each test, not profiles/default, apply.
    """
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--workflow-profile", "none", *args]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)


def _job_counts(output: str) -> dict[str, int]:
    """Rule -> job count from Snakemake's 'Job stats' table."""
    table = output.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


# ---- config -----------------------------------------------------------------------

def test_repo_config_is_valid_and_defaults_fill():
    cfg = load_config(REPO / "config.yaml")
    assert cfg["search"]["beta"] == {"schedule": "srinivas", "delta": 0.1, "scale": 0.2}
    empty = validate_config({})
    assert empty["train"]["early_stop"] == {"enabled": False, "compliance": 0.9, "patience": 20}
    assert empty["resources"]["train"] == {"threads": 2, "mem_mb": 4000, "runtime": 60, "gpus": 0}


@pytest.mark.parametrize(
    "config, field",
    [
        ({"search": {"roundz": 3}}, "search.roundz"),
        ({"trian": {}}, "trian"),
        ({"train": {"backend": "foo"}}, "train.backend"),
        ({"train": {"early_stop": {"patience": 0}}}, "train.early_stop.patience"),
        ({"search": {"beta": {"delta": 2}}}, "search.beta.delta"),
        ({"evaluate": {"red": ["b_line", "bline"]}}, "evaluate.red.1"),
        ({"search": {"method": "gp_ucb", "rounds": 31, "batch": 4}}, "search.rounds"),
        ({"search": {"rounds": 121, "batch": 4}}, "search.rounds"),  # more than 4 runs of every workflow
        ({"train": {"episodes": None}}, "train.episodes"),
    ],
)
def test_load_config_names_the_bad_field(tmp_path, config, field):
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=rf"config field {re.escape(field)}: .*fix: "):
        load_config(path)


@pytest.mark.parametrize(
    "text, field",
    [("search: {rounds: 2, batchh: 2}\n", "search.batchh"), ("train: {red: blue}\n", "train.red")],
)
def test_snakemake_rejects_bad_config_before_any_job(tmp_path, text, field):
    (tmp_path / "config.yaml").write_text(text)
    run = _snakemake(tmp_path, "--cores", "1")
    assert run.returncode != 0
    assert f"config field {field}:" in run.stdout, run.stdout[-2000:]
    assert not (tmp_path / "results").exists()


# ---- DAG ----------------------------------------------------------------------------

def _dry_run_jobs(output: str) -> list[dict]:
    """The jobs of a dry run: rule, wildcards (dict), input and output (sets), resources."""
    jobs = []
    for block in re.split(r"^rule ", output, flags=re.M)[1:]:
        name, body = block.split(":", 1)
        fields = dict(re.findall(r"^    (\w+): (.*)$", body, re.M))
        jobs.append({
            "rule": name,
            "wildcards": dict(w.split("=") for w in fields.get("wildcards", "").split(", ") if w),
            "input": set(fields["input"].split(", ")) if "input" in fields else set(),
            "output": set(fields["output"].split(", ")) if "output" in fields else set(),
            "threads": int(fields.get("threads", 1)),
            "resources": fields.get("resources", ""),
        })
    return jobs


def _score(r, i) -> str:
    return f"results/round_{r}/cand_{i}/score.json"


def test_dry_run_dag_shape(tmp_path):
    (tmp_path / "config.yaml").write_text(
        "search: {rounds: 3, batch: 2}\n" + TINY_TRAIN + "resources: {train: {threads: 1}}\n"
    )
    run = _snakemake(tmp_path, "-n", "--cores", "2")
    assert run.returncode == 0, run.stdout[-2000:]
    assert _job_counts(run.stdout) == {"propose": 3, "base": 1, "train": 6, "train_plain": 1, "report": 1,
                                       "evaluate": 1, "answer": 1, "all": 1}
    jobs = _dry_run_jobs(run.stdout)
    for job in jobs:
        if job["rule"] != "all":
            assert "runtime=" in job["resources"] and "mem_mb=" in job["resources"], job
        wc = {k: int(v) for k, v in job["wildcards"].items()}
        if job["rule"] == "propose":  # round r waits for every score of rounds < r
            assert job["input"] == {_score(q, i) for q in range(wc["round"]) for i in range(2)}
        if job["rule"] == "train":  # every candidate fine-tunes from the base policy
            assert job["input"] == {f"results/round_{wc['round']}/proposals.json", BASE_POLICY}
            assert _score(wc["round"], wc["cand"]) in job["output"] and job["threads"] == 1
        if job["rule"] == "report":
            assert {_score(q, i) for q in range(3) for i in range(2)} <= job["input"]
        if job["rule"] == "evaluate":
            assert "results/report/best_workflows.csv" in job["input"]
            assert "results/plain_ppo/policy.pt" in job["input"]


def test_nested_config_overrides_from_the_command_line_are_accepted(tmp_path):
    # Snakemake hands the values of --config 'search={...}' over as strings ('4')
    (tmp_path / "config.yaml").write_text(TINY_TRAIN + "resources: {train: {threads: 1}}\n")
    run = _snakemake(tmp_path, "-n", "--cores", "2", "--config",
                     'search={"rounds": 4, "batch": 3}', 'train={"envs": 16, "episodes": 32, "lam": 0.5}')
    assert run.returncode == 0, run.stdout[-2000:]
    counts = _job_counts(run.stdout)
    assert counts["propose"] == 4 and counts["train"] == 12
    bad = _snakemake(tmp_path, "-n", "--cores", "2", "--config", 'search={"rounds": "four"}')
    assert bad.returncode != 0 and "config field search.rounds: 'four'" in bad.stdout, bad.stdout[-2000:]


def test_warm_start_makes_train_depend_on_earlier_policies(tmp_path):
    (tmp_path / "config.yaml").write_text("search: {rounds: 2, batch: 2, warm_start: true}\n" + TINY_TRAIN)
    run = _snakemake(tmp_path, "-n", "--cores", "2")
    assert run.returncode == 0, run.stdout[-2000:]
    train = [j for j in _dry_run_jobs(run.stdout) if j["rule"] == "train"]
    for job in train:
        r = int(job["wildcards"]["round"])
        earlier = {f"results/round_{q}/cand_{i}/{f}" for q in range(r) for i in range(2)
                   for f in ("score.json", "policy.pt")}
        assert job["input"] == {f"results/round_{r}/proposals.json", BASE_POLICY} | earlier


# ---- runs ---------------------------------------------------------------------------

@pytest.mark.slow
def test_tiny_pipeline_end_to_end(tmp_path):
    (tmp_path / "config.yaml").write_text(
        "search: {rounds: 2, batch: 2, warm_start: true}\n" + TINY_TRAIN + TINY_RES
        + "evaluate: {backend: cyborg, red: [b_line], steps: [30], episodes: 2, baselines: [sleep]}\n"
    )
    run = _snakemake(tmp_path, "--cores", "2")
    assert run.returncode == 0, run.stdout[-4000:]
    res = tmp_path / "results"
    picked = []
    for r in range(2):  # the default design: a covering round, then the leaders by posterior mean
        prop = json.loads((res / f"round_{r}" / "proposals.json").read_text())
        assert prop["method"] in (("covering",), ("replicate", "confirm"))[r]  # confirm: a flat field
        picked += prop["workflows"]
        for i in range(2):
            score = json.loads((res / f"round_{r}" / f"cand_{i}" / "score.json").read_text())
            assert score["workflow"] == prop["workflows"][i] and score["episodes"] >= 32
            assert score["seed"] == prop["repeats"][i]  # a replicate trains at the next seed
    post = pd.read_parquet(res / "search" / "posterior_round_1.parquet")
    leaders = post if prop["method"] == "replicate" else post[post["n_obs"] > 0]  # confirm: evaluated only
    assert set(picked[2:]) == set(leaders.nlargest(2, "mean")["workflow"])  # the two best posterior means
    assert prop["repeats"] == [int(w in picked[:2]) for w in picked[2:]] and any(prop["repeats"])  # replicate: next seed
    assert "starting from results/base/policy.pt" in (res / "logs" / "train_0_0.log").read_text()
    assert "starting from results/round_0/cand_" in (res / "logs" / "train_1_0.log").read_text()
    base = json.loads((res / "base" / "score.json").read_text())
    assert base["workflow"] == "all" and base["env_steps"] >= 3200
    assert pd.read_parquet(res / "base" / "episodes.parquet")["workflow"].nunique() > 1
    obs = pd.read_parquet(res / "search" / "observations.parquet")
    assert len(obs) == 4 and obs[["score", "score_se", "compliance", "score_b_line"]].notna().all().all()
    assert obs.loc[obs["round"] == 1, ["pick_mean", "pick_sd"]].notna().all().all()
    post = pd.read_parquet(res / "search" / "posterior_round_1.parquet")
    assert len(post) == 120 and post["mean"].notna().all() and (post["pick"] >= 0).sum() == 2
    for png in ("learning_curves", "posterior", "picks", "compliance"):
        assert (res / "report" / f"{png}.png").stat().st_size > 10_000
    best = pd.read_csv(res / "report" / "best_workflows.csv")
    assert len(best) == 4 and best["posterior_mean"].is_monotonic_decreasing and best["p_best"].notna().all()
    board = pd.read_csv(res / "eval" / "leaderboard.csv")
    assert set(board["policy"]) == {f"best:{best['workflow'][0]}", "plain_ppo", "sleep"}
    plain = json.loads((res / "plain_ppo" / "score.json").read_text())
    assert plain["lam"] == 0.0 and plain["env_steps"] >= 3200 + 32 * 100  # base + candidate budget
    rep = _snakemake(tmp_path, "--report", str(tmp_path / "report.html"))
    assert rep.returncode == 0, rep.stdout[-2000:]
    assert (tmp_path / "report.html").stat().st_size > 50_000
    # the first page says the answer: best workflow, its score, how sure, the evaluation
    answer = (res / "report" / "answer.rst").read_text()
    assert f"Best workflow: {best['workflow'][0]}" in answer and "P(it is the best of the 120)" in answer
    assert "Credible top set" in answer and "Per red" in answer and "What following the workflow costs" in answer
    assert "plain_ppo" in answer and "searched the 120 defence workflows" in answer
    html = (tmp_path / "report.html").read_text(errors="replace")
    assert "Best workflow:" in html


def _wait_for(cond, timeout: float, proc: subprocess.Popen) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None, "snakemake ended before the kill point"
        assert time.monotonic() < end, "timed out waiting for the kill point"
        time.sleep(0.1)


@pytest.mark.slow
def test_rerun_incomplete_after_kill_redoes_only_the_unfinished(tmp_path):
    (tmp_path / "config.yaml").write_text(
        "search: {rounds: 1, batch: 2}\n"
        "train: {backend: numba, envs: 16, episodes: 160, checkpoint_minutes: 0}\n"
        "base: {enabled: false}\n" + TINY_RES
    )
    target = "results/report/best_workflows.csv"
    cand = [tmp_path / "results" / "round_0" / f"cand_{i}" for i in range(2)]
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(tmp_path / "config.yaml"), "--workflow-profile", "none", "--cores", "1", target]
    with open(tmp_path / "first_run.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            # kill the whole run (snakemake and the trainer) once one candidate is done
            # and the other one has started
            logs = [tmp_path / "results" / "logs" / f"train_0_{i}.log" for i in range(2)]
            _wait_for(lambda: any((p / "score.json").exists() for p in cand)
                      and all(log.exists() for log in logs), 300, proc)
            time.sleep(1.0)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    done = [p for p in cand if (p / "score.json").exists()]
    assert len(done) == 1, "exactly one candidate must be finished at the kill"
    mtime = done[0].joinpath("score.json").stat().st_mtime_ns
    unlock = _snakemake(tmp_path, "--unlock")  # the killed run left its lock
    assert unlock.returncode == 0, unlock.stdout[-2000:]
    rerun = _snakemake(tmp_path, "--cores", "1", "--rerun-incomplete", target)
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert done[0].joinpath("score.json").stat().st_mtime_ns == mtime
    assert all((p / "score.json").exists() for p in cand)
    assert _job_counts(rerun.stdout) == {"train": 1, "report": 1}


def test_learning_curve_bins_episodes_by_steps():
    from wrl.report.figures import learning_curve

    eps = pd.DataFrame({"global_step": [0, 10, 95, 99], "env_return": [-4.0, -2.0, 1.0, 3.0],
                        "compliance": [0.0, 1.0, float("nan"), 0.5]})
    curve = learning_curve(eps, points=2)  # bins [0, 50) and [50, 100)
    assert curve["env_return"].tolist() == [-3.0, 2.0]
    assert curve["compliance"].tolist() == [0.5, 0.5] and curve["n"].tolist() == [2, 2]
    assert curve["global_step"].tolist() == [25.0, 75.0]
