"""The seccomp profile of the grading sandbox: Docker's default without process inspection.

Where it comes from. ``seccomp-docker-20.10.json`` (package data, beside this module) is
Docker 20.10's default profile, verbatim: ``profiles/seccomp/default.json`` of moby
v20.10.24, the profile compiled into the Docker engine that Debian 12 ships.
:func:`derive_profile` turns it into ``seccomp-sandbox.json``, the file the runners
load, in three steps anyone can re-run (``python -m grader_service.runners.seccomp
--check``):

1. **Resolve** Docker's conditions for the sandbox: its capabilities
   (:data:`~grader_service.sandbox_protocol.SANDBOX_CAPABILITIES`, so every rule that
   needs ``CAP_SYS_ADMIN``, ``CAP_SYS_PTRACE`` ... drops out, as dockerd would drop it),
   the 64-bit hosts we run on (:data:`ARCHES`: amd64 and arm64 with their 32-bit
   sub-architectures, Docker's ``archMap`` for them) and kernels from
   :data:`MIN_KERNEL` on. The result is plain OCI runtime-spec JSON (``architectures``,
   ``syscalls`` with ``names``/``action``/``errnoRet``/``args``): dockerd accepts it
   (``security_opt=["seccomp=<json>"]``), and so do containerd and CRI-O for a
   Kubernetes ``Localhost`` profile. That matters: containerd reads a Localhost file
   as runtime-spec JSON and silently ignores Docker's ``includes``/``excludes``, so
   Docker's own file installed on a node would *allow* every capability-gated call
   (``unshare``, ``mount``, namespaced ``clone`` ...) unconditionally.
2. **Deny** :data:`DENIED_SYSCALLS`: each name is removed from every allow rule, so
   the default action (``SCMP_ACT_ERRNO``, i.e. ``EPERM``) answers it, whatever
   capabilities a container might carry.
3. **Refuse** ``socket(AF_VSOCK, ...)`` (:data:`REFUSED_SOCKET_FAMILIES`), as newer
   Docker releases do: a sandbox without a network must not talk to its hypervisor.

What stays allowed on purpose: everything else Docker allows, in particular what the
checker needs to run the student's code under another uid (``setuid``/``setgid``/
``setresuid``/``setresgid``/``setgroups``, ``capset``/``capget``, ``prctl``, ``kill``)
and what Python needs to start and stop children (``clone`` without namespace flags,
``vfork``, ``execve``, ``wait4``, ``pidfd_open``/``pidfd_send_signal``: Python 3.12's
asyncio watches children with pidfds; a pidfd only reaches processes the caller may
signal anyway). ``personality`` keeps Docker's five allowed values (no
``ADDR_NO_RANDOMIZE``); ``clone3`` keeps Docker's ``ENOSYS`` so glibc falls back to
``clone``.

The seccomp profile is a second wall. The first is the uid split: a student process
(uid 1000, no capabilities) cannot ptrace or read the memory of the checker (uid 1001)
whatever the profile says; the profile also stops student processes from tracing each
other (they can still open each other's ``/proc/<pid>/mem``: same uid, and all of them
are the student's anyway) and shrinks the kernel surface they can reach.
"""

import argparse
import copy
import functools
import hashlib
import json
import sys
from importlib import resources

from ..sandbox_protocol import SANDBOX_CAPABILITIES

#: Docker 20.10's default profile, verbatim (moby v20.10.24 profiles/seccomp/default.json).
UPSTREAM_FILE = "seccomp-docker-20.10.json"
#: The sandbox profile, derived from the upstream file by :func:`derive_profile`.
PROFILE_FILE = "seccomp-sandbox.json"

#: Syscalls the sandbox refuses with EPERM, and why a grading sandbox never needs them.
DENIED = {
    "ptrace": "attach to, read and write another process (Docker allows it on kernels "
              ">= 4.8 for processes of the same uid)",
    "process_vm_readv": "read another process's memory",
    "process_vm_writev": "write another process's memory",
    "kcmp": "compare kernel objects (files, memory maps) of two processes",
    "pidfd_getfd": "copy a file descriptor out of another process",
    "process_madvise": "advise the kernel about another process's memory",
    "process_mrelease": "reap the memory of another (dying) process",
    "move_pages": "move another process's memory pages between NUMA nodes",
    "migrate_pages": "move all of another process's pages between NUMA nodes",
    "perf_event_open": "performance counters: timing side channels, a long CVE record",
    "bpf": "load eBPF programs and maps into the kernel",
    "userfaultfd": "pause the kernel at a page fault: the classic race window of kernel "
                   "exploits",
    "io_uring_setup": "io_uring performs I/O that seccomp never sees, and is a large, "
                      "often patched kernel surface",
    "io_uring_enter": "see io_uring_setup",
    "io_uring_register": "see io_uring_setup",
    "keyctl": "the kernel keyring is not namespaced",
    "add_key": "the kernel keyring is not namespaced",
    "request_key": "the kernel keyring is not namespaced",
}
#: The names of :data:`DENIED`, in order.
DENIED_SYSCALLS = tuple(DENIED)
#: ``socket()`` address families the sandbox refuses (first argument), and why.
REFUSED_SOCKET_FAMILIES = {40: "AF_VSOCK: sockets to the hypervisor, outside any "
                               "network namespace"}

