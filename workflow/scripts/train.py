"""Snakemake glue: train one candidate (wrl.run.train.train_candidate), fine-tuned from the base policy."""
from pathlib import Path

from glue import log_to
from wrl.search.rounds import load_proposal, warm_start_policy
from wrl.run.train import train_candidate

if __name__ == "__main__":  # the env pool's spawned workers re-import this file
    sm = snakemake  # noqa: F821
    log_to(sm.log[0])
    workflow, repeat = load_proposal(sm.input.proposals, sm.params.cand)
    warm = warm_start_policy(workflow, list(sm.input.warm_scores)) if sm.params.warm_start else None
    init = warm or getattr(sm.input, "base", None)  # the nearest trained candidate, else the base policy
    train = dict(sm.params.train)
    train["seed"] += repeat  # a re-evaluated workflow trains at a new seed: a fresh draw of its score
    print(f"candidate {sm.params.cand}: workflow {workflow} (seed {train['seed']}), "
          f"starting from {init or 'scratch'}")
    train_candidate(train, workflow, Path(sm.output.score).parent, init_policy=init, threads=sm.threads)
