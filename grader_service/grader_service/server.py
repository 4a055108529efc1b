"""``dl-grader serve``: the HTTP API in several processes plus one grading process.

Python runs one thread at a time per process, so a deadline burst needs more than one
process to use more than one core. ``serve`` is a small supervisor:

* it prepares the storage once (:mod:`.prepare`: the database schema, the signing
  key), then starts two children:
  ``dl-grader http`` (gunicorn, ``processes`` ``gthread`` workers of ``threads`` threads)
  and ``dl-grader work`` (the grading worker threads);
* an HTTP worker that accepts a submission sends a datagram to the grading process's
  wake-up socket, so grading starts at once instead of at the next poll;
* metrics are shared through prometheus_client's multiprocess mode, so ``/metrics`` on
  any HTTP worker reports the whole service;
* if either child exits, the other is stopped and ``serve`` exits non-zero, so the
  container's restart policy brings the service back (the leased queue keeps every
  job); SIGTERM/SIGINT stop both children cleanly.

``dl-grader http`` and ``dl-grader work`` also run on their own, e.g. to scale HTTP and
grading separately on Kubernetes (then grading is started by its poll).
"""

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

log = logging.getLogger(__name__)

METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
WAKEUP_VARIABLE = "GRADER_WAKEUP_SOCKET"
WORK_NICENESS = 5


def run_http(host, port, processes, threads):
    """``dl-grader http``: gunicorn with the Flask app built in each worker process."""
    from gunicorn.app.base import BaseApplication

    class GraderHTTP(BaseApplication):
        def load_config(self):
            settings = {
                "bind": f"{host}:{port}", "workers": processes, "threads": threads,
                "worker_class": "gthread", "backlog": 2048, "worker_connections": 1000,
                "timeout": 60, "graceful_timeout": 20, "accesslog": None,
                "control_socket_disable": True, "child_exit": _mark_process_dead,
            }
            for key, value in settings.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self):  # runs in each worker process, after the fork
            from . import logs, wakeup
            from .app import create_app

            app = create_app(grading=False)  # queued jobs reach the grading process
            logs.configure(app.config["LOG_FORMAT"])
            if os.environ.get(WAKEUP_VARIABLE):
                wakeup.init_app(app, wakeup.WakeupSender(os.environ[WAKEUP_VARIABLE]))
            return app

    GraderHTTP().run()
    return 0


def _mark_process_dead(_arbiter, worker):
    if os.environ.get(METRICS_DIR_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def run_grading():
    """``dl-grader work``: the grading worker threads until SIGTERM."""
    from . import logs
    from .app import create_app
    from .wakeup import listen_for_wakeups
    from .worker import get_workers

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    os.nice(WORK_NICENESS)  # the HTTP processes come first when both want the CPU
    app = create_app()
    logs.configure(app.config["LOG_FORMAT"])
    workers = get_workers(app)
    if os.environ.get(WAKEUP_VARIABLE):
        listen_for_wakeups(os.environ[WAKEUP_VARIABLE], workers.notify)
    workers.start()
    log.info("grading process started", extra={"workers": workers.count, "pid": os.getpid()})
    try:
        for thread in workers.threads:
            thread.join()
    finally:
        workers.stop(timeout=5)
    return 0


def serve(host="0.0.0.0", port=5000, processes=2, threads=8):
    """Prepare once, run ``http`` and ``work`` as children, stop both if one stops."""
    from . import logs
    from .config import from_env
    from .prepare import prepare

    config = from_env()
    logs.configure(config["LOG_FORMAT"])
    log.info("storage prepared", extra=prepare(config))  # schema and signing key, once
    runtime = tempfile.mkdtemp(prefix="dl-grader-")
    env = dict(os.environ)
    env.setdefault(METRICS_DIR_VARIABLE, os.path.join(runtime, "metrics"))
    env[WAKEUP_VARIABLE] = os.path.join(runtime, "wakeup.sock")
    os.makedirs(env[METRICS_DIR_VARIABLE], exist_ok=True)
    for name in os.listdir(env[METRICS_DIR_VARIABLE]):  # a previous run's values
        os.unlink(os.path.join(env[METRICS_DIR_VARIABLE], name))
    command = [sys.executable, "-m", "grader_service.cli"]
    children = [subprocess.Popen(command + ["http", "--host", host, "--port", str(port),
                                            "--processes", str(processes),
                                            "--threads", str(threads)], env=env)]
    if config["WORKERS"] > 0:  # GRADER_WORKERS=0: an HTTP-only replica
        children.append(subprocess.Popen(command + ["work"], env=env))
    stopping = threading.Event()

    def stop(*_):
        stopping.set()
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        pid, status = os.wait()  # the first child to exit
        if not stopping.is_set():
            name = "HTTP server" if pid == children[0].pid else "grading process"
            log.error("%s exited (status %s); stopping the service", name, status)
        stop()
        for child in children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    return 0 if stopping.is_set() and status == 0 else 1
