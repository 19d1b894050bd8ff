"""Process identity through psutil: a PID counts as the worker only with its creation time.

psutil reads the creation time on Linux, macOS and Windows alike; the platform cases CI
cannot run (a zombie, a process of another user, a PID that was reused) are faked here.
"""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from studio.runs import procs


class _FakeProcess:
    def __init__(self, created: float, status: str = psutil.STATUS_RUNNING, error=None):
        self._created, self._status, self._error = created, status, error

    def status(self):
        if self._error:
            raise self._error
        return self._status

    def create_time(self):
        return self._created


def _fake(monkeypatch, process):
    monkeypatch.setattr(procs.psutil, "Process", lambda pid: process)


def test_this_process_is_alive_under_its_own_start_time():
    start = procs.process_start_time(os.getpid())
    assert start is not None and procs.is_alive(os.getpid(), start)


def test_an_ended_process_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = procs.process_start_time(child.pid)
    child.wait()
    assert procs.process_start_time(child.pid) is None
    assert not procs.is_alive(child.pid, start)


def test_a_reused_pid_has_another_creation_time(monkeypatch):
    _fake(monkeypatch, _FakeProcess(created=2000.5))
    assert not procs.is_alive(4242, repr(1000.25))
    assert procs.is_alive(4242, repr(2000.5))


@pytest.mark.parametrize("state", [psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD])
def test_a_zombie_is_not_a_live_worker(monkeypatch, state):
    _fake(monkeypatch, _FakeProcess(created=10.0, status=state))
    assert procs.process_start_time(4242) is None and not procs.is_alive(4242, repr(10.0))


@pytest.mark.parametrize(
    "error", [psutil.NoSuchProcess(4242), psutil.AccessDenied(4242), psutil.ZombieProcess(4242)]
)
def test_processes_psutil_cannot_read_are_not_alive(monkeypatch, error):
    _fake(monkeypatch, _FakeProcess(created=10.0, error=error))
    assert not procs.is_alive(4242, repr(10.0))


def test_a_start_tick_of_a_former_release_compares_the_pid_alone(monkeypatch):
    # Releases before psutil stored /proc's start ticks (digits only).
    _fake(monkeypatch, _FakeProcess(created=10.0))
    assert procs.is_alive(4242, "123456")
    _fake(monkeypatch, _FakeProcess(created=10.0, error=psutil.NoSuchProcess(4242)))
    assert not procs.is_alive(4242, "123456")


def test_no_pid_is_never_alive():
    assert not procs.is_alive(None, None) and not procs.is_alive(0, "1.0")
