"""``wrl train``: its flags, read over the config's train section, and the run."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from wrl.run.config import load_config
from wrl.run.config import default_train_config
from wrl.run.train import train_candidate


def load_train_section(path: str | None) -> dict:
    """The ``train`` section of the config at ``path`` (validated, defaults filled).

    ``path`` None: ``config.yaml`` in the working directory if present, else the defaults.
    """
    if path is None and not Path("config.yaml").exists():
        return default_train_config()
    return load_config(path or "config.yaml")["train"]


#: command-line flag -> train config field (values are parsed as YAML scalars, then schema-checked)
_FLAGS = {"backend": "backend", "red": "red", "green": "green", "envs": "envs", "episodes": "episodes",
          "env_steps": "env_steps", "seed": "seed", "lam": "lam", "device": "device",
          "checkpoint_minutes": "checkpoint_minutes"}


def add_arguments(parser) -> None:
    """Flags of ``wrl train``; values override the config's train section and are checked with it."""
    parser.add_argument("--workflow", required=True,
                        help="e.g. defender,enterprise,op_server,op_host,user; 'all': a base policy "
                             "(each env draws a workflow per episode)")
    parser.add_argument("--out", required=True, help="output directory (resumes if it holds a checkpoint)")
    parser.add_argument("--config", help="config file (default: config.yaml if present, else built-in defaults)")
    parser.add_argument("--backend", help="numba | cyborg")
    parser.add_argument("--red", help="b_line | meander | sleep")
    parser.add_argument("--green", help="sleep | random")
    parser.add_argument("--envs", help="number of parallel envs")
    parser.add_argument("--episodes", help="budget: finished episodes over all envs (clears env_steps)")
    parser.add_argument("--env-steps", dest="env_steps", help="budget: env steps over all envs")
    parser.add_argument("--seed", help="seed of the policy, the updates and the env pool")
    parser.add_argument("--lam", help="alignment reward weight lambda")
    parser.add_argument("--device", help="auto | cpu | cuda")
    parser.add_argument("--checkpoint-minutes", dest="checkpoint_minutes",
                        help="minutes between checkpoints (fractions allowed; 0: every update)")
    parser.add_argument("--init-policy", dest="init_policy", help="policy.pt whose weights start the run")
    parser.add_argument("--threads", help="CPU threads for torch, numba and the env pool")


def run(args) -> int:
    """``wrl train``: train one candidate and print its score.json."""
    cfg = load_train_section(args.config)
    for flag, field in _FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            cfg[field] = yaml.safe_load(value)  # "8" -> 8, "0.5" -> 0.5; the schema checks types
    if args.episodes is not None and args.env_steps is None:
        cfg["env_steps"] = None
    threads = None if args.threads is None else yaml.safe_load(args.threads)
    result = train_candidate(cfg, args.workflow, args.out, args.init_policy, threads)
    print(json.dumps(result))
    return 0
