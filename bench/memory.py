"""6. Memory: the resident set (VmRSS) of every web and worker process, sampled while they work.

Also where the CPU went meanwhile (web, worker, PostgreSQL, Redis, the benchmark's own client): what
bounds a throughput figure on a machine where all of them share two cores.
"""

import contextlib
import threading
import time
from dataclasses import dataclass, field

import psutil

from bench.system import Service

MB = 1024 * 1024


@dataclass
class Sample:
    at: float  # seconds since the sampler started
    rss: dict[str, dict[int, int]]  # role -> pid -> bytes


@dataclass
class RssSampler:
    """Samples each process of each service every `every` seconds in a background thread."""

    services: dict[str, Service]
    every: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # role -> CPU seconds used while sampling

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._start = time.monotonic()

    def __enter__(self) -> "RssSampler":
        self._cpu_last = self._cpu_by_process()
        self._machine_before = psutil.cpu_times()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - machine.iowait
        busy_before = sum(self._machine_before) - self._machine_before.idle - self._machine_before.iowait
        self.cpu["machine"] = busy - busy_before

    def _count_cpu(self) -> None:
        """Add what each process used since the last sample; a process new since then counts whole.

        Sampled, not read once at the end: PostgreSQL backends come and go (Celery's Django fixup closes
        the worker's connection around every task), and most live shorter than a sample. A backend that
        exits adds its whole CPU time to the postmaster's children's, which is counted, less what its
        earlier samples already counted.
        """
        now = self._cpu_by_process()
        for key, seconds in now.items():
            self.cpu[key[0]] = self.cpu.get(key[0], 0.0) + seconds - self._cpu_last.get(key, 0.0)
        for key, seconds in self._cpu_last.items():
            if key not in now and key[0] == "postgres":
                self.cpu["postgres"] = self.cpu.get("postgres", 0.0) - seconds
        self._cpu_last = now

    def _cpu_by_process(self) -> dict[tuple[str, int | str], float]:
        """CPU seconds (user + system) of every process of every role; PostgreSQL and Redis by name."""
        found: dict[tuple[str, int | str], float] = {}
        processes = [(role, p) for role, service in self.services.items() for p in service.processes()]
        processes.append(("client", psutil.Process()))
        for p in psutil.process_iter(["name", "ppid"]):
            name = p.info["name"] or ""
            if name.startswith("postgres"):
                processes.append(("postgres", p))
            elif name.startswith("redis-server"):
                processes.append(("redis", p))
        postgres = {p.pid for role, p in processes if role == "postgres"}
        for role, process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                found[(role, process.pid)] = times.user + times.system
                if role == "postgres" and process.info["ppid"] not in postgres:  # the postmaster
                    found[(role, "exited")] = times.children_user + times.children_system
        return found

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def sample(self) -> None:
        rss: dict[str, dict[int, int]] = {}
        for role, service in self.services.items():
            for process in service.processes():
                with contextlib.suppress(psutil.NoSuchProcess):
                    rss.setdefault(role, {})[process.pid] = process.memory_info().rss
        self.samples.append(Sample(time.monotonic() - self._start, rss))
        self._count_cpu()

    def peak(self, role: str, since: float = 0.0, until: float = float("inf")) -> int:
        """The largest RSS of any one process of `role` in the window, in bytes."""
        return max(
            (max(s.rss[role].values()) for s in self.samples if since <= s.at <= until and s.rss.get(role)),
            default=0,
        )

    def peak_total(self, role: str) -> int:
        """The largest sum over all processes of `role` at one moment, in bytes."""
        return max((sum(s.rss.get(role, {}).values()) for s in self.samples), default=0)

    def duration(self) -> float:
        return self.samples[-1].at if self.samples else 0.0
