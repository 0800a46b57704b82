"""The search's round files: reading candidates' ``score.json``, writing ``proposals.json`` and posteriors."""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from wrl.atomic import atomic_write, clean_stale_temporaries
from wrl.env.red import RED_AGENTS
from wrl.workflow import format_workflow, kendall_distance, parse_workflow, workflow_from_index, workflow_index


def _float(value) -> float:
    """JSON number or null as a float (null -> NaN)."""
    return math.nan if value is None else float(value)


def read_scores(score_paths: list[str | Path]) -> pd.DataFrame:
    """Observations from candidates' ``score.json`` files.

    Paths must look like ``.../round_{r}/cand_{i}/score.json``. Returns a DataFrame with
    columns round, cand, workflow, index, score, score_se, compliance, score_{red} for
    each red agent (NaN where that red was not played), path (one row per file, sorted
    by round then cand); a non-finite score is kept (callers drop it).
    """
    rows = []
    for path in map(Path, score_paths):
        data = json.loads(path.read_text())
        by_red = data.get("scores_by_red") or {}
        rows.append(
            {
                "round": int(path.parent.parent.name.removeprefix("round_")),
                "cand": int(path.parent.name.removeprefix("cand_")),
                "workflow": format_workflow(parse_workflow(data["workflow"])),
                "index": workflow_index(data["workflow"]),
                "score": _float(data["score"]),
                "score_se": _float(data.get("score_se")),
                "compliance": _float(data.get("compliance")),
                **{f"score_{red}": _float(by_red.get(red)) for red in RED_AGENTS},
                "path": str(path),
            }
        )
    types = {"round": int, "cand": int, "workflow": str, "index": int, "score": float,
             "score_se": float, "compliance": float, **{f"score_{red}": float for red in RED_AGENTS},
             "path": str}
    frame = pd.DataFrame(rows, columns=list(types)).astype(types)
    return frame.sort_values(["round", "cand"], ignore_index=True)


def propose_round(
    round_: int,
    score_paths: list[str | Path],
    search_cfg: dict,
    out_json: str | Path,
    search_dir: str | Path,
) -> list[str]:
    """Propose round ``round_``'s batch from every earlier score and save the search state.

    search_cfg: the config's ``search`` section (``wrl.search.proposals.choose_batch``).
    Writes ``out_json`` ({"round", "workflows", "indices", "method", "repeats"}: how often
    each pick was evaluated before, ``load_proposal``),
    ``search_dir/observations_round_{r}.parquet`` (the scores it saw) and
    ``search_dir/posterior_round_{r}.parquet`` (``choose_batch``'s table; for a design
    round mean/sd are NaN), first deleting stale temporaries in both directories.
    Returns the proposed workflows (text).
    """
    # imported here, not at the top: it brings scikit-learn (about 1 s), which the training
    # jobs that read a proposal (load_proposal, warm_start_policy) never need
    from wrl.search.proposals import choose_batch

    search_dir = Path(search_dir)
    for directory in {search_dir, Path(out_json).parent}:
        clean_stale_temporaries(directory)
    obs = read_scores(score_paths)
    good = obs[np.isfinite(obs["score"])]
    if len(good) < len(obs):
        warnings.warn(f"round {round_}: {len(obs) - len(good)} candidates without a finite score ignored")
    picks, posterior, method = choose_batch(round_, good["index"].to_numpy(), good["score"].to_numpy(),
                                            good["score_se"].to_numpy(), search_cfg, set(obs["index"]))
    posterior.insert(0, "round", round_)
    obs.insert(0, "seen_by_round", round_)
    atomic_write(search_dir / f"observations_round_{round_}.parquet", lambda p: obs.to_parquet(p, index=False))
    atomic_write(search_dir / f"posterior_round_{round_}.parquet", lambda p: posterior.to_parquet(p, index=False))
    workflows = [format_workflow(workflow_from_index(i)) for i in picks]
    # a pick's earlier runs (earlier rounds, then earlier in this batch): its seed offset
    repeats = [int((obs["index"] == i).sum()) + picks[:k].count(i) for k, i in enumerate(picks)]
    payload = {"round": round_, "method": method, "indices": picks, "workflows": workflows, "repeats": repeats}
    atomic_write(Path(out_json), lambda p: p.write_text(json.dumps(payload, indent=1) + "\n"))
    return workflows


def load_proposal(path: str | Path, cand: int) -> tuple[str, int]:
    """(workflow text, repeat) of candidate ``cand`` in a ``proposals.json``.

    repeat: how many times that workflow was evaluated before (earlier rounds, then earlier
    in the batch); the candidate trains at seed ``train.seed + repeat``, so a
    re-evaluation is a fresh draw of the score, not a copy of the first.
    """
    proposal = json.loads(Path(path).read_text())
    workflows = proposal["workflows"]
    if not 0 <= cand < len(workflows):
        raise ValueError(f"{path}: candidate {cand} out of range 0..{len(workflows) - 1}")
    return workflows[cand], int(proposal.get("repeats", [0] * len(workflows))[cand])


def warm_start_policy(workflow: str, score_paths: list[str | Path]) -> str | None:
    """``policy.pt`` of the trained workflow nearest to ``workflow`` in Kendall distance.

    Candidates are the ``score.json`` files given (their ``policy.pt`` sits beside
    them); ties go to the higher score, then the earlier round/candidate. None when the
    list is empty.
    """
    obs = read_scores(score_paths)
    if obs.empty:
        return None
    obs["dist"] = [kendall_distance(workflow, workflow_from_index(i)) for i in obs["index"]]
    obs["neg_score"] = -obs["score"].fillna(-np.inf)
    best = obs.sort_values(["dist", "neg_score", "round", "cand"]).iloc[0]
    return str(Path(best["path"]).with_name("policy.pt"))
