"""Which ``orch`` a file we write should run: git hooks, MCP client configs, npm scripts.

Editors and git start these without the user's shell, so without the virtualenv it has on PATH.
The hooks always run the absolute path of the ``orch`` that installed them (they are local to
the clone); the committed configs and scripts say plain ``orch`` when that finds the running
one on PATH, and its absolute path when it does not.
"""

from __future__ import annotations

import os
import shutil
import sys


def running_orch() -> str:
    """The absolute path of the ``orch`` that is running (the one beside this Python first)."""
    found = shutil.which("orch", path=os.path.dirname(sys.executable))
    return os.path.abspath(found or shutil.which("orch") or "orch")


def orch_command() -> str:
    """``orch`` when PATH finds the running one, else the running one's absolute path."""
    on_path = shutil.which("orch")
    mine = running_orch()
    if on_path and os.path.realpath(on_path) == os.path.realpath(mine):
        return "orch"
    return mine
