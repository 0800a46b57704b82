"""Snakemake glue: train the base policy across all 120 workflows (wrl.run.train.train_candidate, 'all')."""
from pathlib import Path

from glue import log_to
from wrl.run.train import ALL, train_candidate

if __name__ == "__main__":  # the env pool's spawned workers re-import this file
    sm = snakemake  # noqa: F821
    log_to(sm.log[0])
    train_candidate(dict(sm.params.train), ALL, Path(sm.output.score).parent, threads=sm.threads)
