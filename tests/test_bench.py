"""``wrl bench train|learn|search`` and the trainer's section timer: what they report, not how fast."""
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from wrl.bench.common import parse_overrides
from wrl.bench.learn import time_to_threshold
from wrl.bench.throughput import time_training
from wrl.errors import UsageError
from wrl.timing import SECTIONS, SectionTimer
from wrl.run.train import CandidateRun, validate_train_config

WRL = [sys.executable, "-m", "wrl"]


def test_disabled_timer_charges_nothing():
    timer = SectionTimer()
    timer.start()
    timer.lap("sim")
    assert timer.seconds == dict.fromkeys(SECTIONS, 0.0)
    assert timer.shares() == dict.fromkeys(SECTIONS, 0.0)


def test_enabled_timer_charges_each_lap_to_its_section():
    timer = SectionTimer(enabled=True)
    timer.start()
    timer.lap("policy")
    t0 = time.perf_counter()
    sum(range(200_000))
    work = time.perf_counter() - t0
    timer.lap("update")
    assert timer.seconds["update"] >= work > 0.0 and timer.seconds["policy"] >= 0.0
    assert timer.seconds["sim"] == timer.seconds["bookkeeping"] == 0.0
    assert math.isclose(sum(timer.shares().values()), 1.0)


def test_trainer_reports_time_in_every_section(tmp_path):
    cfg = validate_train_config({"envs": 8, "update_steps": 10, "env_steps": 1, "red": "b_line"})
    run = CandidateRun(cfg, "defender,enterprise,op_server,op_host,user", tmp_path, None, 1)
    try:
        run.timer.enabled = True
        next(run.updates())
    finally:
        run.close()
    assert all(run.timer.seconds[k] > 0 for k in SECTIONS)


def test_time_training_gives_a_rate_and_the_split():
    cfg = validate_train_config({"envs": 16, "update_steps": 10, "env_steps": 1, "red": "b_line"})
    rate, seconds = time_training(cfg, 2, 1)
    assert rate > 0 and set(seconds) == set(SECTIONS)


def test_time_to_threshold_reports_nan_for_thresholds_not_reached(tmp_path):
    cfg = validate_train_config({"envs": 16, "update_steps": 10, "env_steps": 10**12, "red": "b_line"})
    r = time_to_threshold(cfg, max_seconds=1.0, check_seconds=0.5, eval_episodes=4, threads=1, tmp=tmp_path)
    assert r["wall_s"] >= 1.0 and r["env_steps"] > 0
    assert math.isnan(r["greedy_s-17"]) and math.isnan(r["greedy_steps-17"])  # 1 s cannot reach -17
    assert r["best"] < -17 and {"best_b_line", "best_s"} <= set(r)
    assert (tmp_path / "policy.pt").is_file()


def test_overrides_need_field_equals_value():
    assert parse_overrides(["epochs=2", "lr=0.001"]) == {"epochs": 2, "lr": 0.001}
    with pytest.raises(UsageError, match="FIELD=VALUE"):
        parse_overrides(["epochs"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_bench_train_on_cuda_without_a_gpu_names_the_field():
    done = subprocess.run(WRL + ["bench", "train", "--device", "cuda", "--envs", "16"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "train.device" in done.stderr and "cuda is not available" in done.stderr


def test_bench_learn_prints_a_row_per_variant_and_a_summary():
    done = subprocess.run(WRL + ["bench", "learn", "--max-seconds", "1", "--check-seconds", "1",
                                 "--eval-episodes", "4", "--cyborg-episodes", "0", "--threads", "1",
                                 "--set", "envs=16", "--variant", "epochs=1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].split()[0] == "variant"
    assert [line.split()[0] for line in lines[2:4]] == ["defaults", "epochs=1"]
    assert lines[-1].startswith("summary: best greedy mixed-red return")


def test_bench_search_on_the_committed_table_prints_every_cell_and_the_goal_lines(tmp_path):
    out = tmp_path / "cells.csv"
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run(WRL + ["bench", "search", "--table", str(repo / "docs/data/exhaustive_8seeds.parquet"),
                                 "--replays", "3", "--budgets", "2x4", "--workers", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=repo)
    assert done.returncode == 0, done.stderr[-2000:]
    import pandas as pd

    cells = pd.read_csv(out)
    assert set(cells["landscape"]) == {"table", "fitted", "flat", "needle"}
    assert set(cells["strategy"]) == {"random", "gp_ucb", "position"}
    assert set(cells.loc[cells["strategy"] == "random", "runs"]) == {8, 16}  # random also at twice the runs
    assert cells["replays"].eq(3).all() and cells["regret"].ge(0).all() and cells["p_top5"].between(0, 1).all()
    summaries = [line for line in done.stdout.splitlines() if line.startswith("summary:")]
    assert len(summaries) == 4 and any("flat, 8 runs" in line for line in summaries)


def test_bench_search_names_a_missing_table_and_a_bad_budget():
    missing = subprocess.run(WRL + ["bench", "search", "--table", "no/such.parquet"],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode != 0 and "--table no/such.parquet: no such file" in missing.stderr
    bad = subprocess.run(WRL + ["bench", "search", "--budgets", "3by4"], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "ROUNDSxBATCH" in bad.stderr
