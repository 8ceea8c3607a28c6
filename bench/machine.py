"""What machine the numbers come from, and where its CPU went during a measurement (Linux /proc)."""

from __future__ import annotations

import asyncio
import os
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _first_line_with(path: str, prefix: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def mariadb_version(mysql_url: str) -> str:
    try:
        engine = sa.create_engine(mysql_url)
        try:
            with engine.connect() as conn:
                return str(conn.scalar(sa.text("SELECT VERSION()")))
        finally:
            engine.dispose()
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"


def rabbitmq_version(broker_url: str) -> str:
    async def ask() -> str:
        import aiormq

        connection = await asyncio.wait_for(aiormq.connect(broker_url), timeout=10)
        try:
            properties = connection.server_properties
            return f"{properties.get('product', 'RabbitMQ')} {properties.get('version', '?')}"
        finally:
            await connection.close()

    try:
        return str(asyncio.run(ask()))
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"


def describe(mysql_url: str, broker_url: str) -> dict[str, str]:
    memory_kb = _first_line_with("/proc/meminfo", "MemTotal").split(" ")[0]
    memory = f"{int(memory_kb) / 1024 / 1024:.1f} GiB" if memory_kb.isdigit() else "unknown"
    return {
        "cores": str(os.cpu_count()),
        "memory": memory,
        "cpu": _first_line_with("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "mariadb": mariadb_version(mysql_url),
        "rabbitmq": rabbitmq_version(broker_url),
    }


# Servers whose CPU a benchmark counts when they run on this machine, by process name.
SERVER_PROCESSES = {"beam.smp": "broker", "mariadbd": "database", "mysqld": "database"}


def local_server_pids() -> dict[str, int]:
    """The broker's and the database's processes, when they run here: their CPU is part of the cost."""
    found: dict[str, int] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm", encoding="utf-8") as fh:
                role = SERVER_PROCESSES.get(fh.read().strip())
        except OSError:
            continue
        if role is not None:
            found.setdefault(role, int(entry))
    return found


def _process_cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # Fields 14 and 15 (utime, stime) counted from the state field, which is field 3.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _machine_busy_and_total() -> tuple[float, float]:
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


@dataclass
class CpuShare:
    wall_seconds: float
    machine_busy: float  # share of all cores busy, 0..1
    cores_by_process: dict[str, float]  # name -> cores used on average (1.0 = one core)

    def summary(self, requests_per_second: float = 0.0, unit: str = "req") -> str:
        """Cores used by each process and, given the throughput, its CPU time per request: unlike
        latency, CPU per request hardly moves when other work shares the machine."""
        parts = []
        for name, cores in self.cores_by_process.items():
            per_request = (
                f" = {cores / requests_per_second * 1000:.2f} ms/{unit}" if requests_per_second else ""
            )
            parts.append(f"{name} {cores:.2f}{per_request}")
        return f"machine {self.machine_busy:.0%} busy; CPU cores used: {', '.join(parts)}"


class CpuMeter:
    """Measures, between ``start()`` and ``stop()``, how busy the machine was and which process used it."""

    def __init__(self, pids: Mapping[str, int | None]) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self._started: dict[str, float] = {}
        self._machine: tuple[float, float] = (0.0, 0.0)
        self._wall = 0.0

    def start(self) -> CpuMeter:
        self._wall = time.perf_counter()
        self._machine = _machine_busy_and_total()
        self._started = {
            name: cpu for name, pid in self.pids.items() if (cpu := _process_cpu_seconds(pid)) is not None
        }
        return self

    def stop(self) -> CpuShare:
        wall = time.perf_counter() - self._wall
        busy, total = _machine_busy_and_total()
        busy_delta, total_delta = busy - self._machine[0], total - self._machine[1]
        cores: dict[str, float] = {}
        for name, before in self._started.items():
            after = _process_cpu_seconds(self.pids[name])
            if after is not None and wall > 0:
                cores[name] = (after - before) / wall
        return CpuShare(wall, busy_delta / total_delta if total_delta else 0.0, cores)
