"""Load and validate ``config.yaml`` against ``workflow/schemas/config.schema.yaml``.

The schema (JSON schema, draft 2020-12) gives every field a type, range and default,
and forbids unknown keys. ``load_config`` fills the defaults and raises one
``ConfigError`` naming the first bad field and how to fix it; ``validate_train_config``
also checks what the schema cannot say of a ``train`` section (fields that need each other).
"""
from __future__ import annotations

import copy
import math
from pathlib import Path

import jsonschema
import yaml
from jsonschema.exceptions import best_match

from wrl.env.red import parse_red
from wrl.errors import UsageError

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(UsageError):
    """A bad config value; the message names the field (dotted path) and the fix."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    """The config JSON schema as a dict."""
    return yaml.safe_load(Path(path).read_text())


def _filling_validator(schema: dict) -> jsonschema.protocols.Validator:
    """A Draft 2020-12 validator that also sets every missing property's default."""
    base = jsonschema.Draft202012Validator
    check_properties = base.VALIDATORS["properties"]

    def properties(validator, props, instance, sub):
        if isinstance(instance, dict):
            for name, prop in props.items():
                if "default" in prop and name not in instance:
                    instance[name] = copy.deepcopy(prop["default"])
        yield from check_properties(validator, props, instance, sub)

    filling = jsonschema.validators.extend(base, {"properties": properties})
    return filling(schema)


_FIX = {
    "enum": lambda v: "one of " + ", ".join(map(str, v)),
    "type": lambda v: f"a value of type {v}",
    "minimum": lambda v: f"a number >= {v}",
    "maximum": lambda v: f"a number <= {v}",
    "exclusiveMinimum": lambda v: f"a number > {v}",
    "exclusiveMaximum": lambda v: f"a number < {v}",
    "minItems": lambda v: f"a list of at least {v} items",
    "maxItems": lambda v: f"a list of at most {v} items",
    "uniqueItems": lambda v: "a list without repeats",
    "required": lambda v: f"a mapping with the keys {', '.join(v)}",
    "pattern": lambda v: f"a string matching {v}",
}


def _describe(err: jsonschema.ValidationError) -> str:
    """One line naming the bad field (dotted path) and the fix."""
    path = [str(p) for p in err.absolute_path]
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        unknown = sorted(set(err.instance) - set(allowed))[0]
        field = ".".join([*path, unknown])
        return f"config field {field}: unknown key; fix: use one of {', '.join(allowed)}"
    field = ".".join(path) or "(top level)"
    fix = _FIX.get(err.validator, lambda v: f"a value satisfying {err.validator}={v}")
    return f"config field {field}: {err.message}; fix: set it to {fix(err.validator_value)}"


_SCALAR_TYPES = {"integer", "number", "boolean", "null"}


def coerce_strings(config: dict, schema: dict) -> None:
    """Turn string values of non-string scalar fields into the value they spell, in place.

    ``snakemake --config 'search={"rounds": 4}'`` hands nested values over as strings
    ('4'); a string is read as YAML and kept when its value has a type the field allows
    (so '4' -> 4, 'true'/'True' -> True, 'null'/'None' -> None; 'yes' stays a string), else
    left for validation to name.
    """
    props = schema.get("properties", {})
    for name, value in config.items():
        prop = props.get(name)
        if prop is None:
            continue
        allowed = prop.get("type", [])
        allowed = {allowed} if isinstance(allowed, str) else set(allowed)
        if isinstance(value, dict):
            coerce_strings(value, prop)
        elif isinstance(value, str) and allowed and allowed <= _SCALAR_TYPES:
            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError:
                continue
            kind = {bool: "boolean", int: "integer", float: "number", type(None): "null"}.get(type(parsed))
            spelled = {"boolean": ("true", "false"), "null": ("null", "none")}.get(kind)
            if spelled is not None and value.strip().lower() not in spelled:
                continue  # 'yes', 'on', '~': not what a user of --config means by a bool or null
            if kind in allowed or (kind == "integer" and "number" in allowed):
                config[name] = parsed


