"""Files written whole: a reader sees the old file or the new one, never half of either
(the model file, the ONNX export)."""
from __future__ import annotations

import os
import re
import stat
import tempfile
import time


def write_whole(path, data):
    """Write `data` (text, as UTF-8, or bytes) to path via a temp file in the same directory: the
    old file stays intact until the new one is complete on disk; the temp file is removed on any
    failure. A process killed mid-write (kill -9, power loss) cannot remove its own: the next
    write of `path` does. The file keeps the permissions of the one it replaces."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    started = time.time()
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=_temp_prefix(path) + f"{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable; not possible everywhere
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    _remove_orphans(path, started)


def _temp_prefix(path):
    return "." + os.path.basename(path) + "."


def _remove_orphans(path, started):
    """Remove the temp files earlier saves of `path` left behind when killed: exactly our name
    (.<name>.<pid>.<8 random characters>.tmp), a regular file of ours, last written before this save
    started, by a process that no longer runs. Anything else stays: another program's file, a
    save in progress. POSIX only (os.kill(pid, 0) only asks there)."""
    if os.name != "posix":
        return
    directory = os.path.dirname(os.path.abspath(path))
    ours = re.compile(re.escape(_temp_prefix(path)) + r"(\d+)\.[a-z0-9_]{8}\.tmp")
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        m = ours.fullmatch(entry.name)
        if not m or _running(int(m.group(1))):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and st.st_mtime < started:
                os.unlink(entry.path)
        except OSError:  # gone already, or not ours to remove
            pass


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # another user's process, or no such pid on this system
        return True
    return True
