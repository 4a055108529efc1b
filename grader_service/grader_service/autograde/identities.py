"""Two identities in one sandbox: the checker (this process) and the student.

The sandbox container starts as root with only ``CAP_SETUID``, ``CAP_SETGID`` and
``CAP_KILL`` (see :mod:`grader_service.sandbox_protocol`). Before it reads any input,
:func:`become_checker` switches this process to the checker uid, keeping exactly
those three capabilities (effective, so ``subprocess`` can start children as the
student, and ``kill`` can stop them) and none inheritable or ambient. Student
processes are started with ``user=``/``group=`` set to the student uid: the uid change
happens in the forked child, and the ``execve`` of Python that follows leaves them
with no capabilities at all (non-root, no file capabilities, empty ambient set).

What that buys: a process of another uid without ``CAP_KILL``/``CAP_SYS_PTRACE`` can
neither signal, ptrace, read ``/proc/<pid>/mem`` nor open ``/proc/<pid>/fd/*`` of the
checker, and the checker's home (mode 0700) is closed to it. Since the uid switch makes
the checker non-dumpable, its ``/proc`` entries belong to root as well.
"""

import contextlib
import ctypes
import ctypes.util
import dataclasses
import os
import signal

from ..sandbox_protocol import FRAMEWORK_GID

# <linux/capability.h> and <linux/prctl.h>
CAP_KILL, CAP_SETGID, CAP_SETUID = 5, 6, 7
KEPT_CAPABILITIES = (CAP_KILL, CAP_SETGID, CAP_SETUID)
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4


#: How many times PID 1 kills everything else before it gives up (each round waits).
REAP_ROUNDS = 20


class IdentityError(RuntimeError):
    """The sandbox cannot separate the student from the checker: grading must not start."""


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise IdentityError(f"{what} failed: {os.strerror(err)}")


def _set_capabilities(libc, caps):
    """Effective = permitted = ``caps``; inheritable empty (this thread/process only)."""
    mask = 0
    for cap in caps:
        mask |= 1 << cap
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)(_CapData(mask, mask, 0), _CapData(0, 0, 0))
    _check(libc.capset(ctypes.byref(header), data), "capset")


def capability_sets(pid="self"):
    """``{"CapEff": int, "CapPrm": int, ...}`` from ``/proc/<pid>/status``."""
    sets = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
                sets[key] = int(value.strip(), 16)
    return sets


@dataclasses.dataclass(frozen=True)
class Identities:
    """The two uids (gid == uid), the student's home directory and the group that
    may read the deep-learning frameworks (both hold it; a lab that blocks frameworks
    starts the student's process without it)."""

    checker_uid: int
    student_uid: int
    student_home: str
    framework_gid: int = FRAMEWORK_GID

    def student(self, reap=None):
        """The ``ChildIdentity`` student processes are started with."""
        from dlcourse.grading.isolation import ChildIdentity

        return ChildIdentity(uid=self.student_uid, gid=self.student_uid,
                             home=self.student_home, reap=reap,
                             groups=(self.framework_gid,))


def become_checker(identities: Identities):
    """Switch this (root) process to the checker uid with only the kept capabilities.

    Raises :class:`IdentityError` when not started as root or when any step fails:
    grading never goes on with the student and the checker under one uid.
    """
    if identities.checker_uid in (0, identities.student_uid) or identities.student_uid == 0:
        raise IdentityError("checker and student need two distinct non-root uids")
    if os.getuid() != 0:
        raise IdentityError(f"the sandbox must start as root to drop to two uids "
                            f"(started as uid {os.getuid()})")
    libc = _libc()
    _check(libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")
    uid = identities.checker_uid
    try:
        os.setgroups([identities.framework_gid])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    except OSError as err:
        raise IdentityError(f"switching to the checker uid failed: {err}") from err
    _set_capabilities(libc, KEPT_CAPABILITIES)
    _check(libc.prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), "prctl(PR_SET_KEEPCAPS, 0)")
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)  # EINVAL on old kernels
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid):
        raise IdentityError("the checker uid did not stick")
    caps = capability_sets()
    kept = sum(1 << c for c in KEPT_CAPABILITIES)
    if caps["CapEff"] & ~kept or caps["CapPrm"] & ~kept or caps["CapInh"] or caps.get("CapAmb"):
        raise IdentityError(f"unexpected capabilities left: {caps}")


def reap_strays():
    """Kill every process but this one, when this process is the sandbox's PID 1.

    Student code may leave daemons behind (``setsid``, double fork); PID 1 with
    ``CAP_KILL`` stops them all with ``kill(-1, SIGKILL)`` and reaps the zombies.
    Anywhere else (a developer's machine) this does nothing.
    """
    if os.getpid() != 1:
        return
    for _ in range(REAP_ROUNDS):  # a fork bomb may fork while the first round runs
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, 0)[0]:  # every child dies of SIGKILL: this ends
                pass
        if not _other_processes():
            return


def _other_processes():
    """Pids in this pid namespace other than our own."""
    return [name for name in os.listdir("/proc") if name.isdigit() and int(name) != os.getpid()]
