"""The `.env` file's own check: warn when other users may read it (it holds the secrets).

Here, beside the settings that read the file, so that reading settings imports nothing above
them (it was in testmode/environment.py, which imports the settings: a cycle).
"""

from __future__ import annotations

import logging
import os
import stat

# Group or others may read (or write) it: the broker keys and database password are inside.
SHARED_BITS = stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH | stat.S_IWOTH

log = logging.getLogger(__name__)
_warned: set[str] = set()


def check_env_file_permissions(path: str | os.PathLike[str]) -> str | None:
    """Warn (once per file and process) when other users may read `.env`; the warning.

    Names the file and the fix, never a value from it. Logged before logging is set up, it
    still reaches stderr (Python's last-resort handler prints warnings).
    """
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
    if not mode & SHARED_BITS:
        return None
    key = os.path.abspath(path)
    message = f"{key} can be read by other users (mode {mode:o}) and holds secrets: chmod 600 {key}"
    if key not in _warned:
        _warned.add(key)
        log.warning(message)
    return message
