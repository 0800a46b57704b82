"""The default search: the position model, the covering design, the replicated leaders, and
the replay behind ``wrl bench search`` making the pipeline's own picks."""
import json

import numpy as np
import pandas as pd
import pytest

from wrl.search.design import covering_design, design_sequence, position_batch, replicate_leaders
from wrl.search.positions import posterior
from wrl.workflow import ALL_WORKFLOWS, NUM_WORKFLOWS, format_workflow, workflow_index

LAST_DEFENDER = np.array([w[-1] == "defender" for w in ALL_WORKFLOWS])


def test_covering_design_is_four_latin_squares_over_every_last_pair():
    for seed in range(5):
        design = covering_design(seed)
        assert len(set(design)) == 20
        orders = [ALL_WORKFLOWS[i] for i in design]
        for block in range(4):  # every type once at every position within a square
            square = orders[5 * block:5 * block + 5]
            assert all(len({w[pos] for w in square}) == 5 for pos in range(5))
        assert len({w[-2:] for w in orders}) == 20  # all 20 ordered (next-to-last, last) pairs
    assert covering_design(3) == covering_design(3) and covering_design(3) != covering_design(4)
    assert len(set(design_sequence(0, 64))) == 64


def test_position_model_finds_a_position_effect_and_is_sure_of_it():
    rng = np.random.default_rng(0)
    idx = np.array(design_sequence(1, 40))
    y = -15 + 1.0 * LAST_DEFENDER[idx] + rng.normal(0, 0.25, len(idx))
    post = posterior(idx, y, None, 0.25, seed=0)
    assert post.p_best.sum() == pytest.approx(1.0)
    assert LAST_DEFENDER[post.answer()] and post.n_obs[post.answer()] > 0
    assert post.p_best[LAST_DEFENDER].sum() > 0.9  # the best ends with defender, surely
    assert LAST_DEFENDER[post.credible_set(0.9)].mean() > 0.9
    assert post.p_flat(0.5) < 0.05
    assert 0.5 < post.mean[LAST_DEFENDER].mean() - post.mean[~LAST_DEFENDER].mean() < 1.2  # shrunk, not lost


def test_position_model_carries_an_end_pair_effect_to_the_orders_it_has_not_seen():
    # the previous learner's landscape: the six orders ending user,defender score 2.5 more
    needle = np.array([w[-2:] == ("user", "defender") for w in ALL_WORKFLOWS])
    rng = np.random.default_rng(0)
    idx = np.array(design_sequence(1, 40))
    y = -15 + 2.5 * needle[idx] + rng.normal(0, 0.3, len(idx))
    post = posterior(idx, y, None, 0.3, seed=0)
    unseen = needle & (post.n_obs == 0)
    assert 0 < needle[idx].sum() < 6 and unseen.any()
    assert post.mean[unseen].min() > post.mean[~needle].max() + 1.0  # additive positions alone: below it
    assert post.p_best[unseen].sum() > 0.3  # the unseen needles may well be the best ...
    assert post.p_best[post.answer()] < 0.3  # ... so the answer is not claimed with confidence (alone: 0.40)


def test_position_model_calls_noise_flat():
    rng = np.random.default_rng(1)
    idx = np.array(design_sequence(2, 24))
    post = posterior(idx, -15 + rng.normal(0, 0.25, len(idx)), None, 0.25, seed=0)
    assert post.p_flat(0.5) > 0.9 and post.p_best.max() < 0.1 and len(post.credible_set(0.9)) > 60


def test_replicate_leaders_spends_the_batch_on_the_best_posterior_means():
    idx = np.array([3, 7, 7, 3, 50, 90])
    y = np.array([-14.0, -15.0, -15.2, -14.1, -16.0, -17.0])
    post = posterior(idx, y, None, 0.25, seed=0)
    picks = replicate_leaders(post, 6, max_repeats=3)
    assert picks[0] == 3 and picks.count(3) == 1  # 3 reaches 3 runs, then the next leaders
    rest = [i for i in np.argsort(-post.mean, kind="stable") if i != 3][:5]
    assert picks[1:] == [int(i) for i in rest]


def test_the_leaders_include_an_unrun_workflow_that_shares_a_strong_end_pair():
    needle = np.array([w[-2:] == ("user", "defender") for w in ALL_WORKFLOWS])
    idx = np.array(design_sequence(1, 40))
    y = -15 + 2.5 * needle[idx] + np.random.default_rng(0).normal(0, 0.3, len(idx))
    picks = replicate_leaders(posterior(idx, y, None, 0.3, seed=0), 4)
    assert all(needle[picks]) and any(np.isin(picks, idx, invert=True))