#: Host architectures the profile is resolved for: Docker's ``archMap`` entries.
ARCHES = {
    "amd64": ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "arm64": ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
}
#: Oldest kernel (major, minor) the profile is resolved for (Debian 11, Kubernetes 1.30 nodes).
MIN_KERNEL = (5, 4)
ALLOW = "SCMP_ACT_ALLOW"


def _package_text(name):
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


@functools.cache
def _profile_text():
    return json.dumps(json.loads(_package_text(PROFILE_FILE)), separators=(",", ":"))


def sandbox_profile_json() -> str:
    """The sandbox profile as compact JSON text (for ``security_opt=["seccomp=..."]``)."""
    return _profile_text()


def sandbox_profile() -> dict:
    """The sandbox profile as a dict (a fresh copy)."""
    return json.loads(_profile_text())


def profile_digest() -> str:
    """``sha256:<hex>`` of :func:`sandbox_profile_json`: a short name for records and logs."""
    return "sha256:" + hashlib.sha256(_profile_text().encode()).hexdigest()


def upstream_profile() -> dict:
    """Docker 20.10's default profile as shipped in the package."""
    return json.loads(_package_text(UPSTREAM_FILE))


def _kernel(version):
    major, minor = version.split(".")
    return int(major), int(minor)


def _applies(rule, caps, arches):
    """Docker's ``includes``/``excludes`` (profiles/seccomp/seccomp_linux.go) for the sandbox.

    ``arches`` are Docker's native names (``amd64``, ``arm64``); a rule limited to some
    of them stays, since its names exist only there (runc skips unknown names).
    """
    include, exclude = rule.get("includes") or {}, rule.get("excludes") or {}
    if set(exclude.get("arches") or ()) & arches:
        raise ValueError(f"rule {rule['names']} is excluded on {sorted(arches)}: "
                         "resolve the profile per architecture")
    if set(exclude.get("caps") or ()) & caps:
        return False
    if exclude.get("minKernel"):
        raise ValueError(f"rule {rule['names']} has excludes.minKernel: not supported")
    if include.get("arches") and not set(include["arches"]) & arches:
        return False
    if not set(include.get("caps") or ()) <= caps:
        return False
    if include.get("minKernel") and _kernel(include["minKernel"]) > MIN_KERNEL:
        raise ValueError(f"rule {rule['names']} needs kernel {include['minKernel']}, newer "
                         f"than MIN_KERNEL {MIN_KERNEL}")
    return True


def derive_profile(upstream, capabilities=SANDBOX_CAPABILITIES, arches=tuple(ARCHES)):
    """The sandbox profile from Docker's default ``upstream`` (see the module docstring)."""
    caps = {f"CAP_{c}" for c in capabilities}
    arches = set(arches)
    rules = []
    for rule in upstream["syscalls"]:
        if not _applies(rule, caps, arches):
            continue
        names = list(rule["names"])
        if rule["action"] == ALLOW:
            names = [n for n in names if n not in DENIED]
        restricted_socket = rule["action"] == ALLOW and "socket" in names and not rule.get(
            "args")
        if restricted_socket:
            names.remove("socket")
        if names:
            rules.append(_plain_rule(rule, names))
        if restricted_socket:
            rules.append({"names": ["socket"], "action": ALLOW,
                          "args": [{"index": 0, "value": family, "op": "SCMP_CMP_NE"}
                                   for family in REFUSED_SOCKET_FAMILIES],
                          "comment": "dlcourse: no " + ", ".join(
                              why.split(":")[0] for why in REFUSED_SOCKET_FAMILIES.values())})
    return {
        "defaultAction": upstream["defaultAction"],
        "architectures": [a for name in sorted(arches) for a in ARCHES[name]],
        "syscalls": rules,
    }


def _plain_rule(rule, names):
    """One runtime-spec syscall rule (no Docker-only fields but the comment)."""
    plain = {"names": names, "action": rule["action"]}
    if rule.get("errnoRet") is not None:
        plain["errnoRet"] = rule["errnoRet"]
    if rule.get("args"):
        plain["args"] = copy.deepcopy(rule["args"])
    if rule.get("comment"):
        plain["comment"] = rule["comment"]
    return plain


def render(profile) -> str:
    """The package file's layout: indented JSON, one syscall name per line, final newline."""
    return json.dumps(profile, indent=1) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m grader_service.runners.seccomp",
        description="Print the grading sandbox's seccomp profile (install it on Kubernetes "
                    "nodes as a Localhost profile), or check the package file against the "
                    "derivation from Docker's default.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--compact", action="store_true", help="one line, as sent to Docker")
    group.add_argument("--check", action="store_true",
                       help="exit 1 unless the package file equals the derivation")
    group.add_argument("--derive", action="store_true",
                       help="print the derivation from Docker's default (to regenerate "
                            f"{PROFILE_FILE})")
    args = parser.parse_args(argv)
    if args.check:
        derived = render(derive_profile(upstream_profile()))
        if derived != _package_text(PROFILE_FILE):
            print(f"{PROFILE_FILE} differs from the derivation: regenerate it with --derive",
                  file=sys.stderr)
            return 1
        print(f"{PROFILE_FILE} is Docker 20.10's default derived for the sandbox "
              f"({profile_digest()})")
        return 0
    if args.derive:
        sys.stdout.write(render(derive_profile(upstream_profile())))
    elif args.compact:
        print(sandbox_profile_json())
    else:
        sys.stdout.write(_package_text(PROFILE_FILE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
