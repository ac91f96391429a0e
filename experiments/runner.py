"""The parent side of a training job: start the trainer's child process, enforce its
limits, pass what it reports to hooks, and collect the outcome. No database here:
the caller (experiments.tasks) writes through its hooks.

    outcome = execute(RunSpec(...), hooks, heartbeat_s=settings.JOB_HEARTBEAT_S)

Limits:
- timeout: the child's process group is killed after spec.timeout_s ("timed_out");
- memory: the child sets RLIMIT_AS to its address space at start + memory_mb, so the
  cap counts what the trainer allocates beyond the preloaded runtime (a MemoryError
  becomes "memory cap of N MiB exceeded"); RLIMIT_AS is per process, so the parent
  also watches the resident memory of the child and its descendants and kills the
  group above (resident at start + memory_mb);
- cancellation: hooks.on_tick returning False kills the group ("cancelled").

Children are forks of a per-process fork server that has imported numpy,
scikit-learn and matplotlib (warm() starts it; Celery's worker_process_init calls
it). Inside Celery's prefork pool see _starting_child; a trainer dies with the
worker process that started it (PR_SET_PDEATHSIG on the fork server, see child.py).
"""

from __future__ import annotations

import functools
import importlib.metadata
import inspect
import json
import logging
import math
import multiprocessing
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import connection as mp_connection
from multiprocessing import forkserver
from multiprocessing import process as mp_process
from pathlib import Path
from typing import Protocol

from django.core.exceptions import ValidationError

from experiments import child
from experiments.trainers import TrainerRefused, resolve, trainer_modules, validate_dataset, validate_params
from experiments.trainers.context import METRIC_KEY_MAX_LENGTH, STEP_MAX, artifact_kind

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
LOG_HEAD_BYTES = 32 * 1024
DEFAULT_LOG_MAX_BYTES = 256 * 1024
MESSAGE_MAX_BYTES = 16 * MiB  # a batch holds at most ~2,000 points; more is a broken child
MEMORY_CHECK_S = 0.25
PENDING_POINTS_TICK = 20_000  # tick early rather than hold more points than this
EXIT_GRACE_S = 5.0  # how long a child that has reported its result may take to exit
TEXT_MAX_CHARS = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass
class RunSpec:
    job_id: int
    trainer: str  # "package.module:function"
    dataset: str
    params: dict
    timeout_s: float
    memory_mb: int
    workdir: Path
    seed: int = 0
    # The allowlist; None reads settings.TRAINER_MODULES (the child never reads settings).
    allowed_modules: tuple[str, ...] | None = None


@dataclass
class Tick:
    metrics: list[tuple[str, int, float, datetime]]  # (key, step, value, at), all received since the last tick
    progress: float | None  # the latest since the last tick, None if none came
    message: str | None
    params: dict  # logged since the last tick
    rss_mb: float  # resident memory of the trainer and its descendants


@dataclass
class ArtifactFile:
    name: str
    path: Path
    kind: str  # "image" | "model" | "file"
    size: int


@dataclass
class RunOutcome:
    state: str  # "succeeded" | "failed" | "timed_out" | "cancelled"
    error: str = ""
    traceback: str = ""
    final_metrics: dict[str, float] = field(default_factory=dict)
    params_logged: dict = field(default_factory=dict)
    artifacts: list[ArtifactFile] = field(default_factory=list)
    log: str = ""
    log_skipped_bytes: int = 0
    exit_code: int | None = None
    signal: int | None = None
    duration_s: float = 0.0
    code_version: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    # What the child reported before importing the trainer: pid, rss_mb, address_space_mb,
    # preloaded ({"sklearn": True, ...}), and started_s (from asking the fork server for a
    # child to that report: includes the server's own start-up on a cold first job).
    startup: dict = field(default_factory=dict)

    @classmethod
    def failure(cls, error: str, traceback: str = "") -> RunOutcome:
        """A failed outcome without a child (e.g. the runner itself could not start one)."""
        return cls(state="failed", error=_clean_text(error, 1000), traceback=_clean_text(traceback),
                   environment=environment())


class RunHooks(Protocol):
    def on_start(self, pid: int) -> None: ...

    def on_tick(self, tick: Tick) -> bool: ...


class ProtocolError(Exception):
    """The child sent something that is not one of our messages."""


# --- The fork server ------------------------------------------------------------------------

_context = None


def _mp_context():
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        # Only applies if this process has not started a fork server yet.
        context.set_forkserver_preload(child.PRELOAD_MODULES)
        _context = context
    return _context


