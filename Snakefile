# wrl pipeline: R rounds of search proposals x B trained candidates, then the report
# and the evaluation of the best policy. Static DAG fixed by config.yaml; see
# docs/pipeline.md. Logic lives in src/wrl; workflow/scripts/*.py are thin glue.
from pathlib import Path

from snakemake.utils import min_version, validate

from wrl.run.config import candidate_env_steps, load_schema, validate_config
from wrl.run.defender import (
    COMPOSED_DIR,
    PHASE_DIR,
    check_defender,
    last_phase_policies,
    phase_train_config,
)

min_version("9.0")


configfile: "config.yaml"


SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
validate_config(config, load_schema(SCHEMA))  # one clear error naming the field
validate(config, str(SCHEMA))
check_defender(config["defender"], workflow.basedir)

ROUNDS = range(config["search"]["rounds"])
#: env steps of a candidate's whole training (the base's included), the plain-PPO budget
TOTAL_STEPS = candidate_env_steps(config)
CANDS = range(config["search"]["batch"])
RES = config["resources"]
ENV = "envs/wrl.yaml"


#: the report's first page: the answer once the pipeline wrote it, else the description alone
ANSWER = Path("results/report/answer.rst").resolve()


report: str(ANSWER) if ANSWER.exists() else "workflow/report/workflow.rst"


wildcard_constraints:
    round=r"\d+",
    cand=r"\d+",
    seed=r"\d+",
    phase=r"\d+",


def scores_before(round_):
    """score.json of every candidate of the rounds before ``round_``."""
    return expand(
        "results/round_{r}/cand_{i}/score.json", r=range(int(round_)), i=CANDS
    )


BASE = config["base"]["enabled"]


def init_inputs(wildcards):
    """What a candidate starts from: the base policy (when on) and, with warm starts,
    earlier candidates' scores and policies."""
    inputs = {"base": "results/base/policy.pt"} if BASE else {}
    if not config["search"]["warm_start"]:
        return inputs
    return inputs | {
        "warm_scores": scores_before(wildcards.round),
        "warm_policies": expand(
            "results/round_{r}/cand_{i}/policy.pt",
            r=range(int(wildcards.round)),
            i=CANDS,
        ),
    }


rule all:
    default_target: True
    input:
        "results/eval/leaderboard.md",
        "results/report/best_workflows.csv",
        "results/report/answer.rst",


rule propose:
    input:
        scores=lambda wc: scores_before(wc.round),
    output:
        proposals="results/round_{round}/proposals.json",
        posterior="results/search/posterior_round_{round}.parquet",
        observations="results/search/observations_round_{round}.parquet",
    params:
        search=config["search"],
        round=lambda wc: int(wc.round),
    log:
        "results/logs/propose_{round}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV
    script:
        "workflow/scripts/propose.py"


rule train:
    input:
        unpack(init_inputs),
        proposals="results/round_{round}/proposals.json",
    output:
        episodes="results/round_{round}/cand_{cand}/episodes.parquet",
        updates="results/round_{round}/cand_{cand}/updates.parquet",
        policy="results/round_{round}/cand_{cand}/policy.pt",
        score="results/round_{round}/cand_{cand}/score.json",
    params:
        train=config["train"],
        cand=lambda wc: int(wc.cand),
        warm_start=config["search"]["warm_start"],
    log:
        "results/logs/train_{round}_{cand}.log",
    threads: RES["train"]["threads"]
    resources:
        mem_mb=RES["train"]["mem_mb"],
        runtime=RES["train"]["runtime"],
        gpu=RES["train"]["gpus"],
    conda:
        ENV
    script:
        "workflow/scripts/train.py"


rule base:
    """One policy trained across all 120 workflows (each env draws one per episode)."""
    output:
        episodes="results/base/episodes.parquet",
        updates="results/base/updates.parquet",
        policy="results/base/policy.pt",
        score="results/base/score.json",
    params:
        train=config["train"] | {"env_steps": config["base"]["env_steps"]},
    log:
        "results/logs/train_base.log",
    threads: RES["train"]["threads"]
    resources:
        mem_mb=RES["train"]["mem_mb"],
        runtime=RES["train"]["runtime"],
        gpu=RES["train"]["gpus"],
    conda:
        ENV
    script:
        "workflow/scripts/train_base.py"


rule train_plain:
    """The plain-PPO baseline: no workflow input, no alignment reward, and the budget of a
    candidate's whole training (base plus fine-tune)."""
    output:
        episodes="results/plain_ppo/episodes.parquet",
        updates="results/plain_ppo/updates.parquet",
        policy="results/plain_ppo/policy.pt",
        score="results/plain_ppo/score.json",
    params:
        train=config["train"] | {"lam": 0.0, "condition_on_workflow": False, "env_steps": TOTAL_STEPS},
    log:
        "results/logs/train_plain.log",
    threads: RES["train"]["threads"]
    resources:
        mem_mb=RES["train"]["mem_mb"],
        runtime=RES["train"]["runtime"],
        gpu=RES["train"]["gpus"],
    conda:
        ENV
    script:
        "workflow/scripts/train_plain.py"


