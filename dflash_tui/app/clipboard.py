"""Copy text so it lands in the user's clipboard, locally and over SSH.

OSC 52 (through Textual) reaches the clipboard of the terminal the user sits
at, even over SSH; when the session is local, the platform's clipboard tool is
used as well because some terminals (macOS Terminal) ignore OSC 52.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

LOCAL_TOOLS = (("pbcopy",), ("wl-copy",), ("xclip", "-selection", "clipboard"), ("xsel", "--clipboard", "--input"))


def is_remote_session() -> bool:
    return bool(os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY"))


def copy_with_local_tool(text: str) -> str | None:
    """Copy with the first clipboard tool found; return its name, or None when none worked."""
    if is_remote_session():
        return None
    for command in LOCAL_TOOLS:
        if sys.platform != "darwin" and command[0] == "pbcopy":
            continue
        if shutil.which(command[0]) is None:
            continue
        try:
            subprocess.run(command, input=text.encode(), timeout=2, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            continue
        return command[0]
    return None
