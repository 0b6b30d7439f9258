"""A throwaway PostgreSQL server for tests and benchmarks: ``initdb`` into a temporary folder, start it on
a free port of 127.0.0.1, hand out database URLs, stop it and delete the folder.

    with ThrowawayCluster() as cluster:
        cluster.create_database("bench")
        os.environ["PGPASSWORD"] = cluster.password
        url = cluster.url("bench")          # postgresql://spreadwatch@127.0.0.1:PORT/bench

The superuser is ``spreadwatch`` with a random password. Connections over TCP must give that password
(``scram-sha-256``): the URLs never carry it, so a client finds it the way a deployed service does, in
``PGPASSWORD`` (or in a keyword argument). Connections over the unix socket, which lives inside the
temporary folder, are trusted.

The server programs come from ``pg_config --bindir`` when that folder has ``initdb`` and ``pg_ctl``, else
from the newest ``/usr/lib/postgresql/*/bin`` (Debian and Ubuntu). ``find_bindir()`` returns ``None`` when
there are none; ``python3 tests/support/pgcluster.py`` prints the folder, or exits 1 (``.ci/run`` uses that).
``initdb`` refuses to run as root: under root the server programs run as the ``postgres`` system user
(through ``runuser``), and the temporary folder belongs to that user.

The server is tuned for speed, not durability (``fsync``, ``synchronous_commit`` and ``full_page_writes``
off): a crash loses data, which for a throwaway server does not matter. Each instance has its own folder
and port, so concurrent test sessions do not collide. An instance that is started and never stopped is
stopped when the interpreter exits (``atexit``).

Only the standard library is imported at module level; psycopg is imported by the methods that connect.
Benchmarks in ``bench/`` put the repository root on ``sys.path`` and ``from tests.support.pgcluster import
ThrowawayCluster``; the test suite imports it as ``pgcluster`` (pytest puts ``tests/`` on the path).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

__all__ = ["ClusterError", "ThrowawayCluster", "find_bindir"]

SUPERUSER = "spreadwatch"
HOST = "127.0.0.1"
SERVICE_USER = "postgres"  # the system user the server runs as when we are root
LOG_TAIL_LINES = 40
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
PORT_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it: try another

# Settings for a server nobody needs to survive a crash. The listening address, port and socket folder are
# set per instance.
SPEED_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}

_REQUIRED = ("initdb", "pg_ctl", "postgres")


class ClusterError(RuntimeError):
    """The server could not be created, started or reached; the message ends with the server log's tail."""


def _has_programs(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) for name in _REQUIRED)


def _version_key(folder: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); 9.6 -> (9, 6)
    return tuple(int(part) for part in re.findall(r"\d+", folder.parent.name)) or (0,)


def find_bindir() -> Path | None:
    """The folder with ``initdb``, ``pg_ctl`` and ``postgres``: ``pg_config --bindir`` if it has them, else
    the newest ``/usr/lib/postgresql/*/bin``; ``None`` when PostgreSQL's server programs are not installed.
    (Debian's ``pg_config`` may name a folder with only the client programs, hence the check.)"""
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            folder = Path(out.stdout.strip())
            if out.stdout.strip() and _has_programs(folder):
                return folder
    candidates = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")]
    for folder in sorted(candidates, key=_version_key, reverse=True):
        if _has_programs(folder):
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _traversable(path: Path, uid: int) -> bool:
    """Whether ``uid`` (not in the folders' groups) may pass through ``path`` and every folder above it."""
    for folder in (path, *path.parents):
        st = folder.stat()
        owner_x = st.st_uid == uid and st.st_mode & stat.S_IXUSR
        if not (owner_x or st.st_mode & stat.S_IXOTH):
            return False
    return True


def _conf_value(value: object) -> str:
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