rule report:
    input:
        scores=expand("results/round_{r}/cand_{i}/score.json", r=ROUNDS, i=CANDS),
        episodes=expand("results/round_{r}/cand_{i}/episodes.parquet", r=ROUNDS, i=CANDS),
        posteriors=expand("results/search/posterior_round_{r}.parquet", r=ROUNDS),
    output:
        curves=report(
            "results/report/learning_curves.png",
            category="Search",
            caption="workflow/report/learning_curves.rst",
        ),
        posterior=report(
            "results/report/posterior.png",
            category="Search",
            caption="workflow/report/posterior.rst",
        ),
        picks=report(
            "results/report/picks.png",
            category="Search",
            caption="workflow/report/picks.rst",
        ),
        compliance=report(
            "results/report/compliance.png",
            category="Search",
            caption="workflow/report/compliance.rst",
        ),
        best=report(
            "results/report/best_workflows.csv",
            category="Search",
            caption="workflow/report/best_workflows.rst",
        ),
        search="results/search/final_posterior.parquet",
        observations="results/search/observations.parquet",
    params:
        search=config["search"],
    log:
        "results/logs/report.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "workflow/scripts/report.py"


rule evaluate:
    input:
        best="results/report/best_workflows.csv",
        policies=expand("results/round_{r}/cand_{i}/policy.pt", r=ROUNDS, i=CANDS),
        plain="results/plain_ppo/policy.pt",
    output:
        episodes="results/eval/evaluation.parquet",
        markdown="results/eval/leaderboard.md",
        table=report(
            "results/eval/leaderboard.csv",
            category="Evaluation",
            caption="workflow/report/leaderboard.rst",
        ),
    params:
        evaluate=config["evaluate"],
    log:
        "results/logs/evaluate.log",
    threads: RES["evaluate"]["threads"]
    resources:
        mem_mb=RES["evaluate"]["mem_mb"],
        runtime=RES["evaluate"]["runtime"],
    conda:
        ENV
    script:
        "workflow/scripts/evaluate.py"


rule answer:
    """The report's first page: the best workflow, how sure the search is, its evaluation."""
    input:
        scores=expand("results/round_{r}/cand_{i}/score.json", r=ROUNDS, i=CANDS),
        leaderboard="results/eval/leaderboard.csv",
        plain="results/plain_ppo/score.json",
    output:
        answer="results/report/answer.rst",
    params:
        search=config["search"],
        template=str(Path(workflow.basedir) / "workflow" / "report" / "workflow.rst"),
        train=config["train"],
        backend=config["evaluate"]["backend"],
    log:
        "results/logs/answer.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV
    script:
        "workflow/scripts/answer.py"


# ---- snakemake defender: the CAGE2 defender's recipe (config section defender) --------

DEFENDER = config["defender"]


def defender_init(wildcards):
    """A phase after the first starts from the same seed's previous phase's policy."""
    phase = int(wildcards.phase)
    if phase == 0:
        return {}
    return {"init": PHASE_DIR.format(seed=wildcards.seed, phase=phase - 1) + "/policy.pt"}


rule defender:
    """The CAGE2 defender: every seed's phases, composed, then the CAGE2 protocol."""
    input:
        f"{COMPOSED_DIR}/policy.pt",
        f"{COMPOSED_DIR}/eval/leaderboard.md",


rule defender_train:
    """One phase of one seed's run (wrl train with the phase's config)."""
    input:
        unpack(defender_init),
    output:
        episodes=PHASE_DIR + "/episodes.parquet",
        updates=PHASE_DIR + "/updates.parquet",
        policy=PHASE_DIR + "/policy.pt",
        score=PHASE_DIR + "/score.json",
    params:
        train=lambda wc: phase_train_config(DEFENDER, int(wc.phase), int(wc.seed), workflow.basedir),
        workflow=DEFENDER["workflow"],
    log:
        "results/logs/defender_seed{seed}_phase{phase}.log",
    threads: RES["defender"]["threads"]
    resources:
        mem_mb=RES["defender"]["mem_mb"],
        runtime=RES["defender"]["runtime"],
    conda:
        ENV
    script:
        "workflow/scripts/train_defender.py"


rule defender_compose:
    """wrl compose: each head from the seed that plays it best on held-out numba episodes."""
    input:
        policies=last_phase_policies(DEFENDER),
    output:
        policy=f"{COMPOSED_DIR}/policy.pt",
        heads=f"{COMPOSED_DIR}/heads.parquet",
    params:
        compose=DEFENDER["compose"],
    log:
        "results/logs/defender_compose.log",
    threads: RES["defender"]["threads"]
    resources:
        mem_mb=RES["defender"]["mem_mb"],
        runtime=RES["defender"]["runtime"],
    conda:
        ENV
    script:
        "workflow/scripts/compose_defender.py"


rule defender_evaluate:
    """The CAGE2 protocol (3 reds x 30/50/100 steps, greedy) on the composed defender."""
    input:
        policy=f"{COMPOSED_DIR}/policy.pt",
    output:
        episodes=f"{COMPOSED_DIR}/eval/evaluation.parquet",
        markdown=f"{COMPOSED_DIR}/eval/leaderboard.md",
    params:
        evaluate=DEFENDER["evaluate"],
    log:
        "results/logs/defender_evaluate.log",
    threads: RES["defender"]["threads"]
    resources:
        mem_mb=RES["defender"]["mem_mb"],
        runtime=RES["defender"]["runtime"],
    conda:
        ENV
    script:
        "workflow/scripts/evaluate_defender.py"
