"""A RabbitMQ node of a test's own, on loopback ports, that the test may stop and start at will.

The shared broker serves everyone's tests, so a test that restarts "the broker" runs a private node
next to it: its own node name, AMQP and distribution ports, data and log directories, no plugins. It
needs the ``rabbitmq-server`` and ``rabbitmqctl`` of a local installation; the Erlang cookie is the
installation's. Run as root, the installation's wrappers switch to the ``rabbitmq`` user, so the
node's directories are handed to that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

from aic_common.testing import free_port

# Where distributions put the server scripts when /usr/sbin is not on PATH.
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/lib/rabbitmq/bin"])


def rabbitmq_commands() -> tuple[str, str] | None:
    """The ``rabbitmq-server`` and ``rabbitmqctl`` executables, or None when RabbitMQ is not installed."""
    server = shutil.which("rabbitmq-server", path=_SEARCH_PATH)
    ctl = shutil.which("rabbitmqctl", path=_SEARCH_PATH)
    return (server, ctl) if server and ctl else None


def rabbitmqctl(
    *args: str, node: str | None = None, env: dict[str, str] | None = None, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run ``rabbitmqctl`` (against ``node``, else the installation's own node); a call that outlives
    ``timeout`` is killed whole, its Erlang VM included."""
    commands = rabbitmq_commands()
    if commands is None:
        raise FileNotFoundError("rabbitmqctl is not installed")
    # A distribution port of its own: the CLI's default range (11 ports) is shared with every
    # rabbitmqctl on the machine, and calls hanging on another node can take all of it.
    cli_port = str(free_port())
    env = {
        **(os.environ if env is None else env),
        "RABBITMQ_CTL_DIST_PORT_MIN": cli_port,
        "RABBITMQ_CTL_DIST_PORT_MAX": cli_port,
    }
    process = subprocess.Popen(  # noqa: S603 - the installation's own tool with our arguments
        [commands[1], *(["-n", node] if node else []), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its Erlang VM too, so a timeout can end both
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


class RabbitNode:
    """One private RabbitMQ node. ``start``, ``stop`` and ``restart`` block until done."""

    def __init__(self, base_dir: Path, *, start_timeout: float = 60.0) -> None:
        commands = rabbitmq_commands()
        if commands is None:
            raise FileNotFoundError("rabbitmq-server and rabbitmqctl are not installed")
        self.server_command, self.ctl_command = commands
        self.node_name = f"aicfault_{uuid.uuid4().hex[:8]}@localhost"
        self.amqp_port = free_port()
        self.dist_port = free_port()
        self.base_dir = base_dir
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._prepare_directories()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "log" / f"{self.node_name}.log"

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _prepare_directories(self) -> None:
        for sub in ("mnesia", "log"):
            (self.base_dir / sub).mkdir(parents=True, exist_ok=True)
        (self.base_dir / "enabled_plugins").write_text("[].\n", encoding="utf-8")
        # Its own listener only: the installation's config names the shared node's port.
        (self.base_dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.amqp_port}\n", encoding="utf-8"
        )
        if os.geteuid() == 0:
            with contextlib.suppress(KeyError):
                user = pwd.getpwnam("rabbitmq")
                for path in [self.base_dir, *self.base_dir.rglob("*")]:
                    os.chown(path, user.pw_uid, user.pw_gid)

    def _environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.base_dir / "rabbitmq.conf"),
            "RABBITMQ_MNESIA_BASE": str(self.base_dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base_dir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base_dir / "enabled_plugins"),
        }

    def ctl(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run ``rabbitmqctl`` against this node; a call that outlives ``timeout`` is killed whole."""
        return rabbitmqctl(*args, node=self.node_name, env=self._environment(), timeout=timeout)

    def start(self) -> None:
        """Start the node in the foreground of a process of ours and wait until it takes connections."""
        if self.is_running:
            return
        with (self.base_dir / "server.out").open("ab") as out:
            self._process = subprocess.Popen(  # noqa: S603
                [self.server_command],
                env=self._environment(),
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"RabbitMQ node {self.node_name} exited at start-up:\n{self._log_tail()}")
            waited = self.ctl("await_startup", "--timeout", "5", timeout=15)
            if waited.returncode == 0:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"RabbitMQ node {self.node_name} did not start:\n{self._log_tail()}")
            time.sleep(0.2)  # epmd does not know the node yet: nothing to wait on but time

    def stop(self) -> None:
        """Stop the node (its queues stay on disk for the next start)."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            self.ctl("stop", timeout=60)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._process = None

    def restart(self) -> None:
        """A full restart, as after a crash or an upgrade: every connection drops, the queues recover."""
        self.stop()
        self.start()

    def _log_tail(self) -> str:
        text = ""
        for path in (self.base_dir / "server.out", self.log_path):
            if path.exists():
                text += path.read_text(encoding="utf-8", errors="replace")[-4000:]
        return text

    def __enter__(self) -> RabbitNode:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
