"""Shared by the rule scripts: send a job's output, its child processes' included, to its log."""
import os
import sys


def log_to(path: str) -> None:
    """Redirect stdout and stderr (file descriptors 1 and 2) to ``path``, line-buffered."""
    log = open(path, "w", buffering=1)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
