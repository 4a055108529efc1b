"""The sandbox's seccomp profile (grader_service/runners/seccomp.py).

Static checks of the package file: Docker's JSON format, derived from Docker 20.10's
default by the documented steps only, every call of DENIED_SYSCALLS refused, and
everything Python, NumPy, child processes and the checker's uid switch need still
allowed. Then for real (``docker`` marker, fails instead of skipping when CI=true):
``python3 -c`` in ``dlcourse/base:bookworm`` started the way the sandbox starts (root,
only SETUID/SETGID/KILL, no-new-privileges, the profile sent as JSON text through the
API), where ptrace(PTRACE_ATTACH) and process_vm_readv fail with EPERM while ordinary
work, and the checker's switch to two uids, succeed.
"""

import hashlib
import json
import os
import platform
import tomllib
from fnmatch import fnmatch
from importlib import resources

import pytest

from grader_service.runners import seccomp
from grader_service.sandbox_protocol import CHECKER_UID, SANDBOX_CAPABILITIES, STUDENT_UID
from tests.conftest import REPO, require_image

#: sha256 of moby v20.10.24 profiles/seccomp/default.json (Debian 12's docker.io
#: 20.10.24+dfsg1 ships the same file in golang-github-docker-docker-dev).
UPSTREAM_SHA256 = "e5e91f884647e7332b3f89280777752f563df4f1372a186f14ddb7bf2f55cf61"
ACTIONS = {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
           "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_TRACE", "SCMP_ACT_LOG"}
OPS = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
       "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"}
#: clone() flags Docker refuses without CAP_SYS_ADMIN: every CLONE_NEW* namespace.
CLONE_NAMESPACE_FLAGS = 0x7E020000

#: What the sandbox's own processes need, unconditionally allowed.
NEEDED = {
    "python": """read write openat close fstat newfstatat statx lseek mmap mprotect munmap
                 brk rt_sigaction rt_sigprocmask rt_sigreturn ioctl pread64 getdents64
                 getcwd readlink getrandom futex set_tid_address set_robust_list rseq
                 prlimit64 exit exit_group sysinfo uname fcntl dup dup2 dup3 pipe2 poll
                 select epoll_create1 epoll_ctl epoll_wait getpid gettid getuid geteuid
                 getgid getegid unlink rename mkdir rmdir chmod umask access faccessat2
                 clock_gettime clock_nanosleep nanosleep socketpair connect sendto recvfrom
                 eventfd2 memfd_create""",
    "numpy": "sched_getaffinity sched_yield madvise mremap mlock munlock membarrier",
    "child processes": """vfork fork execve wait4 waitid close_range setsid setpgid chdir
                          pidfd_open pidfd_send_signal""",
    "checker": """setuid setgid setresuid setresgid setgroups setreuid setregid capget
                  capset prctl kill tgkill tkill""",
}
#: Refused without CAP_SYS_ADMIN (and friends) by Docker already; the sandbox never has them.
GATED = """mount umount2 unshare setns pivot_root chroot open_by_handle_at name_to_handle_at
           init_module finit_module delete_module reboot syslog acct swapon swapoff
           sethostname setdomainname lookup_dcookie fanotify_init quotactl iopl ioperm
           settimeofday clock_settime kexec_load mbind set_mempolicy vhangup fsopen
           fsmount move_mount open_tree"""


def rules(profile=None):
    return (profile or seccomp.sandbox_profile())["syscalls"]


def allowed_unconditionally(profile=None):
    return {name for rule in rules(profile) if rule["action"] == "SCMP_ACT_ALLOW"
            and not rule.get("args") for name in rule["names"]}


def allow_rules(name, profile=None):
    return [rule for rule in rules(profile)
            if rule["action"] == "SCMP_ACT_ALLOW" and name in rule["names"]]


# --- the file and its format -----------------------------------------------------------


def test_profile_is_compact_json_of_the_package_file():
    text = seccomp.sandbox_profile_json()
    assert text == json.dumps(json.loads(text), separators=(",", ":"))  # one compact line
    package = resources.files("grader_service.runners").joinpath(seccomp.PROFILE_FILE)
    assert json.loads(text) == json.loads(package.read_text()) == seccomp.sandbox_profile()
    assert seccomp.profile_digest() == "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    assert len(text) < 16 * 1024  # sent with every container create


