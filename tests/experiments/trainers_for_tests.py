"""Trainers for the job machinery's tests (services, a real worker, faults).

Allowed in the test process through the `settings` fixture and in worker
subprocesses through MLKANBAN_TRAINER_MODULES (tests/experiments/conftest.py).
"""

import time

from experiments.trainers import Param, trainer


@trainer(
    title="Sleeps, logging progress and a loss curve",
    params=[
        Param("seconds", "float", 1.0, min=0.0, max=600.0, help="How long it runs in all."),
        Param("steps", "int", 10, min=1, max=10_000, help="Curve points (and progress ticks)."),
        Param("score", "float", 0.95, min=0.0, max=1.0, help="The final accuracy it reports."),
    ],
)
def sleepy(ctx):
    steps = ctx.params["steps"]
    for step in range(1, steps + 1):
        time.sleep(ctx.params["seconds"] / steps)
        ctx.log_metric("loss", 1.0 / step, step)
        ctx.progress(step / steps, f"step {step} of {steps}")
    ctx.log_metrics({"accuracy": ctx.params["score"]})


@trainer(title="Raises after a first metric", params=[])
def raises(ctx):
    ctx.log_metric("loss", 0.5, 0)
    raise ValueError("the data has no column 'label'")


@trainer(title="Hangs without a word", params=[])
def hangs(ctx):
    while True:
        time.sleep(1)


@trainer(title="Allocates a block", params=[Param("mib", "int", 512, min=1, max=100_000)])
def allocates(ctx):
    import numpy as np

    ctx.log_metric("before_allocation", 1.0, 0)
    block = np.ones(ctx.params["mib"] * 1024 * 1024 // 8)  # touched: really resident
    ctx.log_metric("after_allocation", float(block[-1]), 0)


@trainer(title="Prints megabytes", params=[Param("megabytes", "int", 5, min=1, max=100)])
def prints(ctx):
    print("FIRST LINE")
    line = "x" * 99
    for _ in range(ctx.params["megabytes"] * 10_000):  # 100 bytes a line
        print(line)
    print("LAST LINE", flush=True)
    ctx.log_metrics({"accuracy": 0.5})
