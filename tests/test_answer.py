"""The answer page claims what the data support: the best by posterior mean with P(best), the
credible set, the per-red breakdown, the position effects, the workflow's cost, and one
sentence when the field is flat."""
import json

import numpy as np
import pandas as pd
import pytest

from wrl.report.answer import answer_text
from wrl.workflow import ALL_WORKFLOWS, format_workflow

CFG = {"noise_sd": 0.25, "flat_margin": 0.5, "seed": 0, "method": "position"}
TRAIN = {"red": "b_line:0.5,meander:0.5", "score": {"by": "heldout", "episodes": 1000}}


def _runs(tmp_path, score_of, n=32, seed=0):
    rng = np.random.default_rng(seed)
    paths = []
    for k, i in enumerate(rng.choice(len(ALL_WORKFLOWS), n, replace=False)):
        d = tmp_path / f"round_{k // 4}" / f"cand_{k % 4}"
        d.mkdir(parents=True)
        s = score_of(ALL_WORKFLOWS[i]) + rng.normal(0, 0.25)
        (d / "score.json").write_text(json.dumps({
            "workflow": format_workflow(ALL_WORKFLOWS[i]), "score": s, "score_se": 0.25, "compliance": 0.8,
            "scores_by_red": {"b_line": s + 1, "meander": s - 1, "sleep": 0.0}}))
        paths.append(d / "score.json")
    (tmp_path / "plain.json").write_text(json.dumps({"score": -15.0, "score_se": 0.2}))
    board = pd.DataFrame({"policy": ["best:x", "plain_ppo"], "red": "b_line", "steps": 100, "episodes": 20,
                          "mean": [-13.0, -14.0], "sd": 1.0, "ci95": 0.4})
    board.to_csv(tmp_path / "leaderboard.csv", index=False)
    return paths


def test_a_flat_field_is_called_flat(tmp_path):
    paths = _runs(tmp_path, lambda w: -15.0)
    text = answer_text(paths, CFG, tmp_path / "leaderboard.csv", TRAIN, "cyborg", tmp_path / "plain.json")
    assert "**The field is flat:**" in text and "P(it is the best of the 120)" in text
    assert "Credible top set" in text and '"meander"' in text and "Position effects" in text
    assert "plain PPO (no workflow input" in text and "over the same 1 cell(s): +1.00" in text
    assert "never the best single run" in text
    assert "greedy return on 1000 held-out numba episodes per red, weighted by the mixture b_line:0.5" in text


def test_a_strong_position_effect_is_found_and_not_called_flat(tmp_path):
    paths = _runs(tmp_path, lambda w: -15.0 + 2.0 * (w[-1] == "defender"))
    text = answer_text(paths, CFG, tmp_path / "leaderboard.csv", TRAIN, "cyborg", tmp_path / "plain.json")
    assert "The field is not flat" in text and "The field is flat" not in text
    best = text.split("**Best workflow: ")[1].split(" (")[0]
    assert best.endswith(",defender") and "the place of **defender** matters most" in text
    pairs = text.split("its commonest last two: ")[1].split(" (of ")[0]
    assert all(p.split(" (")[0].endswith(",defender") for p in pairs.split("), "))


def test_the_picks_figure_follows_the_answer_not_the_best_single_score():
    from wrl.report.figures import answer_by_round
    from wrl.search.verdict import verdict

    rng = np.random.default_rng(0)
    idx = list(range(1, 17)) + [0] * 4 + [100]  # 16 covering runs; then A (0) four times, B (100) once
    scores = list(-15.5 + 0.2 * rng.standard_normal(16)) + [-15.0, -15.05, -14.95, -15.0, -14.9]
    obs = pd.DataFrame({"round": [0] * 16 + [1] * 5, "index": idx, "score": scores, "score_se": 0.1})
    cfg = {"noise_sd": 0.31, "flat_margin": 0.5, "seed": 0}
    answers = answer_by_round(obs, cfg)
    assert list(answers["round"]) == [0, 1]
    assert answers["workflow"].iloc[-1] == format_workflow(ALL_WORKFLOWS[0])  # B's one run scored higher
    assert answers["workflow"].iloc[-1] == verdict(obs, cfg).table["workflow"][verdict(obs, cfg).answer]


def test_the_position_effects_count_each_runs_seed_offset_in_its_noise(tmp_path):
    """Runs at one place need not share their seeds with those at another: the sentence's
    noise per run is hypot(noise_sd, seed_effect_sd), so a seed-sized spread is not called real."""
    paths = _runs(tmp_path, lambda w: -15.0)
    alone = answer_text(paths, CFG, tmp_path / "leaderboard.csv", TRAIN, "cyborg", tmp_path / "plain.json")
    shared = answer_text(paths, CFG | {"seed_effect_sd": 0.25}, tmp_path / "leaderboard.csv", TRAIN, "cyborg",
                         tmp_path / "plain.json")
    assert "(noise 0.25 per run, its seed's offset included;" in alone
    assert "(noise 0.354 per run, its seed's offset included;" in shared
    def se_of(text):  # the printed standard error of the largest spread, 2 decimals
        return float(text.split("a difference of ")[1].split(" ± ")[1].split(" ")[0])

    assert se_of(shared) == pytest.approx(se_of(alone) * np.sqrt(2), abs=0.015)
