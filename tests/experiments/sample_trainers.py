"""Trainers for the runner's tests; allowed with settings.TRAINER_MODULES in each test."""

import os
import subprocess
import sys
import time

from experiments.trainers import Param, trainer


@trainer(title="Logs 10,000 points", params=[Param("points", "int", 10_000, min=1, max=1_000_000)])
def many_points(ctx):
    for i in range(ctx.params["points"]):
        ctx.log_metric("loss", 1.0 / (i + 1))


@trainer(title="Logs once and returns", params=[])
def quick(ctx):
    ctx.log_metric("score", 0.5)
    ctx.log_params({"chosen": "yes"})


@trainer(title="Raises", params=[])
def raises(ctx):
    ctx.log_metric("before_failure", 1.0)
    raise ValueError("bad value 42")


@trainer(title="Logs NaN", params=[])
def logs_nan(ctx):
    ctx.log_metric("loss", float("nan"))


@trainer(title="Logs a point every 50 ms, forever", params=[])
def runs_forever(ctx):
    step = 0
    while True:
        ctx.log_metric("heartbeat", step)
        step += 1
        time.sleep(0.05)


@trainer(title="Silent for a second", params=[])
def silent(ctx):
    time.sleep(1.0)


@trainer(title="Allocates 512 MiB", params=[])
def allocates(ctx):
    import numpy as np

    ctx.log_metric("before_allocation", 1.0)
    block = np.ones(512 * 1024 * 1024 // 8)  # touched, so it is really resident
    ctx.log_metric("after_allocation", float(block[-1]))


@trainer(title="Starts a process that allocates 400 MiB", params=[])
def grandchild_allocates(ctx):
    # A fresh interpreter's address space is small, so the inherited RLIMIT_AS lets it
    # allocate far beyond the cap: only the parent's resident-memory watchdog sees it.
    code = "import time; block = b'x' * (400 * 1024 * 1024); time.sleep(600)"
    process = subprocess.Popen([sys.executable, "-c", code])
    (ctx.workdir / "grandchild.pid").write_text(str(process.pid))
    process.wait()


@trainer(title="Prints 5 MB", params=[])
def prints(ctx):
    print("FIRST LINE")
    line = "x" * 99
    for _ in range(50_000):
        print(line)
    print("LAST LINE", flush=True)
    ctx.log_metric("printed", 1.0)


@trainer(title="Reports the runtime it found", params=[])
def reports_pid(ctx):
    ctx.log_params({"pid": os.getpid(), "pgid": os.getpgid(0), "omp_threads": os.environ.get("OMP_NUM_THREADS"),
                    "secret_key_visible": "SECRET_KEY" in os.environ})


def not_decorated(ctx):
    """A plain function: refused."""


@trainer(title="Sleeps without a word", params=[])
def sleeps_quietly(ctx):
    time.sleep(600)  # never writes to the pipe, so it would not notice its parent is gone