def _non_finite(value, path: str = "") -> str | None:
    """Dotted path of the first NaN or infinite number in ``value``, else None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, sub in items:
        found = _non_finite(sub, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Validate ``config`` in place, fill defaults, check cross-field rules; return it.

    String values of number/integer/boolean fields are first read as what they spell
    (``coerce_strings``: Snakemake's ``--config`` passes nested values as strings); every
    number must be finite. Raises ConfigError naming the first bad field and the fix.
    """
    schema = load_schema() if schema is None else schema
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ConfigError("config: the file must hold a mapping of sections (search, train, ...)")
    coerce_strings(config, schema)
    bad = _non_finite(config)
    if bad is not None:
        raise ConfigError(f"config field {bad}: {_value_at(config, bad)!r} is not a finite number; "
                          "fix: set it to a finite number")
    err = best_match(_filling_validator(schema).iter_errors(config))
    if err is not None:
        raise ConfigError(_describe(err))
    search = config["search"]
    runs = search["rounds"] * search["batch"]
    if search["method"] == "gp_ucb" and not search["allow_repeats"] and runs > 120:
        raise ConfigError(
            f"config field search.rounds: {search['rounds']} rounds x {search['batch']} "
            "candidates exceed the 120 workflows; fix: lower search.rounds or search.batch, "
            "or set search.allow_repeats: true"
        )
    if search["method"] == "position" and runs > search["max_repeats"] * 120:
        raise ConfigError(
            f"config field search.rounds: {search['rounds']} rounds x {search['batch']} candidates exceed "
            f"search.max_repeats ({search['max_repeats']}) runs of each of the 120 workflows; fix: lower "
            "search.rounds or search.batch, or raise search.max_repeats"
        )
    train = config["train"]
    try:
        parse_red(train["red"])
    except ValueError as err:
        raise ConfigError(f"config field train.red: {err}") from None
    if train["episodes"] is None and train["env_steps"] is None:
        raise ConfigError(
            "config field train.episodes: no budget (episodes and env_steps both null); "
            "fix: set train.episodes or train.env_steps"
        )
    return config


def _value_at(config: dict, dotted: str):
    value = config
    for key in dotted.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def candidate_env_steps(config: dict) -> int:
    """Env steps of one candidate's whole training: its own budget plus the base policy's
    when ``base.enabled`` (a budget in episodes counts ``max_steps`` steps each)."""
    train = config["train"]
    own = train["env_steps"] if train["env_steps"] is not None else train["episodes"] * train["max_steps"]
    return own + (config["base"]["env_steps"] if config["base"]["enabled"] else 0)


def default_train_config() -> dict:
    """The ``train`` section with every default of ``workflow/schemas/config.schema.yaml``."""
    return validate_config({})["train"]


def validate_train_config(train_cfg: dict) -> dict:
    """A (partial) ``train`` section checked against the config schema, defaults filled.

    Also checks what the schema cannot (rollout size vs minibatches, CUDA present).
    Raises ``UsageError`` (``wrl.run.config.ConfigError``) naming the field and the fix.
    """
    cfg = validate_config({"train": copy.deepcopy(dict(train_cfg))})["train"]
    if cfg["minibatches"] > cfg["envs"] * cfg["update_steps"]:
        raise UsageError(f"config field train.minibatches: {cfg['minibatches']} exceeds the rollout size "
                         f"envs x update_steps = {cfg['envs'] * cfg['update_steps']}; fix: lower it")
    for field in ("mask_decoys", "specialists"):
        if cfg[field] and cfg["memory"] != "bookkeeping":
            raise UsageError(f"config field train.{field}: needs the agent's decoy record and red guess; "
                             f"fix: set train.memory to bookkeeping (it is {cfg['memory']!r}) or {field} to false")
    if cfg["next_decoy"] and not cfg["mask_decoys"]:
        raise UsageError("config field train.next_decoy: it narrows the decoy mask; "
                         "fix: set train.mask_decoys to true or next_decoy to false")
    if cfg["device"] == "cuda":
        import torch  # only here: the search commands read configs without torch

        if not torch.cuda.is_available():
            raise UsageError("config field train.device: cuda is not available here; fix: use auto or cpu")
    return cfg


def load_config(path: str | Path) -> dict:
    """Read a YAML config file, validate it and return it with every default filled."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config: file {path} not found; fix: pass an existing config.yaml")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"config: {path} is not valid YAML ({err}); fix the syntax") from None
    return validate_config(data)


def load_search_section(path: str | Path | None = None) -> dict:
    """The ``search`` section of the config at ``path`` (validated, defaults filled).

    ``path`` None: ``config.yaml`` in the working directory if present, else the defaults.
    """
    if path is None and not Path("config.yaml").exists():
        return validate_config({})["search"]
    return load_config(path or "config.yaml")["search"]