def _forget_inherited_fork_server() -> None:
    """In a process forked from one that had started a fork server (Celery's prefork pool
    after warm() in the main process, or any fork of a test run): that server is not
    our child, and the stdlib's liveness check (waitpid) would fail. Start our own."""
    server = forkserver._forkserver
    if getattr(server, "_forkserver_pid", None) is None:
        return
    try:
        os.close(server._forkserver_alive_fd)  # or the parent's server waits for us to exit too
    except (OSError, TypeError):
        pass
    server._forkserver_address = server._forkserver_alive_fd = server._forkserver_pid = None


os.register_at_fork(after_in_child=_forget_inherited_fork_server)


_start_lock = threading.Lock()


@contextmanager
def _starting_child() -> Iterator[None]:
    """Around creating and starting a child: make that work from any parent process.

    - The stdlib would make the child re-run the parent's main script (the celery or
      manage.py entry point, or "<stdin>") as __mp_main__; the trainer needs none of
      it, so the child sees a main module without a file.
    - billiard (Celery's prefork pool) installs its pool process as multiprocessing's
      current process too: daemonic, so the stdlib refuses to start children ("daemonic
      processes are not allowed to have children"), and with billiard's authkey type,
      which refuses to be pickled for the stdlib's fork server. For the start, present
      a non-daemonic process with a stdlib authkey. The child cannot outlive us anyway:
      execute() kills its group, and it dies with the fork server, which exits with us.
    """
    with _start_lock:  # process-wide state: warm() may run in a thread while a job starts
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        current = mp_process.current_process()
        saved = dict(current._config)
        if not isinstance(current, mp_process.BaseProcess) or current._config.get("daemon"):
            current._config["daemon"] = False
            current._config["authkey"] = mp_process.AuthenticationString(
                bytes(current._config.get("authkey") or os.urandom(32)))
        try:
            yield
        finally:
            current._config.clear()
            current._config.update(saved)
            if main is not None:
                sys.modules["__main__"] = main


def warm(*, wait: bool = False) -> None:
    """Start this process's fork server, which imports numpy, scikit-learn and matplotlib.

    Call it at Celery's worker_process_init (each pool process has its own server). It
    returns at once and the server imports in the background; wait=True waits for it.
    """
    context = _mp_context()
    with _starting_child():
        forkserver.ensure_running()
        if wait:
            process = context.Process(target=child.ping, name="mlkanban-warm")
            process.start()
    if wait:
        process.join()
        process.close()


# --- Reading the child ----------------------------------------------------------------------

def _clean_text(value, limit: int = TEXT_MAX_CHARS) -> str:
    """For the database: a str without NUL and control characters (newlines and tabs kept)."""
    return _CONTROL.sub("", str(value))[:limit]


def _reject_constant(name):
    raise ProtocolError(f"non-finite number {name} in a message")


