"""Evaluation: the leaderboard arithmetic, the CLI's errors, and real runs of baselines."""
import numpy as np
import pandas as pd
import pytest

from wrl.cli import main
from wrl.eval.evaluate import evaluate_policy, leaderboard, write_results
from wrl.eval.table import rst_table, summarise


def fake(policy, red, steps, returns):
    return pd.DataFrame({"policy": policy, "backend": "cyborg", "mode": "greedy", "red": red,
                         "steps": steps, "episode": np.arange(len(returns)), "return": returns})


def test_leaderboard_means_cis_and_total():
    df = pd.concat([fake("a", "b_line", 100, [-10.0, -20.0, -30.0, -40.0]),
                    fake("a", "meander", 100, [-5.0, -5.0, -5.0, -5.0]),
                    fake("b", "b_line", 100, [-1.0, -1.0, -1.0, -1.0]),
                    fake("b", "meander", 100, [-2.0, -4.0, -2.0, -4.0])])
    s = summarise(df)
    a_bline = s[(s.policy == "a") & (s.red == "b_line")].iloc[0]
    assert a_bline["mean"] == -25.0
    assert a_bline["ci95"] == pytest.approx(1.96 * np.std([-10, -20, -30, -40], ddof=1) / 2)
    table = leaderboard(df).splitlines()
    assert table[0] == "| policy | b_line 100 | meander 100 | total of 2 cells |"
    # best total first: b (-1 + -3 = -4) above a (-25 + -5 = -30)
    assert table[2].startswith("| b | -1.0 ± 0.0 | -3.0 ± 1.1 | -4.0 ± 1.1 |")
    assert table[3].startswith("| a | -25.0 ± 12.7 | -5.0 ± 0.0 | -30.0 ± 12.7 |")


def test_a_total_sits_beside_the_published_totals_only_over_all_nine_cells():
    two = pd.concat([fake("ours", "b_line", 100, [-10.0, -12.0]), fake("ours", "meander", 100, [-15.0, -17.0])])
    table = leaderboard(two, published=True)
    assert "CardiffUni" not in table and "-54.57" not in table
    assert "total of 2 cells" in table and "not shown beside it" in table
    nine = pd.concat([fake("ours", red, t, [-1.0, -2.0]) for red in ("b_line", "meander", "sleep")
                      for t in (30, 50, 100)])
    table = leaderboard(nine, published=True).splitlines()
    assert table[0].endswith("| total |") and table[2].startswith("| ours |")
    assert table[3].startswith("| CardiffUni (published) |") and table[3].endswith("-54.57 ± 0.43 |")
    assert "CardiffUni" not in rst_table(summarise(two), published=True)
    assert "CardiffUni" in rst_table(summarise(nine), published=True)


def test_write_results_leaves_only_complete_files(tmp_path):
    df = fake("a", "b_line", 30, [-1.0, -2.0])
    write_results(df, tmp_path / "eval")
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == ["evaluation.parquet",
                                                                     "leaderboard.md"]
    assert pd.read_parquet(tmp_path / "eval" / "evaluation.parquet").equals(df)


@pytest.mark.parametrize("argv, field", [
    (["--policy", "sleep", "--red", "blue"], "--red"),
    (["--policy", "sleep", "--steps", "0"], "--steps"),
    (["--policy", "sleep", "--episodes", "0"], "--episodes"),
    (["--policy", "/nonexistent/policy.pt", "--episodes", "1", "--steps", "1", "--red", "sleep"],
     "--policy"),
    (["--policy", "no_such_baseline", "--episodes", "1", "--steps", "1", "--red", "sleep"],
     "no_such_baseline"),
])
def test_bad_values_exit_nonzero_naming_the_field(argv, field, capsys):
    assert main(["evaluate", "--backend", "cyborg", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0]


@pytest.mark.slow
def test_sleep_baseline_on_cyborg_matches_the_reference():
    # sleep vs b_line, 100 steps: mean -1134, sd about 20 (measured over 200 episodes)
    df = evaluate_policy("sleep", "cyborg", ["b_line"], [100], episodes=32, workers=2, seed=3)
    assert len(df) == 32 and (df["steps"] == 100).all()
    assert abs(df["return"].mean() + 1134.0) < 4 * 20.0 / np.sqrt(32)


@pytest.mark.slow
def test_trained_policy_scores_the_same_on_numba_and_cyborg(tmp_path):
    """Sim-to-real: a policy trained on numba, evaluated on both backends, agrees within
    the fidelity suite's tolerance (returns and per-step reward curves)."""
    from wrl.eval.evaluate import play_policy
    from wrl.eval.fidelity import compare
    from wrl.run.train import train_candidate

    wf = "op_server,enterprise,defender,op_host,user"
    train_candidate({"backend": "numba", "envs": 32, "episodes": 96, "seed": 1}, wf, tmp_path,
                    threads=1)
    policy = str(tmp_path / "policy.pt")
    sim = play_policy(policy, "numba", "b_line", 48, mode="stochastic", seed=5)
    real = play_policy(policy, "cyborg", "b_line", 48, mode="stochastic", seed=6, workers=2)
    result = compare(sim, real)
    assert result["return_ok"] and result["curve_ok"], result


def test_cage2_protocol_refuses_flags_it_fixes(capsys):
    assert main(["evaluate", "--protocol", "cage2", "--policy", "sleep", "--steps", "30"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--steps" in err[0] and "cage2" in err[0]


@pytest.mark.slow
def test_cage2_protocol_prints_nine_cells_beside_the_published_rows(tmp_path, capsys):
    assert main(["evaluate", "--protocol", "cage2", "--policy", "sleep", "--episodes", "2",
                 "--workers", "2", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("| policy | b_line 30 | b_line 50 | b_line 100 | meander 30 | meander 50 | "
                        "meander 100 | sleep 30 | sleep 50 | sleep 100 | total |")
    ours = next(line for line in lines if line.startswith("| sleep |"))
    assert ours.split("|")[9].strip() == "0.0 ± 0.0"  # sleep vs sleep costs nothing
    cardiff = next(line for line in lines if line.startswith("| CardiffUni"))
    assert "-13.76" in cardiff and cardiff.endswith("-54.57 ± 0.43 |")
    assert "CardiffUni" in (tmp_path / "leaderboard.md").read_text()
    df = pd.read_parquet(tmp_path / "evaluation.parquet")
    assert len(df) == 18 and set(df["mode"]) == {"greedy"} and set(df["backend"]) == {"cyborg"}
