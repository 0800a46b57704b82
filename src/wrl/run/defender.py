"""The defender's recipe as pipeline steps (``snakemake defender``; docs/training.md,
"The defender").

The config's ``defender`` section names a workflow, training seeds and phases. Every seed
trains the phases in turn, each phase a ``wrl train`` run from the previous phase's
policy with the train section of that phase's config file (its ``envs``, ``env_steps``
and ``seed`` set by the recipe); ``wrl compose`` then takes each head of the agent from
the seed that plays it best, and ``wrl evaluate`` runs the CAGE2 protocol on the result.
"""
from __future__ import annotations

from pathlib import Path

from wrl.errors import UsageError
from wrl.run.config import ConfigError, load_config, validate_train_config
from wrl.workflow import parse_workflow

#: results/ layout of the recipe (relative to the Snakemake working directory)
PHASE_DIR = "results/defender/seed_{seed}/phase_{phase}"
COMPOSED_DIR = "results/defender"


def phase_config_path(defender: dict, phase: int, base: str | Path) -> Path:
    """The config file of ``phase`` (0-based); a relative path is read from ``base`` (the
    repository, where the Snakefile lies)."""
    path = Path(defender["phases"][phase]["config"])
    return path if path.is_absolute() else Path(base) / path


def phase_train_config(defender: dict, phase: int, seed: int, base: str | Path) -> dict:
    """The train section that ``phase`` (0-based) of ``seed``'s run trains with: its config
    file's, with the recipe's ``envs``, the phase's ``env_steps`` and ``seed``.

    Raises ConfigError naming ``defender.phases.<phase>.config`` when the file is missing
    or its train section is invalid.
    """
    field = f"defender.phases.{phase}.config"
    path = phase_config_path(defender, phase, base)
    if not path.is_file():
        raise ConfigError(f"config field {field}: {path} not found; fix: give an existing config "
                          "file (relative paths are read from the repository)")
    try:
        train = load_config(path)["train"]
        train.update(envs=defender["envs"], env_steps=defender["phases"][phase]["env_steps"], seed=seed)
        return validate_train_config(train)
    except UsageError as err:  # ConfigError, or a train field that needs another
        raise ConfigError(f"config field {field}: {path}: {err}") from None


def check_defender(defender: dict, base: str | Path) -> None:
    """Check the workflow and every phase's train config (``phase_train_config``) before
    any job runs; raises ConfigError naming the field."""
    try:
        parse_workflow(defender["workflow"])
    except ValueError as err:
        raise ConfigError(f"config field defender.workflow: {err}") from None
    for phase in range(len(defender["phases"])):
        phase_train_config(defender, phase, defender["seeds"][0], base)


def last_phase_policies(defender: dict) -> list[str]:
    """policy.pt of every seed's last phase, in ``seeds`` order: what ``wrl compose`` reads."""
    last = len(defender["phases"]) - 1
    return [f"{PHASE_DIR.format(seed=seed, phase=last)}/policy.pt" for seed in defender["seeds"]]
