"""The ``wrl`` command: one subcommand per module, each with ``add_arguments`` and ``run``.

A subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int``; bad
values raise ``UsageError`` (or ValueError), printed as one line, exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from wrl.errors import UsageError

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("wrl.run.command", "train one workflow candidate (PPO on the env pool)"),
    "evaluate": ("wrl.eval.evaluate", "evaluate a policy or baseline on numba or the real CybORG"),
    "compose": ("wrl.eval.compose", "one agent from several runs' specialists, each head from the run that plays it best on held-out numba episodes"),
    "fidelity": ("wrl.eval.fidelity", "compare the numba simulator with CybORG"),
    "bench": ("wrl.bench", "benchmarks: sim | pool | train | learn | search, ratios to a baseline measured in the same run"),
}


def build_parser() -> argparse.ArgumentParser:
    """The full ``wrl`` parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog="wrl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``wrl`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (UsageError, FileNotFoundError) as err:
        print(f"wrl {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wrl {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
