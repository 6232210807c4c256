"""One writer per run folder: an advisory lock held for the life of a run.

The lock is `fcntl.flock` on `<run>/.lock`, which the kernel releases when its holder
dies, so a crashed run needs no cleanup: a lock file nobody holds is stale and is
simply taken. The file records who holds it (pid, host, since) for the refusal message.
"""

import datetime as dt
import fcntl
import json
import os
import socket
from pathlib import Path

from engine.errors import RunError

LOCK_NAME = ".lock"


class RunLock:
    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "RunLock":
        """Take the lock or raise RunError naming its holder. Writes nothing when refused."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(os.read(fd, 4096))
            os.close(fd)
            raise RunError(f"{self.path.parent} is in use by another run ({holder}); "
                           "wait for it to finish, or stop it first") from None
        os.ftruncate(fd, 0)
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": dt.datetime.now().astimezone().isoformat(timespec="seconds")}
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _describe(raw: bytes) -> str:
    try:
        info = json.loads(raw.decode())
        return f"pid {info['pid']} on {info['host']} since {info['since']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown: it is just starting"