def _decode(raw: bytes) -> dict:
    try:
        message = json.loads(raw, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ProtocolError(f"undecodable message: {exc}") from exc
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("a message is not an object with a type")
    return message


def _finite(value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProtocolError("a metric value is not a finite number")
    return float(value)


def _read_points(points) -> list[tuple[str, int, float, datetime]]:
    if not isinstance(points, list):
        raise ProtocolError("metrics are not a list")
    accepted = []
    now = time.time()
    for point in points:
        if not (isinstance(point, list) and len(point) == 4):
            raise ProtocolError("a metric point is not [key, step, value, time]")
        key, step, value, at = point
        if not isinstance(key, str) or not 0 < len(key) <= METRIC_KEY_MAX_LENGTH or _CONTROL.search(key):
            raise ProtocolError("a metric key is not a short printable string")
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= STEP_MAX:
            raise ProtocolError("a metric step is not an integer in range")
        at = _finite(at)
        if abs(at - now) > 366 * 86400:  # the child's clock is this machine's; anything else is garbage
            at = now
        accepted.append((key, step, _finite(value), datetime.fromtimestamp(at, UTC)))
    return accepted


def _read_params(params) -> dict:
    if not isinstance(params, dict):
        raise ProtocolError("logged params are not an object")
    return {
        _clean_text(k, METRIC_KEY_MAX_LENGTH): (_clean_text(v, 500) if isinstance(v, str) else v)
        for k, v in params.items()
        if isinstance(v, bool | int | float | str | type(None)) and not (isinstance(v, float) and not math.isfinite(v))
    }


def _process_rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo and len(found) < 10_000:
        current = todo.pop()
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
        found.append(current)
    return found


def group_rss_mb(pid: int) -> float:
    """Resident memory of pid and its descendants, in MiB (0 once they are gone)."""
    total = 0
    for each in _descendants(pid):
        try:
            total += _process_rss_bytes(each)
        except (OSError, ValueError, IndexError):
            pass
    return total / MiB


def _kill_group(process) -> None:
    """SIGKILL the child's process group (the child made it with setpgid(0, 0))."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        # No such group: the child has not made it yet (kill the child alone, never our
        # own group) or it has ended with nothing left behind.
        if process.exitcode is None:
            try:
                os.kill(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    except PermissionError:
        logger.warning("could not kill process group %s", process.pid)


def read_bounded_log(path: Path, max_bytes: int = DEFAULT_LOG_MAX_BYTES) -> tuple[str, int]:
    """(text, skipped bytes): the first 32 KiB and the last (max_bytes - 32 KiB) of the file."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            if size <= max_bytes:
                head, tail, skipped = f.read(max_bytes), b"", 0
            else:
                head = f.read(min(LOG_HEAD_BYTES, max_bytes))
                tail_size = max_bytes - len(head)
                f.seek(size - tail_size)
                tail = f.read(tail_size)
                skipped = size - len(head) - len(tail)
    except FileNotFoundError:
        return "", 0
    text = head.decode("utf-8", "replace")
    if skipped:
        text += f"\n… {skipped} bytes skipped …\n" + tail.decode("utf-8", "replace")
    return text.replace("\x00", "\ufffd"), skipped


# --- Provenance ---------------------------------------------------------------------------

def code_version(path: Path | str | None) -> dict:
    """The git commit of the checkout holding path, and whether that file differs from it.

    {} when path is unknown; commit None outside a git checkout or without git. Read-only:
    no optional locks, so it never competes with a developer's git for the index.
    """
    if not path:
        return {}
    path = Path(path).resolve()
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(["git", "--no-optional-locks", "-C", str(path.parent), *args],
                                    capture_output=True, text=True, timeout=10, env=env, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {"file": str(path), "commit": None, "dirty": None}
    status = git("status", "--porcelain", "--", path.name)
    return {"file": str(path), "commit": commit, "dirty": None if status is None else bool(status)}


@functools.cache
def environment() -> dict:
    def version(distribution: str) -> str | None:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        **{name: version(name) for name in ("numpy", "scikit-learn", "matplotlib", "celery", "django")},
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
    }


def _source_file(function) -> str | None:
    try:
        return inspect.getsourcefile(function)
    except TypeError:
        return getattr(sys.modules.get(function.__module__), "__file__", None)


# --- Running ----------------------------------------------------------------------------------

def _describe_exit(exit_code: int | None) -> tuple[str, int | None]:
    if exit_code is not None and exit_code < 0:
        number = -exit_code
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown"
        return f"the trainer process was killed by signal {number} ({name})", number
    return f"the trainer process exited with code {exit_code} without reporting a result", None


class _Run:
    """The parent's state for one child: what arrived and what is pending for the next tick."""

    def __init__(self, spec: RunSpec, hooks: RunHooks, reader, process, heartbeat_s: float, launched: float):
        self.spec, self.hooks, self.reader, self.process = spec, hooks, reader, process
        self.heartbeat_s = heartbeat_s
        self.launched = launched  # before start(), which waits for a cold fork server's imports
        self.started = time.monotonic()
        self.hello: dict | None = None
        self.final: dict | None = None
        self.pending_points: list = []
        self.pending_progress: float | None = None
        self.pending_message: str | None = None
        self.pending_params: dict = {}
        self.final_metrics: dict[str, float] = {}
        self.params_logged: dict = {}
        self.artifacts: dict[str, ArtifactFile] = {}
        self.eof = False
        self.rss_mb = 0.0

    # messages
    def receive_available(self, until: float | None = None) -> None:
        """Read every message already waiting (stopping at `until` if the child floods us)."""
        while not self.eof and self.reader.poll():
            try:
                raw = self.reader.recv_bytes(MESSAGE_MAX_BYTES)
            except EOFError:
                self.eof = True
                return
            except OSError as exc:  # "bad message length": more than MESSAGE_MAX_BYTES
                raise ProtocolError(str(exc)) from exc
            self.handle(_decode(raw))
            if until is not None and time.monotonic() >= until:
                return

    def handle(self, message: dict) -> None:
        kind = message["type"]
        if kind == "hello":
            self.hello = {
                "pid": message.get("pid"), "rss_mb": _finite(message.get("rss_mb")),
                "address_space_mb": _finite(message.get("address_space_mb")),
                "preloaded": {str(k): bool(v) for k, v in dict(message.get("preloaded") or {}).items()},
                "started_s": round(time.monotonic() - self.launched, 4),
            }
        elif kind == "batch":
            points = _read_points(message.get("metrics", []))
            self.pending_points.extend(points)
            for key, _step, value, _at in points:
                self.final_metrics[key] = value
            if message.get("progress") is not None:
                self.pending_progress = min(1.0, max(0.0, _finite(message["progress"])))
            if message.get("message") is not None:
                self.pending_message = _clean_text(message["message"], 500)
            params = _read_params(message.get("params") or {})
            self.pending_params.update(params)
            self.params_logged.update(params)
        elif kind == "artifact":
            self.add_artifact(message.get("name"))
        elif kind == "final":
            self.final = message
        else:
            raise ProtocolError(f"unknown message type {kind[:50]!r}")

    def add_artifact(self, name) -> None:
        # Trust the file system, not the message: a regular file directly in artifacts/.
        if not isinstance(name, str) or "/" in name or name in ("", ".", "..") or len(name) > 200:
            raise ProtocolError("an artifact name is not a plain file name")
        path = Path(self.spec.workdir) / "artifacts" / name
        if path.is_symlink() or not path.is_file():
            raise ProtocolError(f"artifact {name!r} is not a regular file")
        self.artifacts[name] = ArtifactFile(name=name, path=path, kind=artifact_kind(name), size=path.stat().st_size)

    # ticks
    def tick(self) -> bool:
        tick = Tick(metrics=self.pending_points, progress=self.pending_progress, message=self.pending_message,
                    params=self.pending_params, rss_mb=round(self.rss_mb, 1))
        self.pending_points, self.pending_progress, self.pending_message, self.pending_params = [], None, None, {}
        return self.hooks.on_tick(tick) is not False

    def over_memory(self) -> bool:
        self.rss_mb = group_rss_mb(self.process.pid)
        return self.hello is not None and self.rss_mb > self.hello["rss_mb"] + self.spec.memory_mb

    def watch(self) -> tuple[str | None, str]:
        """Wait for the child, ticking; returns (state, error) when we stopped it, (None, "") when it ended."""
        deadline = self.started + self.spec.timeout_s
        next_tick = self.started + self.heartbeat_s
        next_memory_check = self.started
        exit_by = None  # set once the child has reported its result
        while True:
            now = time.monotonic()
            wake = min(next_tick, deadline, next_memory_check, exit_by or math.inf)
            waiting = [self.process.sentinel] if self.eof else [self.reader, self.process.sentinel]
            ready = mp_connection.wait(waiting, timeout=max(0.0, wake - now))
            if self.reader in ready:
                self.receive_available(until=next_tick)
            if self.process.sentinel in ready:
                return None, ""
            now = time.monotonic()
            if self.final is not None and exit_by is None:
                exit_by = now + EXIT_GRACE_S
            if exit_by is not None and now >= exit_by:
                return None, ""  # reported, then stuck on its way out: killed below, state from its report
            if now >= deadline:
                return "timed_out", f"stopped after {self.spec.timeout_s:g} s (the job's timeout)"
            if now >= next_memory_check:
                next_memory_check = now + MEMORY_CHECK_S
                if self.over_memory():
                    return "failed", f"memory cap of {self.spec.memory_mb} MiB exceeded"
            if now >= next_tick or len(self.pending_points) >= PENDING_POINTS_TICK:
                next_tick = now + self.heartbeat_s
                if not self.tick():
                    return "cancelled", "cancelled"


PIPE_BYTES = 1 << 20  # Linux's default /proc/sys/fs/pipe-max-size
F_SETPIPE_SZ = 1031


def _widen_pipe(connection) -> None:
    """Let the child run up to 1 MiB of batches ahead while a tick writes to the
    database, instead of blocking on a 64 KiB pipe: 100,000 points went in 30%
    faster (bench/metrics.py). Best effort: the default size still works."""
    try:
        import fcntl

        fcntl.fcntl(connection.fileno(), F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, OSError):
        pass


def _refused(spec: RunSpec, error: str, started: float) -> RunOutcome:
    return RunOutcome(state="failed", error=_clean_text(error, 1000), duration_s=time.monotonic() - started,
                      environment=environment())


def _validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items())
    return " ".join(exc.messages)


def execute(spec: RunSpec, hooks: RunHooks, *, heartbeat_s: float = 1.0,
            log_max_bytes: int = DEFAULT_LOG_MAX_BYTES) -> RunOutcome:
    """Run spec's trainer in a child process and return how it ended.

    hooks.on_start(pid) once the child is started; hooks.on_tick(Tick) at least every
    heartbeat_s while it runs, and once more after it ends with whatever arrived last
    (not after a cancellation). on_tick returning False stops the job ("cancelled").
    Exceptions from the hooks propagate, after the child has been killed.
    """
    if not (spec.timeout_s > 0 and math.isfinite(spec.timeout_s)) or not spec.memory_mb > 0 or heartbeat_s <= 0:
        raise ValueError("timeout_s, memory_mb and heartbeat_s must be positive")
    started = time.monotonic()
    workdir = Path(spec.workdir)
    (workdir / "artifacts").mkdir(parents=True, exist_ok=True)
    allowed_modules = list(trainer_modules() if spec.allowed_modules is None else spec.allowed_modules)
    try:
        info = resolve(spec.trainer, allowed_modules)
        params = validate_params(info, spec.params)
        validate_dataset(info, spec.dataset)
    except TrainerRefused as exc:
        return _refused(spec, str(exc), started)
    except ValidationError as exc:
        return _refused(spec, f"invalid job: {_validation_message(exc)}", started)

    child_spec = {"job_id": spec.job_id, "trainer": spec.trainer, "dataset": spec.dataset, "params": params,
                  "seed": int(spec.seed), "workdir": str(workdir), "memory_mb": int(spec.memory_mb),
                  "allowed_modules": allowed_modules}
    context = _mp_context()
    reader, writer = context.Pipe(duplex=False)
    _widen_pipe(writer)
    launched = time.monotonic()
    try:
        with _starting_child():
            process = context.Process(target=child.main, args=(writer, child_spec),
                                      name=f"mlkanban-job-{spec.job_id}")
            process.start()
    except BaseException:
        reader.close()
        raise
    finally:
        writer.close()  # ours; the child holds its copy, so EOF means the child is gone
    run = _Run(spec, hooks, reader, process, heartbeat_s, launched)
    state, error, tb = None, "", ""
    try:
        hooks.on_start(process.pid)
        versions = code_version(_source_file(info.function))
        try:
            state, error = run.watch()
        except ProtocolError as exc:
            state, error = "failed", f"the trainer process sent a malformed message ({exc})"
    finally:
        # Whatever happened (our decision, its exit, an exception in a hook): nothing of
        # the job may keep running. The group also holds anything the trainer started.
        _kill_group(process)
        process.join(EXIT_GRACE_S)
        if process.exitcode is None:
            logger.error("trainer process %s did not die after SIGKILL", process.pid)
    exit_code = process.exitcode
    try:
        if state != "cancelled":
            run.receive_available()  # the last batches, written before it exited
    except ProtocolError as exc:
        state, error = state or "failed", f"the trainer process sent a malformed message ({exc})"
    finally:
        reader.close()
        if exit_code is not None:
            process.close()

    exit_signal = -exit_code if exit_code is not None and exit_code < 0 else None
    if state is None:
        if run.final is None:
            state = "failed"
            error, exit_signal = _describe_exit(exit_code)
        elif run.final.get("ok") is True:
            state = "succeeded"
        else:
            state = "failed"
            error = _clean_text(run.final.get("error") or "the trainer failed", 1000)
            tb = _clean_text(run.final.get("traceback") or "")
    if state != "cancelled":
        run.hooks.on_tick(Tick(metrics=run.pending_points, progress=run.pending_progress,
                               message=run.pending_message, params=run.pending_params, rss_mb=0.0))
    log, skipped = read_bounded_log(workdir / "output.log", log_max_bytes)
    return RunOutcome(
        state=state, error=error, traceback=tb, final_metrics=dict(run.final_metrics),
        params_logged=dict(run.params_logged), artifacts=list(run.artifacts.values()), log=log,
        log_skipped_bytes=skipped, exit_code=exit_code, signal=exit_signal,
        duration_s=round(time.monotonic() - started, 3), code_version=versions, environment=environment(),
        startup=run.hello or {},
    )
