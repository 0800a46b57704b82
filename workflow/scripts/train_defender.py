"""Snakemake glue: one phase of one seed's defender run (wrl.run.train.train_candidate)."""
from pathlib import Path

from glue import log_to
from wrl.run.train import train_candidate

if __name__ == "__main__":  # the env pool's spawned workers re-import this file
    sm = snakemake  # noqa: F821
    log_to(sm.log[0])
    init = sm.input.init if "init" in sm.input.keys() else None
    print(f"defender seed {sm.wildcards.seed}, phase {sm.wildcards.phase}: starting from {init or 'scratch'}")
    train_candidate(dict(sm.params.train), sm.params.workflow, Path(sm.output.score).parent, init,
                    threads=sm.threads)
