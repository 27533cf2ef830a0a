"""A real PostgreSQL server for tests and `make chaos`, installed by the project itself.

The server binaries come from the `pgserver` wheel (dev extra, so `make install` brings them).
Each `PostgresServer` is a fresh cluster in its own temporary directory, listening only on a
free loopback port, with password authentication, started and stopped by its owner. PostgreSQL
refuses to run as root, so as root the cluster belongs to the unprivileged `nobody` user; when
`nobody` cannot reach the wheel (a checkout in a private directory, mode 0700), the binaries are
copied once to a directory it can read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

USER = "leadscore"


def binaries() -> Path:
    """The wheel's `pginstall/bin` (found without importing pgserver, which has side effects)."""
    import importlib.util

    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pgserver is not installed: run `make install` (dev extra)")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def reachable_by_others(path: Path) -> bool:
    """Whether a user outside the owner and group can reach `path` (every parent searchable)."""
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.resolve().parents)


def binaries_for_nobody() -> Path:
    """The binaries where `nobody` can run them: the wheel's, or a copy made once per install.

    The copy keeps the wheel's layout (`pgserver/pginstall` beside `pgserver.libs`), which the
    binaries' RPATH (`$ORIGIN/../../../pgserver.libs`) expects.
    """
    bin_dir = binaries()
    if reachable_by_others(bin_dir):
        return bin_dir
    site = bin_dir.parents[2]
    key = hashlib.sha256(str(site).encode()).hexdigest()[:12]
    copy = Path(tempfile.gettempdir()) / f"leadscore-pgserver-{key}"
    if not (copy / "pgserver" / "pginstall" / "bin" / "postgres").exists():
        staging = Path(tempfile.mkdtemp(prefix="leadscore-pgserver-"))
        try:
            os.chmod(staging, 0o755)
            shutil.copytree(bin_dir.parent, staging / "pgserver" / "pginstall", symlinks=True)
            shutil.copytree(site / "pgserver.libs", staging / "pgserver.libs", symlinks=True)
            with contextlib.suppress(OSError):  # another process made the copy first
                staging.rename(copy)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return copy / "pgserver" / "pginstall" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """`start()`, `url(database)`, `create_database(name)`, `stop()`; `start()` again reuses
    the cluster (a database outage and its recovery)."""

    def __init__(self, password: str = "pg-Test-Passw0rd", fsync: bool = False) -> None:
        self.password = password
        self.fsync = fsync  # tests run without; `make chaos` with (as production does)
        self.root = Path(tempfile.mkdtemp(prefix="leadscore-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._as_user: dict = {}
        self.bin = binaries()
        if os.geteuid() == 0:  # postgres will not run as root
            import pwd

            nobody = pwd.getpwnam("nobody")
            os.chown(self.root, nobody.pw_uid, nobody.pw_gid)
            self.bin = binaries_for_nobody()
            self._as_user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        self._initdb()

    def _run(self, *args: str) -> None:
        done = subprocess.run(args, capture_output=True, text=True, **self._as_user)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    def _initdb(self) -> None:
        password_file = self.root / "password"
        password_file.write_text(self.password + "\n")
        if self._as_user:
            os.chown(password_file, self._as_user["user"], self._as_user["group"])
        self._run(
            str(self.bin / "initdb"),
            "-D", str(self.data), "-U", USER, f"--pwfile={password_file}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C",
            "--no-sync",
        )  # fmt: skip
        password_file.unlink()

    def start(self, timeout: float = 30.0) -> PostgresServer:
        log = (self.root / "postgres.log").open("a")
        self.process = subprocess.Popen(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"fsync={'on' if self.fsync else 'off'}",
                "-c",
                "max_connections=100",
                "-c",
                "shared_buffers=32MB",
            ],  # fmt: skip
            stdout=log,
            stderr=subprocess.STDOUT,
            **self._as_user,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited:\n{(self.root / 'postgres.log').read_text()}")
            if self.ready():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"postgres not ready after {timeout} s")

    def ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def dsn(self, database: str) -> str:
        """A libpq URI (its password percent-encoded: libpq does not take `/ # ?` raw)."""
        from urllib.parse import quote

        password = quote(self.password, safe="")
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL (psycopg 3 driver), password included."""
        return f"postgresql+psycopg://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def query(self, database: str, sql: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.dsn(database)) as connection:
            return connection.execute(sql).fetchall()

    def processes(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, ...)."""
        if self.process is None or self.process.poll() is not None:
            return []
        found = [self.process.pid]
        for stat_file in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat_file.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # the process ended meanwhile
            if int(fields[1]) == self.process.pid:
                found.append(int(stat_file.parent.name))
        return found

    def freeze(self) -> None:
        """Stop every process of the server (SIGSTOP): connections stay open, nothing answers,
        no server-side timeout fires; what a hung database host looks like to its clients."""
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def stop(self, fast: bool = True) -> None:
        """Stop the server (the cluster stays, so `start()` brings the same data back)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()  # a frozen server would not act on the signal
        self.process.send_signal(2 if fast else 15)  # SIGINT: fast shutdown
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def remove(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)
