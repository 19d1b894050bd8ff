"""Was a worker that vanished without a word killed by the kernel's out-of-memory killer?

The OOM killer sends SIGKILL: the worker cannot say anything, and its memory guard sees
nothing when the limit is a cgroup's (a container's) rather than the machine's. The kernel
counts each such kill in the memory cgroup (`oom_kill` in cgroup v2's memory.events, or in
v1's memory.oom_control). A worker notes its cgroup and that count when it starts
(`note_start`); whoever later finds it gone (`RunStore.reconcile`) compares. The launcher
that spawned it, when still alive, also notes in worker.log how it exited (`procs`), so a
worker that ended any other way is not taken for killed. Anything unreadable (no cgroup
files, another OS) means "not known", and the run is interrupted as before.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from pathlib import Path

RECORD = ".worker-memory.json"  # in the run folder: the worker's cgroup and its count
CGROUP_ROOT = Path("/sys/fs/cgroup")
# `[worker PID] exited: killed by SIGKILL` / `exited: status 1`, written by the launcher.
_EXIT = re.compile(r"^\[worker (\d+)\] exited: (?:killed by (SIG\w+)|status (-?\d+))$")

# Where the count comes from: (cgroup folder) -> kills so far, or None when unreadable.
Counter = Callable[[str], "int | None"]


def cgroup_of(pid: int | str = "self", root: Path = CGROUP_ROOT) -> Path | None:
    """The folder of `pid`'s memory cgroup (v2, else v1), or None when there is none."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        number, controllers, path = [*line.split(":", 2), "", ""][:3]
        if number == "0" and controllers == "":
            candidates = (root / path.lstrip("/"), root)
        elif "memory" in controllers.split(","):
            candidates = (root / "memory" / path.lstrip("/"), root / "memory")
        else:
            continue
        # Inside a container the namespace's root is its own cgroup, whatever the path says.
        for folder in candidates:
            if (folder / "memory.events").is_file() or (folder / "memory.oom_control").is_file():
                return folder
    return None


def oom_kills(cgroup: str) -> int | None:
    """The kernel's count of OOM kills in `cgroup` and below it, or None if unreadable."""
    for name in ("memory.events", "memory.oom_control"):
        try:
            text = (Path(cgroup) / name).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
    return None


def note_start(
    run_dir: Path, pid: int, counter: Counter = oom_kills, cgroup: Path | None = None
) -> None:
    """Record worker `pid`'s memory cgroup (its own unless given) and the cgroup's OOM kill
    count so far, best effort."""
    cgroup = cgroup or cgroup_of(pid)
    count = counter(str(cgroup)) if cgroup is not None else None
    with contextlib.suppress(OSError):
        (run_dir / RECORD).write_text(
            json.dumps({"pid": pid, "cgroup": str(cgroup) if cgroup else None, "oom_kill": count})
        )


def exit_line(pid: int, returncode: int) -> str:
    """How a child exited, as the launcher writes it to the child's log."""
    if returncode < 0:
        with contextlib.suppress(ValueError):
            import signal

            return f"[worker {pid}] exited: killed by {signal.Signals(-returncode).name}"
    return f"[worker {pid}] exited: status {returncode}"


def exit_signal(lines: list[str], pid: int) -> str | None:
    """'SIGKILL' (or another signal's name) if the log says `pid` was killed by a signal,
    '' if it says it exited with a status, None if it does not say."""
    for line in reversed(lines):
        match = _EXIT.match(line.strip())
        if match and int(match.group(1)) == pid:
            return match.group(2) or ""
    return None


def killed_by_oom(run_dir: Path, pid: int, lines: list[str], counter: Counter = oom_kills) -> bool:
    """True when worker `pid` (gone) was, by all that can be read, OOM-killed: its cgroup's
    OOM kill count rose since it started, and its log does not say it ended otherwise."""
    try:
        record = json.loads((run_dir / RECORD).read_text())
        before, cgroup = int(record["oom_kill"]), str(record["cgroup"])
        if int(record["pid"]) != pid or record["cgroup"] is None:
            return False
    except (OSError, ValueError, TypeError, KeyError):
        return False
    if exit_signal(lines, pid) not in (None, "SIGKILL"):
        return False
    try:
        now = counter(cgroup)
    except Exception:  # an injected or future source that fails: not known
        return False
    return now is not None and now > before
