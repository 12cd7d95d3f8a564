"""A real PostgreSQL for tests and benchmarks: `initdb` into a fresh directory, started on a
free loopback port, stopped again. As root the server runs as the `postgres` user (PostgreSQL
refuses to run as root)."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.broker import HOST, free_port

SERVER_USER = "postgres"


def find_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server's bin directory, or None."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def unavailable_reason() -> str | None:
    """Why no test server can be started here, or None when one can."""
    if find_bin_dir() is None:
        return (
            "PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt install postgresql"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and no '{SERVER_USER}' user to run PostgreSQL as"
    return None


@dataclass
class Postgres:
    """One server. `durable=False` turns fsync off: fine for tests, not for benchmarks."""

    bin_dir: Path
    durable: bool = False
    port: int = field(default_factory=free_port)
    # Under /tmp rather than pytest's tmp_path: that one is private to root (mode 0700).
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="moodsense-pg-")))

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def dsn(self, dbname: str = "postgres") -> str:
        """libpq connection string for `dbname` (trust authentication, no password)."""
        return f"host={HOST} port={self.port} user={SERVER_USER} dbname={dbname}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        """initdb, configure for loopback only, start and wait until it accepts connections."""
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(self.workdir, user.pw_uid, user.pw_gid)
        self._run(
            *("initdb", "-D", str(self.data_dir), "-U", SERVER_USER, "--auth=trust"),
            *("-E", "UTF8", "--locale=C", "--no-sync"),
        )
        settings = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.workdir}'",
            "max_connections = 50",
            "shared_buffers = 64MB",
        ]
        if not self.durable:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n".join(settings) + "\n")
        log = self.workdir / "server.log"
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(log), "-w", "-t", "30", "start")

    def stop(self) -> None:
        """Stop at once (the data is thrown away) and remove the directory."""
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
