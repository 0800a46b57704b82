"""Snakemake glue: train the plain-PPO baseline (wrl.run.train.train_candidate, unconditioned)."""
from pathlib import Path

from glue import log_to
from wrl.run.train import train_candidate
from wrl.workflow import ALL_WORKFLOWS, format_workflow

if __name__ == "__main__":  # the env pool's spawned workers re-import this file
    sm = snakemake  # noqa: F821
    log_to(sm.log[0])
    # The workflow only labels the logs' compliance: the policy never sees it (lam = 0).
    train_candidate(dict(sm.params.train), format_workflow(ALL_WORKFLOWS[0]),
                    Path(sm.output.score).parent, threads=sm.threads)
