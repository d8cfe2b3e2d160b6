"""Errors a user can act on.

A `UserError` carries one line: what is wrong, the value given, what is allowed.
The CLI prints it and exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input from the user (config, data, command line, an API argument). Printed as one line.
    A ValueError, so Python callers of the API catch it as the bad value it is."""

    exit_code = 2

    def __init__(self, message: str):
        # Keep it one line whatever the caller passed: the CLI contract is one clear line.
        super().__init__(" ".join(str(message).split()))
