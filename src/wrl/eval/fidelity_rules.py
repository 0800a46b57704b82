"""``wrl fidelity --rules``: per-rule fidelity statistics from red-action logs.

Both backends log, every step, red's action and its outcome (``info["red_action"]``,
columns ``wrl.env.sim_state.RL_*``) and the true compromised state. ``play_logged`` turns an
evaluation run into one row per (episode, step); ``RULES`` turn those rows into
conditional frequencies (e.g. P(exploit e | red's known ports)), and ``compare_rules``
tests, group by group, whether numba's conditional distribution equals CybORG's
(chi-square test of homogeneity with a Rao-Scott design-effect correction, since the
events of one episode are correlated), with Holm's correction over all groups of all
rules. These tests are far more sensitive than episode returns: a rule that fires in
a few percent of steps shows up here long before it moves the mean return by 2%.
The cached CybORG reference and the report: ``wrl.eval.fidelity_rules_report``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from wrl.eval.evaluate import load_any_policy
from wrl.env.scenario import ACTION_HOST, ACTION_KIND, KIND_INDEX, MAX_STEPS
from wrl.env.sim_state import R_DISCOVER_SERVICES, R_ESCALATE, R_EXPLOIT, RL_N
from wrl.env.vec import make_vec

#: per-step log columns (red record first, in ``RL_*`` order)
LOG_COLUMNS = ("kind", "target", "exploit", "success", "ports", "decoys")
assert len(LOG_COLUMNS) == RL_N
#: smallest count, per backend, for a group to be tested
MIN_COUNT = 20
#: family-wise significance level (Holm) of the per-rule report
ALPHA = 0.01
#: compact dtypes of the cached logs
_DTYPES = {"episode": np.int32, "t": np.int8, "action": np.int16, "kind": np.int8,
           "target": np.int8, "exploit": np.int8, "success": np.int8, "ports": np.int16,
           "decoys": np.int16, "comp_before": np.int16, "comp_after": np.int16,
           "reward": np.float32}


def _bits(mask: np.ndarray) -> np.ndarray:
    """int64[N] bit masks of bool[N, K] rows."""
    return (np.asarray(mask, np.int64) << np.arange(mask.shape[1])).sum(axis=1)


def _bit(masks: pd.Series, index) -> pd.Series:
    """Bit ``index`` (int array or Series, per row) of each mask, as 0/1."""
    return pd.Series(np.right_shift(masks.to_numpy(), np.asarray(index)) & 1, index=masks.index)


def play_logged(policy: str, backend: str, red: str, episodes: int, green: str = "sleep",
                seed: int = 0, workers: int | None = None, num_envs: int = 64) -> pd.DataFrame:
    """One row per (episode, step) of ``policy`` (a baseline name or a ``policy.pt``, greedy) on ``backend``.

    Columns: episode, t (0..99), action (blue), the red record ``LOG_COLUMNS``,
    ``comp_before``/``comp_after`` (true compromised hosts as 13-bit masks, before and
    after the step; after is -1 on an episode's last step, which autoresets) and reward.
    """
    n = min(episodes, num_envs)
    rounds = -(-episodes // n)
    agent = load_any_policy(policy, n, "greedy", seed)
    frames = []
    with make_vec(backend, n, red, green=green, max_steps=MAX_STEPS, seed=seed,
                  workers=workers, log_red=True) as env:
        obs, info = env.reset()
        first = np.ones(n, bool)
        for r in range(rounds):
            for t in range(MAX_STEPS):
                before = _bits(info["compromised"])
                action = agent.act(obs, first, info)
                obs, reward, _, truncated, info = env.step(action)
                first = truncated
                after = np.where(truncated, -1, _bits(info["compromised"]))
                frame = pd.DataFrame(info["red_action"].astype(np.int64), columns=LOG_COLUMNS)
                frame.insert(0, "action", action)
                frame.insert(0, "t", t)
                frame.insert(0, "episode", r * n + np.arange(n))
                frame["comp_before"], frame["comp_after"] = before, after
                frame["reward"] = reward
                frames.append(frame.astype(_DTYPES))
    log = pd.concat(frames, ignore_index=True)
    log = log[log["episode"] < episodes].sort_values(["episode", "t"], kind="stable")
    return log.reset_index(drop=True)


def _events(x: pd.DataFrame, outcome, **keys) -> pd.DataFrame:
    """A rule's events: episode, group (``keys`` written 'name=value ...') and outcome."""
    group = pd.Series("", index=x.index)
    for name, values in keys.items():
        group = group + f" {name}=" + pd.Series(np.asarray(values), index=x.index).astype(str)
    return pd.DataFrame({"episode": x["episode"], "group": group.str.strip(),
                         "outcome": np.asarray(outcome)})


def _exploits(log: pd.DataFrame) -> pd.DataFrame:
    """The exploit attempts that ran (an unscanned IP has none)."""
    return log[(log["kind"] == R_EXPLOIT) & (log["exploit"] >= 0)]


def _exploit_choice(log: pd.DataFrame) -> pd.DataFrame:
    """Exploit chosen, given the target and red's known ports."""
    x = _exploits(log)
    return _events(x, x["exploit"], host=x["target"], ports=x["ports"])


def _exploit_success(log: pd.DataFrame) -> pd.DataFrame:
    """Exploit success, given the target, its decoys and the exploit chosen."""
    x = _exploits(log)
    return _events(x, x["success"], host=x["target"], decoys=x["decoys"], exploit=x["exploit"])


def _scan_result(log: pd.DataFrame) -> pd.DataFrame:
    """Ports a port scan reports (red's knowledge after it), given the target and its decoys."""
    x = log[log["kind"] == R_DISCOVER_SERVICES]
    return _events(x, x["ports"], host=x["target"], decoys=x["decoys"])


def _escalate_success(log: pd.DataFrame) -> pd.DataFrame:
    """Escalate success, given the target and whether red held it just before."""
    x = log[log["kind"] == R_ESCALATE]
    return _events(x, x["success"], host=x["target"], held=_bit(x["comp_before"], x["target"]))


def _next_action(log: pd.DataFrame) -> pd.DataFrame:
    """Red's next (kind, target), given its last (kind, target, success): B_line's jumps,
    rescans after a failed exploit, Meander's choices."""
    nxt = log.shift(-1)
    same = (nxt["episode"] == log["episode"]) & (log["t"] < MAX_STEPS - 1)
    x, y = log[same], nxt[same].astype(np.int64)
    return _events(x, y["kind"] * 100 + y["target"], kind=x["kind"], host=x["target"],
                   ok=x["success"])


def _remove_effect(log: pd.DataFrame) -> pd.DataFrame:
    """Host still compromised after a blue Remove on it, given it was compromised before
    (red's own action in the same step can re-take it: that is part of the rule)."""
    remove = ACTION_KIND[log["action"]] == KIND_INDEX["Remove"]
    host = ACTION_HOST[log["action"]].astype(np.int64)
    keep = remove & (_bit(log["comp_before"], host) == 1) & (log["comp_after"] >= 0)
    x, h = log[keep], host[keep.to_numpy()]
    return _events(x, _bit(x["comp_after"], h), host=h)


#: rule name -> function(log) -> frame with ``group`` and ``outcome`` per event
RULES = {
    "exploit_choice": _exploit_choice,
    "exploit_success": _exploit_success,
    "scan_result": _scan_result,
    "escalate_success": _escalate_success,
    "red_next_action": _next_action,
    "remove_effect": _remove_effect,
}


def _design_effect(g: pd.DataFrame, outcomes) -> list[float]:
    """Per outcome, the variance of its frequency with events clustered by episode over
    the variance if they were independent (the design effect; undefined ones left out)."""
    n_e = g.groupby("episode").size()
    n = n_e.sum()
    out = []
    if len(n_e) < 2:
        return out
    for k in outcomes:
        y_e = (g["outcome"] == k).groupby(g["episode"]).sum()
        p = y_e.sum() / n
        if 0 < p < 1:
            var = len(n_e) / (len(n_e) - 1) * ((y_e - p * n_e) ** 2).sum() / n ** 2
            out.append(var / (p * (1 - p) / n))
    return out


def _test(ga: pd.DataFrame, gb: pd.DataFrame) -> float:
    """p-value of 'same outcome distribution' for the events ``ga`` and ``gb``.

    Pearson's chi-square of the 2 x K table divided by the mean design effect (Rao-Scott
    first-order correction, at least 1): events of one episode are not independent
    (B_line retries the same exploit), which a plain chi-square would ignore.
    """
    outcomes = np.union1d(ga["outcome"].unique(), gb["outcome"].unique())
    if len(outcomes) < 2:
        return 1.0
    table = np.array([[(g["outcome"] == k).sum() for k in outcomes] for g in (ga, gb)])
    x2 = stats.chi2_contingency(table, correction=False).statistic
    deff = max(1.0, float(np.mean(_design_effect(ga, outcomes) + _design_effect(gb, outcomes)
                                  or [1.0])))
    return float(stats.chi2.sf(x2 / deff, len(outcomes) - 1))


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values of float[m] p-values (same order)."""
    order = np.argsort(p)
    m = len(p)
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    return adjusted


def compare_rules(sim: pd.DataFrame, ref: pd.DataFrame,
                  min_count: int = MIN_COUNT) -> pd.DataFrame:
    """One row per (rule, group) with at least ``min_count`` events in both logs.

    Columns: rule, group, n_numba, n_cyborg, the most frequent outcome (in CybORG) and its
    frequency in each backend, the largest |frequency difference| over outcomes, p
    (homogeneity test, ``_test``), p_holm (Holm-adjusted over all rows) and ok
    (p_holm >= ALPHA).
    """
    rows = []
    for rule, fn in RULES.items():
        ea, eb = fn(sim), fn(ref)
        for group, gb in eb.groupby("group"):
            ga = ea[ea["group"] == group]
            if len(ga) < min_count or len(gb) < min_count:
                continue
            fa = ga["outcome"].value_counts(normalize=True)
            fb = gb["outcome"].value_counts(normalize=True)
            top = fb.index[0]
            diff = fa.sub(fb, fill_value=0.0).abs().max()
            rows.append({"rule": rule, "group": group, "n_numba": len(ga), "n_cyborg": len(gb),
                         "top_outcome": int(top), "freq_numba": float(fa.get(top, 0.0)),
                         "freq_cyborg": float(fb[top]), "max_absdiff": float(diff),
                         "p": _test(ga, gb)})
    table = pd.DataFrame(rows)
    if len(table):
        table["p_holm"] = _holm(table["p"].to_numpy())
        table["ok"] = table["p_holm"] >= ALPHA
    return table