def test_profile_is_in_dockers_format_and_the_runtime_specs():
    """Plain runtime-spec JSON (what containerd reads from a Localhost file), which is
    also Docker's format: no Docker-only includes/excludes left to be ignored."""
    profile = seccomp.sandbox_profile()
    assert set(profile) == {"defaultAction", "architectures", "syscalls"}
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                                        "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    for rule in profile["syscalls"]:
        assert set(rule) <= {"names", "action", "errnoRet", "args", "comment"}, rule
        assert rule["names"] and all(isinstance(n, str) and n for n in rule["names"])
        assert rule["action"] in ACTIONS
        assert isinstance(rule.get("errnoRet", 0), int)
        for arg in rule.get("args", []):
            assert set(arg) <= {"index", "value", "valueTwo", "op"}
            assert 0 <= arg["index"] <= 5 and arg["op"] in OPS
            assert isinstance(arg["value"], int) and arg["value"] >= 0


def test_upstream_file_is_docker_20_10s_default_verbatim():
    raw = resources.files("grader_service.runners").joinpath(seccomp.UPSTREAM_FILE).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == UPSTREAM_SHA256


def test_package_file_is_the_derivation_from_dockers_default():
    assert seccomp.main(["--check"]) == 0
    derived = seccomp.render(seccomp.derive_profile(seccomp.upstream_profile()))
    package = resources.files("grader_service.runners").joinpath(seccomp.PROFILE_FILE)
    assert derived == package.read_text()


def test_only_the_documented_changes_to_dockers_default():
    """Docker's own resolution on amd64 and on arm64 for a container with the sandbox's
    capabilities, written out independently: the profile allows exactly what either
    allows (a name of the other architecture is unknown there and skipped by runc),
    minus DENIED_SYSCALLS, with socket() limited by its first argument."""
    caps = {f"CAP_{c}" for c in SANDBOX_CAPABILITIES}
    docker = set()
    for arch in ("amd64", "arm64"):
        for rule in seccomp.upstream_profile()["syscalls"]:
            include, exclude = rule.get("includes") or {}, rule.get("excludes") or {}
            if rule["action"] != "SCMP_ACT_ALLOW" or rule.get("args"):
                continue
            if include.get("arches") and arch not in include["arches"]:
                continue
            if arch in (exclude.get("arches") or ()):
                continue
            if not set(include.get("caps") or ()) <= caps or set(exclude.get("caps") or ()) & caps:
                continue
            docker |= set(rule["names"])
    ours = allowed_unconditionally()
    assert ours <= docker
    assert docker - ours == (set(seccomp.DENIED_SYSCALLS) & docker) | {"socket"}
    assert "ptrace" in docker  # Docker 20.10 allows it on every kernel from 4.8
    (socket,) = allow_rules("socket")
    assert socket["args"] == [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]  # AF_VSOCK
    assert set(seccomp.REFUSED_SOCKET_FAMILIES) == {40}