def test_a_flat_field_is_confirmed_after_the_covering_design_and_structure_is_explored():
    idx = np.array(design_sequence(0, 8))
    noise = np.random.default_rng(2).normal(0, 0.3, len(idx))
    picks, post, method = position_batch(2, 10, idx, -15 + noise, None, 4, 0.3, seed=7, design_seed=0,
                                         design_runs=8, replicate_rounds=3, flat_margin=0.5)
    assert method == "confirm" and post.p_flat(0.5) >= 0.5
    evaluated = np.flatnonzero(post.n_obs > 0)
    assert picks == [int(i) for i in evaluated[np.argsort(-post.mean[evaluated], kind="stable")][:4]]
    needle = np.array([w[-1] == "defender" for w in ALL_WORKFLOWS])
    _, post, method = position_batch(2, 10, idx, -15 + 3.0 * needle[idx] + noise, None, 4, 0.3, seed=7,
                                     design_seed=0, design_runs=8, replicate_rounds=3, flat_margin=0.5)
    assert method == "thompson" and post.p_flat(0.5) < 0.5
    full = np.repeat(idx, 4)  # every evaluated workflow at its 4 runs: the confirm round runs new ones
    picks, _, method = position_batch(9, 10, full, -15 + np.random.default_rng(3).normal(0, 0.3, len(full)), None,
                                      4, 0.3, seed=7, design_seed=0, design_runs=8, flat_margin=0.5)
    assert method == "confirm" and len(set(picks)) == 4 and not np.isin(picks, idx).any()

def _fake_scores(tmp_path, r, workflows, score_of, repeats):
    paths = []
    for c, (w, rep) in enumerate(zip(workflows, repeats)):
        d = tmp_path / f"round_{r}" / f"cand_{c}"
        d.mkdir(parents=True)
        i = workflow_index(w)
        (d / "score.json").write_text(json.dumps({"workflow": w, "score": score_of(i, rep), "score_se": 0.25}))
        paths.append(d / "score.json")
    return paths


def test_replay_makes_the_pipelines_picks_and_replicates_train_at_the_next_seed(tmp_path):
    """``wrl bench search`` replays exactly what propose_round proposes from the same scores, and a
    workflow picked again trains at the next seed (repeat counts earlier picks in the batch too)."""
    from wrl.search.replay import replay
    from wrl.search.rounds import propose_round

    rng = np.random.default_rng(5)
    truth = -15 + 0.8 * LAST_DEFENDER + rng.normal(0, 0.05, NUM_WORKFLOWS)
    table = {(i, s): truth[i] + rng.normal(0, 0.25) for i in range(NUM_WORKFLOWS) for s in range(4)}

    class Oracle:  # the table, seeds in order: what the pipeline's seeds would give
        seeds, used = 4, np.zeros(NUM_WORKFLOWS, int)

        def draw(self, w):
            self.used[w] += 1
            return table[(w, self.used[w] - 1)], 0.25

    cfg = {"method": "position", "rounds": 4, "batch": 4, "seed": 3, "noise_sd": 0.25, "design_runs": 8,
           "replicate_rounds": 1, "flat_margin": 0.5, "allow_repeats": False, "beta": {"delta": 0.1, "scale": 0.2}}
    out = replay("position", Oracle(), 4, 4, 0.25, 3, 0.5, {"design_runs": 8})
    paths, proposed = [], []
    for r in range(4):
        workflows = propose_round(r, paths, cfg, tmp_path / f"round_{r}" / "proposals.json", tmp_path / "search")
        proposal = json.loads((tmp_path / f"round_{r}" / "proposals.json").read_text())
        seen = [workflow_index(w) for w in workflows]
        assert proposal["repeats"] == [proposed.count(i) + seen[:k].count(i) for k, i in enumerate(seen)]
        paths += _fake_scores(tmp_path, r, workflows, lambda i, rep: table[(i, rep)], proposal["repeats"])
        proposed += seen
    assert proposed == out.picks
    assert proposal["method"] == "replicate" and len(set(proposed)) < len(proposed)


