"""Errors a user can fix: each message names the field, flag or path and the fix.

``UsageError`` (a bad command-line or config value, a path that cannot be used) is caught
by ``wrl.cli`` and printed as one line with exit status 2. Every layer raises it; it
imports nothing of wrl, so it sits below them all.
"""
from __future__ import annotations


class UsageError(ValueError):
    """A bad command-line or config value; the message names the field and the fix."""
