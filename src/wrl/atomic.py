"""Atomic file output: write under a temporary name beside the target, then rename.

A killed job therefore never leaves a file that looks complete under its final name.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Callable


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temp path beside ``path`` (same suffix), then rename.

    Creates the parent directory. The temp file is removed if ``write`` fails.
    Returns ``path`` as a Path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _nan_to_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    return value


def write_json(path: str | os.PathLike, data) -> Path:
    """Write ``data`` as indented JSON atomically; NaN and inf become null."""
    text = json.dumps(_nan_to_none(data), indent=2, sort_keys=False) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))
