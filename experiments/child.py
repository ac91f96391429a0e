"""The trainer's child process: one job, forked from a warmed fork server.

experiments.runner starts `main` through multiprocessing's forkserver, whose server
process has imported PRELOAD_MODULES once, so a job starts in milliseconds instead of
paying the ~2 s scikit-learn import. Never imports Django: the parent passes
everything the child needs (the allowlist included) in the spec.

Messages to the parent are JSON (never pickle: the parent must not run code the
trainer chose), one dict each: hello, batch (metrics, progress, message, params),
artifact, and final.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback
from pathlib import Path

from experiments.trainers import resolve
from experiments.trainers.context import TrainerContext

# Imported once by the fork server; every job is a fork of it.
PRELOAD_MODULES = [
    "numpy", "scipy", "joblib", "threadpoolctl",
    "sklearn", "sklearn.datasets", "sklearn.model_selection", "sklearn.metrics", "sklearn.preprocessing",
    "sklearn.pipeline", "sklearn.linear_model", "sklearn.ensemble", "sklearn.neural_network", "sklearn.svm",
    "matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg",
    "experiments.child", "experiments.trainers.builtin",
    "experiments.child_preload",  # last: limits the thread pools once, for every fork
]
MiB = 1024 * 1024
TRACEBACK_MAX_CHARS = 64 * 1024
ERROR_MAX_CHARS = 500
# Not for trainer code, nor for anything it starts.
SECRET_ENV_NAMES = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
SECRET_ENV_WORDS = ("PASSWORD", "SECRET", "TOKEN")
PR_SET_PDEATHSIG = 1


def _statm_bytes() -> tuple[int, int]:
    """(address space, resident set) of this process, in bytes."""
    with open("/proc/self/statm") as f:
        size, resident = f.read().split()[:2]
    page = os.sysconf("SC_PAGE_SIZE")
    return int(size) * page, int(resident) * page


def _die_with_parent() -> None:
    """SIGKILL this process when its parent (the fork server) exits.

    The fork server exits when the worker process that started it dies, so a killed
    Celery worker does not leave trainers running on.
    """
    try:
        import ctypes
        import signal

        parent = os.getppid()
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    except (OSError, AttributeError):
        pass  # not Linux: the runner still kills the process group itself


def _release_fork_server() -> None:
    """Close our copy of the fork server's "client alive" pipe, which the stdlib hands to
    every child: the server exits when the worker that started it dies only once no
    child holds that pipe (and _die_with_parent then takes the trainer down with it)."""
    from multiprocessing import forkserver

    server = forkserver._forkserver
    if getattr(server, "_forkserver_alive_fd", None) is not None:
        try:
            os.close(server._forkserver_alive_fd)
        except OSError:
            pass
        server._forkserver_alive_fd = None


_pools_limited = False  # set in the fork server (child_preload), inherited by every fork


def _limit_threads() -> None:
    # One thread per job: the machine's cores are shared by the workers' jobs.
    global _pools_limited
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[name] = "1"
    # Already loaded BLAS/OpenMP pools ignore the variables. threadpoolctl takes 60-200 ms
    # to find them, so the fork server does it once before forking (bench/jobs.py).
    if "threadpoolctl" in sys.modules and not _pools_limited:
        sys.modules["threadpoolctl"].threadpool_limits(1)
        _pools_limited = True


def _scrub_environment() -> None:
    for name in list(os.environ):
        if name in SECRET_ENV_NAMES or any(word in name.upper() for word in SECRET_ENV_WORDS):
            del os.environ[name]


def _redirect_output(path: Path) -> None:
    """fd 1 and 2 (and so whatever the trainer or its libraries print) into output.log."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)


def _one_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:ERROR_MAX_CHARS]


def main(conn, spec: dict) -> None:
    """Run spec["trainer"] with limits, reporting through conn (the write end of a pipe)."""
    os.setpgid(0, 0)  # the runner kills the whole group: the trainer and anything it started
    _die_with_parent()
    _release_fork_server()
    preloaded = {name: name in sys.modules for name in ("numpy", "sklearn", "matplotlib")}
    _limit_threads()
    _scrub_environment()
    os.environ["MPLBACKEND"] = "Agg"
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].use("Agg")
    workdir = Path(spec["workdir"])
    _redirect_output(workdir / "output.log")

    def send(message: dict) -> None:
        conn.send_bytes(json.dumps(message, allow_nan=False).encode())

    # The cap counts what the trainer allocates beyond the preloaded runtime (numpy,
    # scikit-learn, matplotlib are already mapped): address space now + memory_mb.
    address_space, resident = _statm_bytes()
    memory_mb = int(spec["memory_mb"])
    limit = address_space + memory_mb * MiB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    send({"type": "hello", "pid": os.getpid(), "rss_mb": resident / MiB, "address_space_mb": address_space / MiB,
          "preloaded": preloaded})

    ctx = None
    try:
        info = resolve(spec["trainer"], spec["allowed_modules"])  # re-checks the allowlist
        ctx = TrainerContext(params=spec["params"], dataset=spec["dataset"], seed=int(spec["seed"]),
                             workdir=workdir, send=send)
        info.function(ctx)
        ctx.flush()
        result = {"type": "final", "ok": True}
    except MemoryError:
        result = {"type": "final", "ok": False, "error": f"memory cap of {memory_mb} MiB exceeded",
                  "traceback": traceback.format_exc()[-TRACEBACK_MAX_CHARS:]}
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from a trainer are failures too
        result = {"type": "final", "ok": False, "error": _one_line(f"{type(exc).__name__}: {exc}"),
                  "traceback": traceback.format_exc()[-TRACEBACK_MAX_CHARS:]}
    if not result["ok"] and ctx is not None:
        try:  # what was logged before the failure is worth keeping
            ctx.flush()
        except Exception:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    send(result)
    conn.close()
    # Now, without joining threads the trainer left behind or running exit handlers.
    os._exit(0)


def ping() -> None:
    """A no-op job: runner.warm(wait=True) starts one to wait for the fork server."""
