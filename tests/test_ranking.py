"""Exhaustive ranking: the ranking table and the intraclass correlation on known data."""
import numpy as np
import pandas as pd
import pytest

from wrl.search.ranking import crossed_components, rank_workflows, variance_components


def _scores(effects, noise_sd, k, seed=0):
    rng = np.random.default_rng(seed)
    rows = [{"workflow": f"w{i}", "seed": s, "score": e + rng.normal(0, noise_sd)}
            for i, e in enumerate(effects) for s in range(k)]
    return pd.DataFrame(rows)


def test_ranking_orders_by_mean_score():
    df = pd.DataFrame({"workflow": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "score": [-3.0, -5.0, -1.0, -2.0]})
    table = rank_workflows(df)
    assert table["workflow"].tolist() == ["b", "a"] and table["rank"].tolist() == [1, 2]
    assert table["mean"].tolist() == [-1.5, -4.0] and (table["runs"] == 2).all()


def test_icc_recovers_known_variance_components():
    rng = np.random.default_rng(1)
    df = _scores(rng.normal(0, 3.0, 400), noise_sd=1.0, k=4)  # true ICC = 9 / (9 + 1) = 0.9
    out = variance_components(df)
    assert out["icc"] == pytest.approx(0.9, abs=0.03) and out["seed_sd"] == pytest.approx(1.0, abs=0.05)
    null = variance_components(_scores(np.zeros(400), noise_sd=2.0, k=2))  # no workflow effect
    assert abs(null["icc"]) < 0.1 and null["var_between"] < 0.3
    assert out["p_value"] < 1e-12 and null["p_value"] > 0.01


def test_icc_needs_balanced_repeats():
    df = pd.DataFrame({"workflow": ["a", "a", "b"], "seed": [0, 1, 0], "score": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="same number"):
        variance_components(df)


def test_crossed_components_separate_a_shared_seed_effect_from_the_workflows():
    rng = np.random.default_rng(3)
    seeds, noise = rng.normal(0, 1.0, 8), 0.3
    flat = pd.DataFrame([{"workflow": f"w{i}", "seed": s, "score": seeds[s] + rng.normal(0, noise)}
                         for i in range(200) for s in range(8)])
    out = crossed_components(flat)
    assert out["sd_residual"] == pytest.approx(noise, rel=0.05)
    assert out["sd_seed"] == pytest.approx(seeds.std(ddof=1), rel=0.1)
    assert out["p_workflow"] > 0.01 and out["sd_between_upper"] < 0.1
    assert variance_components(flat)["seed_sd"] > 0.9  # one-way, the seed effect passes for noise
    effects = rng.normal(0, 0.5, 200)
    real = flat.assign(score=flat["score"] + effects[flat["workflow"].str[1:].astype(int)])
    got = crossed_components(real)
    assert got["p_workflow"] < 1e-6 and got["sd_between"] < got["sd_between_upper"]
    assert got["sd_between"] == pytest.approx(0.5, rel=0.15)
    with pytest.raises(ValueError, match="one run at every seed"):
        crossed_components(flat.iloc[1:])


def test_position_effects_find_the_unit_type_whose_place_matters():
    from wrl.search.ranking import position_effects
    from wrl.workflow import ALL_WORKFLOWS, format_workflow

    rows = [{"workflow": format_workflow(w), "seed": s, "score": -2.0 * w.index("op_server") + 0.1 * s}
            for w in ALL_WORKFLOWS for s in range(2)]
    table = position_effects(pd.DataFrame(rows))
    top = table.iloc[0]
    assert top["unit_type"] == "op_server" and top["spread"] == pytest.approx(8.0)
    assert [top[f"pos{p}"] for p in range(1, 6)] == pytest.approx([0.05, -1.95, -3.95, -5.95, -7.95])
    # another type's place only pushes op_server down the order by one slot or not: spread 2 = 8 / 4
    assert table.iloc[1:]["spread"].to_numpy() == pytest.approx([2.0] * 4)