def test_the_wheel_ships_both_profile_files():
    pyproject = tomllib.loads((REPO / "grader_service" / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"].get("grader_service.runners", [])
    for name in (seccomp.PROFILE_FILE, seccomp.UPSTREAM_FILE):
        assert any(fnmatch(name, p) for p in patterns), f"{name} is not package data"


# --- what it refuses and what it keeps ------------------------------------------------------


def test_every_denied_call_is_refused():
    profile = seccomp.sandbox_profile()
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and "defaultErrnoRet" not in profile
    for name in seccomp.DENIED_SYSCALLS:
        assert allow_rules(name) == [], f"{name} is allowed"
        assert seccomp.DENIED[name], f"{name}: no reason given"
    assert {"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
            "perf_event_open", "bpf", "userfaultfd", "keyctl", "add_key",
            "request_key"} <= set(seccomp.DENIED_SYSCALLS)


def test_denied_calls_stay_refused_whatever_the_capabilities():
    """Even a container given CAP_SYS_PTRACE / CAP_SYS_ADMIN would not get them back."""
    every_cap = ["SYS_PTRACE", "SYS_ADMIN", "PERFMON", "BPF", *SANDBOX_CAPABILITIES]
    generous = seccomp.derive_profile(seccomp.upstream_profile(), capabilities=every_cap)
    for name in seccomp.DENIED_SYSCALLS:
        assert allow_rules(name, generous) == [], name


@pytest.mark.parametrize("need", sorted(NEEDED))
def test_what_the_sandbox_needs_is_allowed(need):
    missing = set(NEEDED[need].split()) - allowed_unconditionally()
    assert not missing, f"{need} needs {sorted(missing)}"


def test_clone_only_without_namespaces_and_clone3_falls_back():
    (clone,) = allow_rules("clone")
    assert clone["args"] == [{"index": 0, "value": CLONE_NAMESPACE_FLAGS,
                              "op": "SCMP_CMP_MASKED_EQ"}]
    (clone3,) = [r for r in rules() if "clone3" in r["names"]]
    assert clone3["action"] == "SCMP_ACT_ERRNO" and clone3["errnoRet"] == 38  # ENOSYS


def test_personality_keeps_dockers_values_only():
    values = set()
    for rule in allow_rules("personality"):
        ((arg),) = rule["args"]
        assert arg["index"] == 0 and arg["op"] == "SCMP_CMP_EQ"
        values.add(arg["value"])
    # PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, query: no ADDR_NO_RANDOMIZE
    assert values == {0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF}


def test_calls_that_need_capabilities_the_sandbox_lacks_stay_refused():
    for name in GATED.split():
        assert allow_rules(name) == [], f"{name} is allowed"


def test_command_line_prints_the_profile(capsys):
    assert seccomp.main([]) == 0
    assert json.loads(capsys.readouterr().out) == seccomp.sandbox_profile()
    assert seccomp.main(["--compact"]) == 0
    assert capsys.readouterr().out == seccomp.sandbox_profile_json() + "\n"


# --- for real, in a container ----------------------------------------------------------------

#: x86_64 numbers of the denied calls, called with arguments the kernel itself would
#: refuse with anything but EPERM (EBADF, EINVAL, ESRCH, EFAULT): EPERM is seccomp's answer.
X86_64 = {"ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
          "pidfd_getfd": 438, "process_madvise": 440, "process_mrelease": 448,
          "move_pages": 279, "migrate_pages": 256, "perf_event_open": 298, "bpf": 321,
          "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
          "io_uring_register": 427, "keyctl": 250, "add_key": 248, "request_key": 249}

PROBE = r"""
import ctypes, errno, json, os, signal, socket, subprocess, sys, threading, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
out = {}

def err(result):
    return "ok" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno())

# ordinary work: a thread, a child process, files, a socket pair
thread = threading.Thread(target=lambda: out.setdefault("thread", "ok"))
thread.start(); thread.join()
out["child"] = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True,
                              text=True).stdout.strip()
with open("/tmp/scratch", "w") as fh:
    fh.write("x")
a, b = socket.socketpair(); a.sendall(b"hi"); out["socketpair"] = b.recv(2).decode()
try:
    socket.socket(40, socket.SOCK_STREAM).close(); out["vsock"] = "ok"
except OSError as e:
    out["vsock"] = errno.errorcode[e.errno]

# another process of the same uid: attach to it, read memory
sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
time.sleep(0.3)
out["ptrace_attach"] = err(libc.ptrace(ctypes.c_long(16), ctypes.c_long(sleeper.pid), None, None))
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
secret, copy = ctypes.create_string_buffer(b"secret!", 8), ctypes.create_string_buffer(8)
local, remote = iovec(ctypes.addressof(copy), 8), iovec(ctypes.addressof(secret), 8)
libc.process_vm_readv.restype = ctypes.c_ssize_t
out["process_vm_readv"] = err(libc.process_vm_readv(
    os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
try:
    os.close(os.pidfd_open(sleeper.pid)); out["pidfd_open"] = "ok"
except OSError as e:
    out["pidfd_open"] = errno.errorcode[e.errno]
os.kill(sleeper.pid, signal.SIGKILL); sleeper.wait()

# the checker's switch: keep SETUID/SETGID/KILL as CHECKER, start STUDENT, stop it
class Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]
r, w = os.pipe()
if os.fork() == 0:
    res = {"keepcaps": err(libc.prctl(8, 1, 0, 0, 0))}
    os.setgroups([]); os.setresgid(CHECKER, CHECKER, CHECKER)
    os.setresuid(CHECKER, CHECKER, CHECKER)
    mask = (1 << 5) | (1 << 6) | (1 << 7)
    res["capset"] = err(libc.capset(ctypes.byref(Header(0x20080522, 0)),
                                    (Data * 2)(Data(mask, mask, 0), Data(0, 0, 0))))
    student = subprocess.Popen(
        [sys.executable, "-c", "import os, time; print(os.getuid(), flush=True); time.sleep(60)"],
        user=STUDENT, group=STUDENT, extra_groups=[], stdout=subprocess.PIPE)
    res["student_uid"] = int(student.stdout.readline())
    os.kill(student.pid, signal.SIGKILL); res["student_exit"] = student.wait()
    os.write(w, json.dumps(res).encode()); os._exit(0)
os.close(w); os.wait()
out["identities"] = json.loads(os.read(r, 4096))

out["raw"] = {name: err(libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in
                                                          (-1, -1, -1, 0, 0)]))
              for name, nr in NUMBERS.items()}
try:
    out["ptrace_scope"] = int(open("/proc/sys/kernel/yama/ptrace_scope").read())
except OSError:
    out["ptrace_scope"] = None
print(json.dumps(out))
"""


def probe(client, image, security_opt):
    """Run PROBE the way the sandbox starts: root with three capabilities, no network."""
    numbers = X86_64 if platform.machine() == "x86_64" else {}
    script = (f"CHECKER, STUDENT, NUMBERS = {CHECKER_UID}, {STUDENT_UID}, {numbers!r}\n"
              + PROBE)
    out = client.containers.run(
        image, ["python3", "-c", script], user="0:0", network_mode="none", read_only=True,
        tmpfs={"/tmp": "rw,nosuid,nodev,size=16m"}, cap_drop=["ALL"],
        cap_add=list(SANDBOX_CAPABILITIES), security_opt=["no-new-privileges", *security_opt],
        remove=True)
    return json.loads(out)


@pytest.fixture(scope="module")
def base_image(docker_client):
    image = os.environ.get("BASE_IMAGE", "dlcourse/base:bookworm")
    require_image(docker_client, image)
    return image


@pytest.mark.docker
def test_in_a_container_ptrace_fails_and_ordinary_work_succeeds(docker_client, base_image):
    out = probe(docker_client, base_image, [f"seccomp={seccomp.sandbox_profile_json()}"])
    assert out["ptrace_attach"] == "EPERM"
    assert out["process_vm_readv"] == "EPERM"
    assert out["vsock"] == "EPERM"
    assert out["thread"] == "ok" and out["child"] == "42" and out["socketpair"] == "hi"
    assert out["pidfd_open"] == "ok"
    assert out["identities"] == {"keepcaps": "ok", "capset": "ok", "student_uid": STUDENT_UID,
                                 "student_exit": -9}
    if platform.machine() == "x86_64":
        assert out["raw"] == dict.fromkeys(seccomp.DENIED_SYSCALLS, "EPERM")


@pytest.mark.docker
def test_without_the_profile_the_same_container_may_ptrace(docker_client, base_image):
    """The control: Docker's default profile lets a process attach to another of its uid
    (unless Yama forbids it), so the EPERM above is the profile's doing."""
    out = probe(docker_client, base_image, [])
    assert out["identities"]["student_uid"] == STUDENT_UID
    if out["ptrace_scope"] is None or out["ptrace_scope"] <= 1:
        assert out["ptrace_attach"] == "ok"
    if platform.machine() == "x86_64":
        assert out["raw"]["io_uring_setup"] != "EPERM"  # EFAULT: the kernel saw the call
