"""A throwaway PostgreSQL cluster from Debian's packages, for running tests on both backends.

The cluster lives in a temporary directory on a free port, runs as the ``postgres``
user when we are root (PostgreSQL refuses to run as root), trusts local connections
and runs with ``fsync=off``: it is disposable, only the service is killed in the tests.
"""

import glob
import os
import shutil
import subprocess
import tempfile
import uuid

from service_process import free_port

APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def find_bindir(install=True):
    """The newest ``/usr/lib/postgresql/<v>/bin``; ``apt-get install postgresql`` if absent."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found and install and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], env=APT_ENV,
                       check=False, timeout=900, capture_output=True)
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


class PostgresCluster:
    """``initdb`` + ``pg_ctl start`` in a temp dir; ``create_database()`` per test."""

    def __init__(self, bindir):
        self.bindir = bindir
        self.root = tempfile.mkdtemp(prefix="grader-pg-")
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    def _run(self, *args, timeout=120):
        command = [os.path.join(self.bindir, args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, timeout=timeout,
                              cwd=self.root)

    def start(self, durable=False):
        """Start the cluster; ``durable`` keeps PostgreSQL's fsync on (for benchmarks)."""
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        data = os.path.join(self.root, "data")
        self._run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=200")
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", data, "-l", os.path.join(self.root, "log"), "-o", options,
                  "-w", "start")
        return self

    def url(self, database="postgres"):
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self):
        """A new empty database; return its SQLAlchemy URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self):
        try:
            self._run("pg_ctl", "-D", os.path.join(self.root, "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
