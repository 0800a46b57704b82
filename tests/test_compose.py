"""wrl compose: one agent from several runs' specialists, each head chosen on held-out numba episodes."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from wrl.cli import main
from wrl.eval.compose import cage2_total, select_heads
from wrl.rl.agent import PolicyAgent
from wrl.rl.model import compose_heads, load_policy
from wrl.rl.play import play
from wrl.rl.state import GUESSES

POLICIES = Path(__file__).resolve().parents[1] / "docs" / "policies"
# same design and workflow; the Meander probe is cage2.pt with its opening and Meander
# specialist fine-tuned against Meander (docs/training.md, "More Meander data")
CAGE2, MEANDER_PROBE = POLICIES / "cage2.pt", POLICIES / "cage2_meander_probe.pt"


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_compose_heads_takes_each_head_from_its_source():
    base, probe = load_policy(CAGE2), load_policy(MEANDER_PROBE)
    assert not _same(base.actors[0], probe.actors[0]) and not _same(base.actors[3], probe.actors[3])
    agent = compose_heads([base, probe], [1, 0, 0, 1])
    for h, source in enumerate((probe, base, base, probe)):
        assert _same(agent.actors[h], source.actors[h]) and _same(agent.critics[h], source.critics[h])
    assert agent.design() == base.design() and agent.workflow == base.workflow


def test_an_agent_composed_of_one_run_plays_exactly_as_that_run():
    base, probe = load_policy(CAGE2), load_policy(MEANDER_PROBE)
    alone = play(PolicyAgent(base), "numba", "meander", 8, 30, seed=3)["returns"]
    composed = play(PolicyAgent(compose_heads([probe, base], [1, 1, 1, 1])), "numba", "meander", 8, 30, seed=3)
    np.testing.assert_array_equal(composed["returns"], alone)


def test_short_cells_are_the_first_steps_of_the_long_episodes():
    """What cage2_total relies on: on numba a 30-step episode is the first 30 steps of the
    100-step episode of the same seed, for an agent that cannot tell the length."""
    agent = load_policy(CAGE2)
    for red in ("b_line", "meander"):
        long = play(PolicyAgent(agent), "numba", red, 16, 100, seed=5)["rewards"]
        short = play(PolicyAgent(agent), "numba", red, 16, 30, seed=5)["rewards"]
        np.testing.assert_array_equal(long[:, :30], short)


@pytest.mark.slow
def test_select_heads_returns_the_best_assignment_and_its_score_reproduces():
    models = [load_policy(CAGE2), load_policy(MEANDER_PROBE)]
    agent, table = select_heads(models, episodes=20, seed=7)
    assert len(table) == 2 ** len(GUESSES)
    assert table["total"].is_monotonic_decreasing
    assert set(table.columns) >= {*GUESSES, "b_line 30", "meander 100", "sleep 50", "total"}
    best = [int(table.loc[0, h]) for h in GUESSES]
    assert _same(agent, compose_heads(models, best))
    again = cage2_total(agent, 20, seed=7)
    assert again["total"] == pytest.approx(table.loc[0, "total"], abs=1e-9)
    cells = [c for c in table.columns if c[-1].isdigit()]
    assert table["total"].to_numpy() == pytest.approx(table[cells].sum(axis=1).to_numpy())


def test_wrl_compose_writes_the_agent_and_the_table(tmp_path, capsys):
    out = tmp_path / "composed"
    assert main(["compose", "--policies", f"{CAGE2},{MEANDER_PROBE}", "--out", str(out), "--episodes", "2"]) == 0
    assert "summary: 16 agents scored" in capsys.readouterr().out
    table = pd.read_parquet(out / "heads.parquet")
    assert len(table) == 16 and table["policies"].iloc[0] == f"{CAGE2},{MEANDER_PROBE}"
    agent = load_policy(out / "policy.pt")
    assert _same(agent, compose_heads([load_policy(CAGE2), load_policy(MEANDER_PROBE)],
                                      [int(table.loc[0, h]) for h in GUESSES]))
    assert sorted(p.name for p in out.iterdir()) == ["heads.parquet", "policy.pt"]


@pytest.mark.parametrize("other, field", [("cage2_wide128.pt", "design"), ("learning_check_b_line.pt", "specialists")])
def test_wrl_compose_refuses_policies_it_cannot_compose(tmp_path, capsys, other, field):
    out = tmp_path / "composed"
    assert main(["compose", "--policies", f"{CAGE2},{POLICIES / other}", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--policies" in err and field in err
    assert not out.exists()


@pytest.mark.parametrize("flags, field", [(["--episodes", "0"], "--episodes"), (["--workers", "0"], "--workers"),
                                          (["--out", "FILE"], "--out")])
def test_wrl_compose_names_the_bad_flag_before_scoring(tmp_path, capsys, flags, field):
    file = tmp_path / "a_file"
    file.write_text("")
    flags = [str(file) if f == "FILE" else f for f in flags]
    args = ["compose", "--policies", f"{CAGE2},{MEANDER_PROBE}", "--out", str(tmp_path / "composed"), *flags]
    assert main(args) == 2
    assert field in capsys.readouterr().err
    assert not (tmp_path / "composed").exists() and file.read_text() == ""