def test_judge_scores_regret_top5_and_calibration():
    from wrl.search.replay import Outcome, judge

    truth = np.arange(NUM_WORKFLOWS, dtype=float)  # workflow 119 is the best
    outcomes = [Outcome(119, 0.9, np.array([119, 118]), False, []), Outcome(110, 0.1, np.array([110]), True, [])]
    out = judge(outcomes, [truth, truth])
    assert out["regret"] == pytest.approx(4.5) and out["p_top5"] == 0.5 and out["p_best_hit"] == 0.5
    assert out["gain"] == pytest.approx((59.5 + 50.5) / 2)  # the answers' truths less the mean truth 59.5
    assert out["coverage"] == 0.5 and out["set_size"] == 1.5 and out["said_flat"] == 0.5
    assert out["calibration"] == pytest.approx(0.1)  # bins: claim 0.9 hit 1, claim 0.1 hit 0


def test_table_oracle_runs_every_workflow_at_one_seed_order_and_judges_by_the_seeds_it_held_out():
    from wrl.search.landscapes import TableOracle

    runs = pd.DataFrame([{"index": i, "seed": s, "score": 10.0 * i + s, "score_se": 0.1}
                         for i in range(NUM_WORKFLOWS) for s in range(4)])
    oracle = TableOracle(runs, np.random.default_rng(0))
    drawn7 = [oracle.draw(7)[0] - 70.0 for _ in range(2)]
    drawn3 = [oracle.draw(3)[0] - 30.0 for _ in range(2)]
    assert drawn7 == drawn3 and len(set(drawn7)) == 2  # the j-th run of every workflow: the same seed
    held_out = sorted(set(range(4)) - set(drawn7))
    assert oracle.truth[7] == pytest.approx(70.0 + np.mean(held_out))  # never the seeds a search drew
    with pytest.raises(ValueError, match="beyond its 2 seeds"):
        oracle.draw(7)
    everything = TableOracle(runs, np.random.default_rng(0), truth="all")
    assert everything.seeds == 4 and everything.truth[7] == 71.5
    with pytest.raises(ValueError, match="same seeds"):
        TableOracle(runs.iloc[1:], np.random.default_rng(0))


def test_the_position_model_reads_a_replicate_net_of_its_seeds_shared_offset():
    # workflows 0 and 1 ran at seeds 0 and 1, workflow 2 at seed 0 only; seed 1 cost every workflow 1 point
    idx, y = np.array([0, 1, 2, 0, 1]), np.array([0.0, 0.0, 0.0, -1.0, -1.0])
    naive = posterior(idx, y, None, noise_sd=0.1, seed=0)
    aware = posterior(idx, y, None, noise_sd=0.1, seed=0, seed_effect_sd=1.0)
    assert naive.mean[2] - naive.mean[0] > 0.2  # without the seed effect, workflow 2 looks better
    assert abs(aware.mean[2] - aware.mean[0]) < 0.05 and abs(aware.mean[1] - aware.mean[0]) < 0.05


def test_fit_landscape_recovers_position_effects_and_noise():
    from wrl.search.landscapes import fit_landscape

    rng = np.random.default_rng(2)
    rows = [{"index": i, "workflow": format_workflow(w), "seed": s,
             "score": -15 + 1.0 * (w[-1] == "defender") + rng.normal(0, 0.3)}
            for i, w in enumerate(ALL_WORKFLOWS) for s in range(4)]
    fit = fit_landscape(pd.DataFrame(rows))
    gap = fit["fitted"][LAST_DEFENDER].mean() - fit["fitted"][~LAST_DEFENDER].mean()
    assert gap == pytest.approx(1.0, abs=0.1) and fit["seed_sd"] == pytest.approx(0.3, abs=0.03)
    assert fit["residual_sd"] < 0.1


def test_a_replay_never_asks_a_table_for_more_runs_of_a_workflow_than_it_holds():
    """On a 4-seed table with a held-out truth a search may run a workflow twice: the
    design's max_repeats is capped there, even with every late round replicating leaders."""
    from wrl.search.landscapes import TableOracle
    from wrl.search.replay import replay

    rng = np.random.default_rng(1)
    runs = pd.DataFrame([{"index": i, "seed": s, "score": 0.02 * (i % 7) + 0.3 * rng.standard_normal(),
                          "score_se": 0.05} for i in range(NUM_WORKFLOWS) for s in range(4)])
    oracle = TableOracle(runs, np.random.default_rng(0))
    out = replay("position", oracle, rounds=8, batch=4, noise_sd=0.3, seed=0, flat_margin=0.5,
                 options={"design_runs": 20, "replicate_rounds": 3, "max_repeats": 4})
    runs_of = np.bincount(out.picks, minlength=NUM_WORKFLOWS)
    assert len(out.picks) == 32 and runs_of.max() == 2