class ThrowawayCluster:
    """A PostgreSQL server in a temporary folder, on a free port of 127.0.0.1, deleted by ``stop()``.

    Use it as a context manager, or call ``start()`` and ``stop()``. ``settings`` adds or overrides
    ``postgresql.conf`` settings (e.g. ``{"max_connections": 50}``); ``base_dir`` is where the temporary
    folder is made (default: the system's temporary folder). ``port`` is set once the server runs.
    """

    def __init__(
        self,
        *,
        bindir: str | os.PathLike[str] | None = None,
        settings: Mapping[str, object] | None = None,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.bindir: Path | None = Path(bindir) if bindir is not None else None
        self.settings = dict(settings or {})
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.user = SUPERUSER
        self.host = HOST
        self.password = secrets.token_urlsafe(24)
        self.port: int | None = None
        self.folder: Path | None = None  # the temporary folder: data/, server.log and the unix socket
        self._runas: list[str] = []
        self._ids: tuple[int, int] | None = None  # (uid, gid) the server runs as when we are root
        self._owner_pid = os.getpid()
        self._running = False

    # -- paths -------------------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self._folder / "data"

    @property
    def log_path(self) -> Path:
        return self._folder / "server.log"

    @property
    def socket_dir(self) -> Path:
        return self._folder

    @property
    def _folder(self) -> Path:
        if self.folder is None:
            raise ClusterError("the cluster has not been started")
        return self.folder

    # -- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> ThrowawayCluster:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> ThrowawayCluster:
        """``initdb`` a new cluster and start it; raises ``ClusterError`` (with the log's tail) on failure."""
        if self.folder is not None:
            raise ClusterError("a ThrowawayCluster is started once")
        if self.bindir is None:
            self.bindir = find_bindir()
        if self.bindir is None or not _has_programs(self.bindir):
            raise ClusterError(
                "PostgreSQL not available: no initdb, pg_ctl and postgres in `pg_config --bindir` "
                "or /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)"
            )
        self._prepare_user()
        self.folder = Path(tempfile.mkdtemp(prefix="spreadwatch-pg-", dir=self._base()))
        atexit.register(self._stop_at_exit)
        try:
            self._chown(self.folder)
            self._initdb()
            self._start_server()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``; killed if that fails) and delete its folder. Idempotent."""
        folder = self.folder
        if folder is None:
            return
        with contextlib.suppress(Exception):
            atexit.unregister(self._stop_at_exit)
        try:
            if (folder / "data" / "postmaster.pid").exists():
                result = self._run(
                    [
                        self._bin("pg_ctl"),
                        "-D",
                        str(folder / "data"),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        str(STOP_TIMEOUT_S),
                        "stop",
                    ],
                )
                if result.returncode != 0:
                    self._kill_postmaster(folder / "data" / "postmaster.pid")
        finally:
            self._running = False
            self.port = None
            shutil.rmtree(folder, ignore_errors=True)
            self.folder = None

    def halt(self) -> None:
        """Stop the server as a restart does (``pg_ctl stop -m fast``: sessions are ended), keeping its data
        and port; ``resume()`` starts it again. For tests of a server that goes away under a client."""
        result = self._run(
            [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(STOP_TIMEOUT_S), "stop"]
        )
        if result.returncode != 0:
            raise self._fail("PostgreSQL server did not stop", result)
        self._running = False

    def resume(self) -> None:
        """Start a server ``halt()`` stopped, on the same port (its clients reconnect to the same URL)."""
        result = self._run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_path),
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "start",
            ]
        )
        if result.returncode != 0:
            raise self._fail("PostgreSQL server did not start again", result)
        self._running = True

    def _stop_at_exit(self) -> None:
        if os.getpid() == self._owner_pid:  # not in a forked child that inherited the handler
            self.stop()

    @property
    def running(self) -> bool:
        return self._running

    # -- what clients use --------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """``postgresql://spreadwatch@127.0.0.1:PORT/DBNAME``: no password (give it in ``PGPASSWORD``)."""
        if self.port is None:
            raise ClusterError("the cluster is not running")
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> psycopg.Connection[Any]:
        """A psycopg connection over TCP with the password; ``autocommit`` and the like go in ``kwargs``."""
        import psycopg

        if self.port is None:
            raise ClusterError("the cluster is not running")
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname,
            sslmode="disable",
            **kwargs,
        )

    def create_database(self, name: str) -> str:
        """Create database ``name`` (any name: it is quoted); returns its URL."""
        from psycopg import sql

        with self.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, ending the sessions still connected to it."""
        from psycopg import sql

        with self.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def kill_connections(self, dbname: str) -> int:
        """End every session connected to ``dbname`` (``pg_terminate_backend``); returns how many."""
        with self.connect(autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            ).fetchall()
        return sum(1 for (ended,) in rows if ended)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the server's log (empty before there is one)."""
        if self.folder is None:
            return ""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- internals ---------------------------------------------------------------------------------

    def _bin(self, name: str) -> str:
        assert self.bindir is not None
        return str(self.bindir / name)

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        try:
            entry = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            raise ClusterError(
                f"running as root needs the {SERVICE_USER!r} system user (initdb refuses root)"
            ) from None
        runuser = shutil.which("runuser")
        if runuser is None:
            raise ClusterError("running as root needs `runuser` (util-linux) to start the server as postgres")
        self._ids = (entry.pw_uid, entry.pw_gid)
        self._runas = [runuser, "-u", SERVICE_USER, "--"]

    def _base(self) -> str:
        base = self.base_dir or Path(tempfile.gettempdir())
        if self._ids is not None and not _traversable(base.resolve(), self._ids[0]):
            if self.base_dir is not None:
                raise ClusterError(f"{base} (or a folder above it) cannot be entered by the {SERVICE_USER} user")
            base = Path("/tmp")  # the system temporary folder is private (e.g. TMPDIR under /root)
        return str(base)

    def _chown(self, path: Path) -> None:
        if self._ids is not None:
            os.chown(path, *self._ids)

    def _run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        # PG* variables (PGDATA, PGPORT, PGOPTIONS...) of the caller must not steer the server programs
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return subprocess.run(
            [*self._runas, *args],
            cwd=self._folder,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def _fail(self, what: str, result: subprocess.CompletedProcess[str] | None = None) -> ClusterError:
        parts = [what]
        if result is not None:
            output = (result.stdout + result.stderr).strip()
            if output:
                parts.append(f"output (exit {result.returncode}):\n{output}")
        tail = self.log_tail()
        if tail:
            parts.append(f"server log ({self.log_path}), last lines:\n{tail}")
        return ClusterError("\n".join(parts))

    def _initdb(self) -> None:
        pwfile = self._folder / "pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.password + "\n")
        self._chown(pwfile)
        try:
            result = self._run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.user,
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--no-sync",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise self._fail("initdb failed", result)
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as f:
            f.write("\n# spreadwatch throwaway cluster\ninclude 'throwaway.conf'\n")

    def _write_conf(self, port: int) -> None:
        settings: dict[str, object] = {
            "listen_addresses": HOST,
            "port": port,
            "unix_socket_directories": str(self.socket_dir),
            **SPEED_SETTINGS,
            **self.settings,
        }
        path = self.data_dir / "throwaway.conf"
        path.write_text("".join(f"{key} = {_conf_value(value)}\n" for key, value in settings.items()))
        self._chown(path)

    def _start_server(self) -> None:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            port = _free_port()
            self._write_conf(port)
            result = self._run(
                [
                    self._bin("pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_path),
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "start",
                ]
            )
            if result.returncode == 0:
                self.port = port
                self._running = True
                return
            self._kill_postmaster(self.data_dir / "postmaster.pid")
            port_taken = "could not bind" in self.log_tail() or "already in use" in self.log_tail()
            if not (port_taken and attempt < PORT_ATTEMPTS):
                raise self._fail(f"PostgreSQL server did not start (port {port})", result)

    @staticmethod
    def _kill_postmaster(pidfile: Path) -> None:
        """Last resort: an immediate shutdown (SIGQUIT), then SIGKILL, of the postmaster in ``pidfile``."""
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                return
            for _ in range(50):
                time.sleep(0.1)
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return


def _main() -> int:
    """``python3 tests/support/pgcluster.py``: print the server programs' folder, or exit 1 when there is none."""
    folder = find_bindir()
    if folder is None:
        print("PostgreSQL not available", file=sys.stderr)
        return 1
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
