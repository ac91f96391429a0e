"""Trainers for the benchmarks (bench/jobs.py, bench/metrics.py); allowlisted there
through MLKANBAN_TRAINER_MODULES=bench.trainers, never in a deployment.

Each logs its own start and end times (time.time(), as params) so the bench reads
when the trainer really ran instead of guessing from the job's timestamps.
"""

from __future__ import annotations

import time

from experiments.trainers import Param, trainer


def busy(seconds: float, *, spin: bool) -> None:
    """Sleep for `seconds`, or compute for `seconds` of this process's CPU time (which
    takes longer on a busy machine, as a real training would)."""
    if not spin:
        time.sleep(seconds)
        return
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def one_second_body(ctx, *, seconds: float, spin: bool, metrics: int) -> None:
    """The work of `second`, callable without the board (the bare loop of bench/jobs.py)."""
    started = time.time()
    ctx.log_params({"bench_started": started})
    for step in range(metrics):
        busy(seconds / metrics, spin=spin)
        ctx.log_metric("loss", 1.0 / (step + 1), step=step)
        ctx.progress((step + 1) / metrics)
    ctx.log_metric("score", 0.99)
    ctx.log_params({"bench_ended": time.time()})


@trainer(
    title="Bench: one second",
    params=[
        Param("seconds", "float", 1.0, min=0.0, max=600.0, help="How long it works."),
        Param("spin", "bool", False, help="Compute (CPU time) instead of sleeping."),
        Param("metrics", "int", 4, min=1, max=1000, help="Points of its loss curve."),
    ],
    datasets=["iris"],
)
def second(ctx):
    one_second_body(ctx, seconds=ctx.params["seconds"], spin=ctx.params["spin"], metrics=ctx.params["metrics"])


@trainer(
    title="Bench: many metric points",
    params=[Param("points", "int", 100_000, min=1, max=10_000_000)],
    datasets=["iris"],
)
def points(ctx):
    """ctx.log_metric `points` times, as fast as it can (three keys, like loss/accuracy curves)."""
    count = ctx.params["points"]
    keys = ("loss", "accuracy", "lr")
    ctx.log_params({"bench_started": time.time()})
    for i in range(count):
        ctx.log_metric(keys[i % 3], i * 1e-6, step=i // 3)
    ctx.log_params({"bench_ended": time.time()})
