"""Atomic file output: write under a temporary name beside the target, then rename.

A killed job therefore never leaves a file that looks complete under its final name;
it may leave its temporary (``.{stem}.tmp{pid}{suffix}``), which
``clean_stale_temporaries`` removes when the next job starts writing into the directory.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Callable

#: the name ``atomic_write`` gives a temporary: ``.{stem}.tmp{pid}{suffix}``
_TEMPORARY = re.compile(r"\..*\.tmp\d+(\.[^.]*)?")


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


def clean_stale_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporaries that killed ``atomic_write`` calls left in ``directory``.

    Call it when a job starts writing into a directory whose outputs it alone produces
    (a trainer's out dir and its log parts, the GP search dir, the report and eval dirs):
    any temporary there belongs to a dead writer. Not recursive; a missing directory is
    fine. Returns the deleted paths.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    stale = [p for p in directory.iterdir() if _TEMPORARY.fullmatch(p.name) and p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


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
