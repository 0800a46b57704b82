"""``snakemake defender``: the defender's recipe (seeds x phases, composed, evaluated) as
pipeline jobs; its config errors name the field before any job runs."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from test_pipeline import REPO, _dry_run_jobs, _job_counts, _snakemake
from wrl.rl.agent import load
from wrl.rl.play import play
from wrl.run.config import ConfigError, validate_config
from wrl.run.defender import check_defender, phase_train_config

#: a tiny phase: the defender's agent design (state, next-decoy masks, specialists) at 16 envs
TINY_PHASE = ("train: {backend: numba, red: 'b_line:0.45,meander:0.45,sleep:0.1', envs: 16, memory: bookkeeping,\n"
              "        mask_decoys: true, next_decoy: true, specialists: true, checkpoint_minutes: 0,\n"
              "        select: {every_updates: 1, episodes: 4}}\n")


def _tiny_defender(tmp_path, seeds=(0, 1)) -> str:
    phase = tmp_path / "phase.config.yaml"
    phase.write_text(TINY_PHASE)
    return (f"defender: {{seeds: {list(seeds)}, envs: 16, "
            f"phases: [{{config: {phase}, env_steps: 1600}}, {{config: {phase}, env_steps: 800}}], "
            "compose: {episodes: 4}, evaluate: {backend: numba, episodes: 2}}\n"
            "resources: {defender: {threads: 1, mem_mb: 1000, runtime: 5}}\n")


def test_the_repo_config_runs_each_seed_phase_by_phase_then_composes_and_evaluates(tmp_path):
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    run = _snakemake(tmp_path, "-n", "--cores", "2", "defender")
    assert run.returncode == 0, run.stdout[-2000:]
    assert _job_counts(run.stdout) == {"defender_train": 4, "defender_compose": 1, "defender_evaluate": 1,
                                       "defender": 1}
    jobs = {(j["rule"], tuple(sorted(j["wildcards"].items()))): j for j in _dry_run_jobs(run.stdout)}
    for seed in ("0", "2"):
        first = jobs["defender_train", (("phase", "0"), ("seed", seed))]
        second = jobs["defender_train", (("phase", "1"), ("seed", seed))]
        assert first["input"] == set() and first["threads"] == 2
        assert second["input"] == {f"results/defender/seed_{seed}/phase_0/policy.pt"}
    compose = jobs["defender_compose", ()]
    assert compose["input"] == {f"results/defender/seed_{s}/phase_1/policy.pt" for s in (0, 2)}


def test_the_repo_recipe_is_the_committed_defenders_commands():
    # docs/training.md: wrl train --envs 512 --env-steps 60000000 / 25000000 --config
    # docs/policies/cage2_next(_finetune).config.yaml, seeds 0 and 2
    defender = validate_config(yaml.safe_load((REPO / "config.yaml").read_text()))["defender"]
    assert defender["seeds"] == [0, 2]
    first = phase_train_config(defender, 0, 2, REPO)
    second = phase_train_config(defender, 1, 2, REPO)
    assert (first["envs"], first["env_steps"], first["seed"]) == (512, 60_000_000, 2)
    assert (second["env_steps"], second["lr"], second["lr_end"]) == (25_000_000, 3e-4, 3e-5)
    assert first["specialists"] and first["next_decoy"] and first["memory"] == "bookkeeping"


@pytest.mark.parametrize("defender, field", [
    ({"seeds": [0, 1, 2, 3, 4]}, "defender.seeds"),
    ({"seeds": [1, 1]}, "defender.seeds"),
    ({"phases": [{"config": "docs/policies/cage2_next.config.yaml"}]}, "defender.phases.0"),
    ({"phases": [{"config": "no/such.yaml", "env_steps": 10}]}, "defender.phases.0.config"),
    ({"workflow": "user,defender"}, "defender.workflow"),
    ({"evaluate": {"backend": "gpu"}}, "defender.evaluate.backend"),
])
def test_a_bad_defender_section_names_the_field(defender, field):
    with pytest.raises(ConfigError, match=rf"config field {re.escape(field)}: .*"):
        check_defender(validate_config({"defender": defender})["defender"], REPO)


def test_a_phase_config_with_a_bad_train_section_names_the_phase(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {specialists: true, memory: none}\n")
    defender = validate_config({"defender": {"phases": [{"config": str(bad), "env_steps": 10}]}})["defender"]
    with pytest.raises(ConfigError, match=r"config field defender.phases.0.config: .*train.specialists"):
        check_defender(defender, REPO)


def test_snakemake_stops_on_a_missing_phase_config_before_any_job(tmp_path):
    (tmp_path / "config.yaml").write_text("defender: {phases: [{config: gone.yaml, env_steps: 10}]}\n")
    run = _snakemake(tmp_path, "-n", "--cores", "1", "defender")
    assert run.returncode != 0 and "config field defender.phases.0.config" in run.stdout, run.stdout[-2000:]
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_tiny_defender_end_to_end(tmp_path):
    (tmp_path / "config.yaml").write_text(_tiny_defender(tmp_path))
    run = _snakemake(tmp_path, "--cores", "2", "defender")
    assert run.returncode == 0, run.stdout[-4000:]
    res = tmp_path / "results" / "defender"
    for seed in (0, 1):
        first = json.loads((res / f"seed_{seed}" / "phase_0" / "score.json").read_text())
        second = json.loads((res / f"seed_{seed}" / "phase_1" / "score.json").read_text())
        assert first["seed"] == second["seed"] == seed and first["envs"] == 16
        assert first["env_steps"] >= 1600 and second["env_steps"] >= 800
        log = (tmp_path / "results" / "logs" / f"defender_seed{seed}_phase1.log").read_text()
        assert f"starting from results/defender/seed_{seed}/phase_0/policy.pt" in log
    heads = pd.read_parquet(res / "heads.parquet")
    assert len(heads) == 2 ** 4 and heads["total"].is_monotonic_decreasing
    assert heads["policies"][0] == ",".join(f"results/defender/seed_{s}/phase_1/policy.pt" for s in (0, 1))
    agent = load(res / "policy.pt")  # the composed agent runs as any policy file does
    assert np.isfinite(play(agent, "numba", "meander", 2, 30, seed=1)["returns"]).all()
    board = (res / "eval" / "leaderboard.md").read_text()
    cells = pd.read_parquet(res / "eval" / "evaluation.parquet").groupby(["red", "steps"]).size()
    assert len(cells) == 9 and (cells == 2).all() and "total" in board
    again = _snakemake(tmp_path, "--cores", "2", "defender")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout, again.stdout[-2000:]
