"""A real, throwaway PostgreSQL server for tests (stdlib only).

Usage::

    with PostgresServer() as pg:
        url = pg.create_database("medsettle_test")  # postgresql+psycopg://...
        ...

The server is built from the Debian ``postgresql`` package binaries (``initdb``,
``pg_ctl``, ``postgres``), found on PATH or under ``/usr/lib/postgresql/*/bin``
(highest version wins).  It lives in a fresh directory under /tmp, listens only
on 127.0.0.1 on a free port, uses trust authentication and has durability
switched off (fsync etc.) because the data is thrown away.

PostgreSQL refuses to run as root.  When the tests run as root (as in CI), every
server-side command runs as the ``postgres`` system user (or a ``medsettle-pg``
system user created on demand) via ``runuser``/``setpriv``, and the server
directory is owned by that user.

When ``MEDSETTLE_TEST_PG_URL`` is set, no server is started: that URL is used as
the admin URL (it must name a superuser, or at least a role allowed to create
databases).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

ENV_URL = "MEDSETTLE_TEST_PG_URL"
SUPERUSER = "postgres"
FALLBACK_OS_USER = "medsettle-pg"
DIR_PREFIX = "medsettle-pg-"
OWNER_FILE = "medsettle-owner.pid"
INSTALL_HINT = (
    "install Debian's `postgresql` package "
    "(apt-get install -y --no-install-recommends postgresql), or set "
    f"{ENV_URL}=postgresql+psycopg://USER@HOST:PORT/DB to use your own server"
)
_SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
_DBNAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


# --------------------------------------------------------------------------- binaries


def _version_key(bindir: str) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin
    version = Path(bindir).parent.name
    return tuple(int(p) for p in re.findall(r"\d+", version)) or (0,)


def _is_exe(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_pg_bindir() -> Path | None:
    """Directory holding initdb, pg_ctl and postgres, or None.

    The directory of ``initdb`` found on PATH (symlinks resolved) comes first,
    then ``/usr/lib/postgresql/*/bin`` from the highest version down.
    """
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent)
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        candidates.append(Path(d))
    for d in candidates:
        if all(_is_exe(d / b) for b in _SERVER_BINARIES):
            return d
    return None


def _find_client(name: str, bindir: Path | None) -> str | None:
    """A client binary (psql, pg_isready): next to the server binaries, else anywhere."""
    if bindir is not None and _is_exe(bindir / name):
        return str(bindir / name)
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if _is_exe(Path(d) / name):
            return str(Path(d) / name)
    return shutil.which(name)


def _privilege_tool() -> list[str] | None:
    if shutil.which("runuser"):
        return ["runuser", "-u"]
    if shutil.which("setpriv"):
        return ["setpriv"]
    return None


def postgres_available() -> tuple[bool, str]:
    """Whether a throwaway server can be used here, and why (not)."""
    if os.environ.get(ENV_URL):
        return True, f"using the server named by {ENV_URL}"
    bindir = find_pg_bindir()
    if bindir is None:
        return False, (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH "
            f"or under /usr/lib/postgresql/*/bin; {INSTALL_HINT}"
        )
    if _find_client("psql", bindir) is None:
        return False, f"PostgreSQL client `psql` not found; {INSTALL_HINT}"
    if os.geteuid() == 0 and _privilege_tool() is None:
        return False, (
            "running as root but neither `runuser` nor `setpriv` is available to drop "
            "privileges (PostgreSQL refuses to run as root)"
        )
    return True, f"PostgreSQL binaries in {bindir}"


