"""Snakemake glue: the search's proposals of one round (wrl.search.rounds.propose_round)."""
from pathlib import Path

from glue import log_to
from wrl.search.rounds import propose_round

if __name__ == "__main__":
    sm = snakemake  # noqa: F821
    log_to(sm.log[0])
    propose_round(
        sm.params.round,
        list(sm.input.scores),
        sm.params.search,
        sm.output.proposals,
        Path(sm.output.posterior).parent,
    )
