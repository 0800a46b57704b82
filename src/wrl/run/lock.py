"""One process at a time in a run's directory: an exclusive ``flock`` on ``DIR/.lock``."""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from wrl.errors import UsageError

LOCK_NAME = ".lock"  #: held by the process writing into a run's directory


@contextmanager
def directory_lock(out: Path):
    """Hold ``out/.lock`` (an exclusive ``flock`` holding this process's id) while the
    block runs; a second ``wrl train`` into ``out`` fails at once naming the holder. The
    kernel drops the lock when its process dies, so a killed run never blocks the resume;
    the file is removed when the block ends."""
    path = out / LOCK_NAME
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise UsageError(f"field out: {out} is in use by process {holder} (another wrl train writes "
                         "there); fix: wait for it to finish or pass another directory") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        handle.close()