# --------------------------------------------------------------------------- URLs


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` -> ``postgresql://...`` (usable by libpq/psql/psycopg)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a URL: {url!r}")
    return f"{scheme.split('+', 1)[0]}://{rest}"


def _sqlalchemy_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def _with_database(url: str, dbname: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


def _check_dbname(name: str) -> str:
    if not _DBNAME_RE.match(name):
        raise ValueError(
            f"invalid database name {name!r}: use letters, digits and _ (max 63, not leading digit)"
        )
    return name


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts_connections(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- OS user


def _server_os_user() -> pwd.struct_passwd | None:
    """The OS user the server runs as when we are root; None when not root."""
    if os.geteuid() != 0:
        return None
    for name in (SUPERUSER, FALLBACK_OS_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    proc = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_OS_USER,
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return pwd.getpwnam(FALLBACK_OS_USER)
    except KeyError:
        raise PostgresServerError(
            f"running as root, no `{SUPERUSER}` user, and `useradd {FALLBACK_OS_USER}` "
            f"failed: {proc.stderr.strip()}"
        ) from None


def _as_user(cmd: list[str], user: pwd.struct_passwd | None) -> list[str]:
    if user is None:
        return cmd
    tool = _privilege_tool()
    if tool is None:
        raise PostgresServerError("running as root but neither runuser nor setpriv is available")
    if tool[0] == "runuser":
        return [*tool, user.pw_name, "--", *cmd]
    return [
        "setpriv",
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--init-groups",
        "--",
        *cmd,
    ]


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # Drop PG* variables of the developer's environment (PGHOST, PGPORT, PGDATA, ...).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    env.pop("LANG", None)
    env.pop("LANGUAGE", None)
    if extra:
        env.update(extra)
    return env


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no server log at {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"


# --------------------------------------------------------------------------- stale servers


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale_servers(bindir: Path | None = None) -> list[str]:
    """Stop and delete servers left by test processes that died without cleanup (kill -9).

    Only directories ``/tmp/medsettle-pg-*`` carrying our owner-pid file whose owner
    process is gone are touched.  Returns the directories removed.
    """
    bindir = bindir or find_pg_bindir()
    removed: list[str] = []
    for d in glob.glob(f"/tmp/{DIR_PREFIX}*"):
        owner_file = Path(d) / OWNER_FILE
        try:
            owner = int(owner_file.read_text().strip())
        except (OSError, ValueError):
            continue
        if _pid_alive(owner):
            continue
        data = Path(d) / "data"
        if bindir is not None and (data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                subprocess.run(
                    _as_user(
                        [
                            str(bindir / "pg_ctl"),
                            "-D",
                            str(data),
                            "-m",
                            "immediate",
                            "-w",
                            "-t",
                            "30",
                            "stop",
                        ],
                        _server_os_user(),
                    ),
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    cwd="/",
                    env=_clean_env(),
                    timeout=60,
                    check=False,
                )
        shutil.rmtree(d, ignore_errors=True)
        if not os.path.exists(d):
            removed.append(d)
    return removed


# --------------------------------------------------------------------------- server


class PostgresServerError(RuntimeError):
    pass


class PostgresServer:
    """A throwaway PostgreSQL server (or the external one named by MEDSETTLE_TEST_PG_URL)."""

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        startup_timeout: float = 60.0,
        admin_url: str | None = None,
        durable: bool = False,
    ) -> None:
        self.startup_timeout = startup_timeout
        self.durable = durable  # keep fsync and synchronous commit on (the benchmarks)
        self._external_url = admin_url or os.environ.get(ENV_URL) or None
        self.bindir: Path | None = None
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self.datadir: Path | None = None
        self.log_path: Path | None = None
        self.os_user: pwd.struct_passwd | None = None
        self.startup_seconds: float | None = None
        self._url: str | None = None
        self._started = False

    # -- context manager
    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def external(self) -> bool:
        return self._external_url is not None

    @property
    def url(self) -> str:
        """SQLAlchemy admin URL: ``postgresql+psycopg://postgres@127.0.0.1:PORT/postgres``."""
        if self._url is None:
            raise PostgresServerError("server not started")
        return self._url

    # -- lifecycle
    def start(self) -> PostgresServer:
        if self._started:
            return self
        if self.external:
            self._url = _sqlalchemy_url(self._external_url)  # type: ignore[arg-type]
            self._started = True
            return self
        t0 = time.monotonic()
        self.bindir = find_pg_bindir()
        if self.bindir is None:
            raise PostgresServerError(postgres_available()[1])
        self.os_user = _server_os_user()
        with contextlib.suppress(Exception):
            reap_stale_servers(self.bindir)
        self._make_tmpdir()
        atexit.register(self.stop)
        self._started = True
        try:
            self._initdb()
            last_error: PostgresServerError | None = None
            for _attempt in range(3):  # retry only when the chosen port was taken meanwhile
                self.port = _free_port()
                try:
                    self._pg_ctl_start()
                    break
                except _PortInUse as exc:
                    last_error = exc
            else:
                raise last_error  # type: ignore[misc]
            self._url = f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/postgres"
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        """Stop the server immediately and delete its directory (idempotent)."""
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if not self._started:
            return
        self._started = False
        if self.external:
            return
        try:
            pidfile = self.datadir / "postmaster.pid" if self.datadir is not None else None
            if pidfile is not None and pidfile.exists():
                self._run(
                    [
                        str(self.bindir / "pg_ctl"),
                        "-D",
                        str(self.datadir),
                        "-m",
                        "immediate",
                        "-w",
                        "-t",
                        "30",
                        "stop",
                    ],
                    check=False,
                    timeout=60,
                )
                if pidfile.exists():  # pg_ctl failed: never leave a server behind
                    with contextlib.suppress(OSError, ValueError, IndexError):
                        os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
        finally:
            if self.tmpdir is not None:
                shutil.rmtree(self.tmpdir, ignore_errors=True)

    # -- databases
    def create_database(self, name: str) -> str:
        """Create a fresh (empty) database and return its SQLAlchemy URL."""
        _check_dbname(name)
        self.execute(f'CREATE DATABASE "{name}"')
        return _with_database(self.url, name)

    def socket_url(self, name: str) -> str:
        """The database's SQLAlchemy URL through the server's Unix socket (no TCP)."""
        _check_dbname(name)
        sock = urllib.parse.quote(str(self.tmpdir / "sock"), safe="")
        return f"postgresql+psycopg://{SUPERUSER}@/{name}?host={sock}&port={self.port}"

    def drop_database(self, name: str) -> None:
        """Drop a database if it exists, disconnecting its sessions."""
        _check_dbname(name)
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def database_url(self, name: str) -> str:
        return _with_database(self.url, _check_dbname(name))

    def execute(self, sql: str, dbname: str | None = None) -> str:
        """Run one SQL command through psql as the superuser; return unaligned output."""
        url = libpq_url(self.url if dbname is None else self.database_url(dbname))
        psql = _find_client("psql", self.bindir)
        if psql is None:
            return self._execute_psycopg(url, sql)
        proc = self._run(
            [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
            check=False,
            timeout=120,
        )
        if proc.returncode != 0:
            raise PostgresServerError(
                f"psql failed ({proc.returncode}) running {sql!r} on {url}: "
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )
        return proc.stdout

    @staticmethod
    def _execute_psycopg(url: str, sql: str) -> str:  # only when psql is missing
        try:
            import psycopg
        except ImportError:
            raise PostgresServerError(
                f"neither psql nor psycopg available; {INSTALL_HINT}"
            ) from None
        with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(sql)
            if cur.description is None:
                return ""
            return "".join("|".join(str(v) for v in row) + "\n" for row in cur.fetchall())

    # -- internals
    def _run(
        self,
        cmd: list[str],
        *,
        check: bool = True,
        timeout: float = 120,
        as_server_user: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        full = _as_user(cmd, self.os_user if as_server_user else None)
        cwd = str(self.tmpdir) if self.tmpdir is not None and self.tmpdir.exists() else "/"
        try:
            proc = subprocess.run(
                full,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                cwd=cwd,
                env=_clean_env(),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresServerError(
                f"timed out after {timeout}s: {shlex.join(full)}\n--- server log tail ---\n"
                f"{self._log_tail()}"
            ) from exc
        if check and proc.returncode != 0:
            raise PostgresServerError(
                f"command failed ({proc.returncode}): {shlex.join(full)}\n"
                f"stdout: {proc.stdout.strip()}\nstderr: {proc.stderr.strip()}\n"
                f"--- server log tail ---\n{self._log_tail()}"
            )
        return proc

    def _log_tail(self) -> str:
        return _tail(self.log_path) if self.log_path is not None else "(no server log)"

    def _make_tmpdir(self) -> None:
        # Short path under /tmp: the unix socket path must stay < 108 bytes, and when
        # root the server user must be able to traverse every parent (/tmp is 1777).
        base = "/tmp" if os.path.isdir("/tmp") and os.access("/tmp", os.W_OK) else None
        self.tmpdir = Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=base))
        (self.tmpdir / OWNER_FILE).write_text(f"{os.getpid()}\n")
        (self.tmpdir / "sock").mkdir()
        self.datadir = self.tmpdir / "data"  # created by initdb (must be 0700, server-owned)
        self.log_path = self.tmpdir / "postgres.log"
        os.chmod(self.tmpdir, 0o755)
        if self.os_user is not None:
            for p in (self.tmpdir, self.tmpdir / "sock"):
                os.chown(p, self.os_user.pw_uid, self.os_user.pw_gid)
            os.chown(self.tmpdir / OWNER_FILE, self.os_user.pw_uid, self.os_user.pw_gid)

    def _initdb(self) -> None:
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-A",
                "trust",
                f"--username={SUPERUSER}",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            timeout=self.startup_timeout,
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.tmpdir / 'sock'}'",
            "max_connections": "200",
            **(
                {}
                if self.durable
                else {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
            ),
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
            "logging_collector": "off",
        }
        conf = "".join(f"{k} = {v}\n" for k, v in settings.items())
        # postgresql.conf is owned by the server user; appending as root keeps ownership.
        with open(self.datadir / "postgresql.conf", "a") as fh:
            fh.write("\n# medsettle test server\n" + conf)

    def _pg_ctl_start(self) -> None:
        # -l is essential: it detaches the postmaster's stdout/stderr from our pipes.
        proc = self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(self.log_path),
                "-o",
                f"-p {self.port}",
                "-w",
                "-t",
                str(int(self.startup_timeout)),
                "start",
            ],
            check=False,
            timeout=self.startup_timeout + 30,
        )
        if proc.returncode == 0:
            return
        log = self._log_tail()
        if "Address already in use" in log or "could not bind" in log:
            raise _PortInUse(f"port {self.port} was taken:\n{log}")
        raise PostgresServerError(
            f"PostgreSQL failed to start on {self.host}:{self.port} "
            f"(pg_ctl exit {proc.returncode}, timeout {self.startup_timeout:.0f}s): "
            f"{proc.stderr.strip() or proc.stdout.strip()}\n"
            f"--- server log tail ({self.log_path}) ---\n{log}"
        )

    def _wait_ready(self) -> None:
        pg_isready = _find_client("pg_isready", self.bindir)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if pg_isready is not None:
                ok = (
                    subprocess.run(
                        [
                            pg_isready,
                            "-q",
                            "-h",
                            self.host,
                            "-p",
                            str(self.port),
                            "-U",
                            SUPERUSER,
                            "-d",
                            "postgres",
                            "-t",
                            "2",
                        ],
                        stdin=subprocess.DEVNULL,
                        capture_output=True,
                        env=_clean_env(),
                        cwd="/",
                        check=False,
                    ).returncode
                    == 0
                )
            else:
                ok = port_accepts_connections(self.host, self.port)
            if ok:
                return
            if time.monotonic() > deadline:
                raise PostgresServerError(
                    f"PostgreSQL on {self.host}:{self.port} not accepting connections after "
                    f"{self.startup_timeout:.0f}s\n--- server log tail ({self.log_path}) ---\n"
                    f"{self._log_tail()}"
                )
            time.sleep(0.1)


class _PortInUse(PostgresServerError):
    pass
