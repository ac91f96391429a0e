"""Benchmark: metric points ingested through the trainer context, against MLflow.

    .venv/bin/python bench/metrics.py --points 100000 [--keep]

Works on the configured database (DATABASE_URL, default SQLite under var/ or
MLKANBAN_VAR_DIR); needs the `bench` extra (`pip install -e '.[bench]'`) for MLflow.
It migrates, builds a bench board ("bench-metrics-<stamp>") with one card, and runs
one job of bench.trainers:points through the real path in this process
(services.job_create, then services.job_run: a forked trainer child, the pipe, the
runner's batches, services.metrics_insert), allowlisted by adding bench.trainers to
MLKANBAN_TRAINER_MODULES for this run. The trainer calls ctx.log_metric --points
times (three keys) and logs the time of its first call.

Measured:
  points_per_s         --points ÷ (the trainer's first log_metric → the commit of the
                       transaction holding the last points), all points then counted
                       in the Metric table
  insert_s             time spent in services.metrics_insert (the database's share)
  mlflow_points_per_s  the same points through MlflowClient.log_batch, batches of 1,000
                       (MLflow's limit per call), into a SQLite tracking store in a temp
                       dir (its tables created before timing)
  ratio                points_per_s ÷ mlflow_points_per_s

The last line printed is one JSON object:
`points, points_per_s, mlflow_points_per_s, ratio, db`, plus `insert_s` and `batches`.
The bench board is erased at the end through services.board_purge unless --keep.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, Python puts bench/ first on sys.path, where bench/board.py would
# shadow the `board` app: drop it and put the repository root first instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlkanban.settings")
_modules = [m for m in os.environ.get("MLKANBAN_TRAINER_MODULES", "experiments.examples").split(",") if m]
os.environ["MLKANBAN_TRAINER_MODULES"] = ",".join(dict.fromkeys([*_modules, "bench.trainers"]))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from board import services as board_services  # noqa: E402
from board.models import Board  # noqa: E402
from experiments import runner, services  # noqa: E402
from experiments.models import JobState, Metric  # noqa: E402

User = get_user_model()
OWNER = "bench-owner"
KEYS = ("loss", "accuracy", "lr")
MLFLOW_BATCH = 1000


def ingest(board, ticket, owner, n: int) -> dict:
    """One real job logging n points; returns its timings."""
    commits: list[tuple[float, int]] = []  # (time after the tick's commit, points in it)
    inserted = {"s": 0.0, "calls": 0}
    on_tick, metrics_insert = services._Hooks.on_tick, services.metrics_insert

    def timed_on_tick(self, tick):
        keep_going = on_tick(self, tick)
        if tick.metrics:
            commits.append((time.time(), len(tick.metrics)))
        return keep_going

    def timed_insert(job_id, points):
        t0 = time.perf_counter()
        try:
            return metrics_insert(job_id, points)
        finally:
            inserted["s"] += time.perf_counter() - t0
            inserted["calls"] += 1

    spec = services.JobSpec.clean(trainer="bench.trainers:points", dataset="iris", params={"points": n},
                                  timeout_s=3600, memory_mb=2048)
    job = services.job_create(board=board, ticket_id=ticket.pk, actor=owner, spec=spec, dispatch=False)
    services._Hooks.on_tick, services.metrics_insert = timed_on_tick, timed_insert
    try:
        state = services.job_run(job.pk, worker="bench-metrics")
    finally:
        services._Hooks.on_tick, services.metrics_insert = on_tick, metrics_insert
    job.refresh_from_db()
    if state != JobState.SUCCEEDED:
        raise RuntimeError(f"the bench job {state}: {job.error}")
    stored = Metric.objects.filter(job=job).count()
    if stored != n or sum(count for _, count in commits) != n:
        raise RuntimeError(f"{stored} points in the Metric table, {sum(c for _, c in commits)} committed; expected {n}")
    started = job.params_logged["bench_started"]
    return {"seconds": commits[-1][0] - started, "trainer_s": job.params_logged["bench_ended"] - started,
            "insert_s": inserted["s"], "batches": inserted["calls"]}


def mlflow_rate(n: int) -> float:
    from mlflow.entities import Metric as MlflowMetric
    from mlflow.tracking import MlflowClient

    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as folder:
        # mlflow-skinny serves no model registry on SQLite: a file registry keeps the client content.
        client = MlflowClient(tracking_uri=f"sqlite:///{folder}/mlflow.db", registry_uri=f"file://{folder}/registry")
        experiment = client.create_experiment("bench", artifact_location=f"file://{folder}/artifacts")
        run_id = client.create_run(experiment).info.run_id
        now_ms = int(time.time() * 1000)
        points = [MlflowMetric(KEYS[i % 3], i * 1e-6, now_ms + i // 3, i // 3) for i in range(n)]
        t0 = time.perf_counter()
        for start in range(0, n, MLFLOW_BATCH):
            client.log_batch(run_id, metrics=points[start:start + MLFLOW_BATCH])
        seconds = time.perf_counter() - t0
        client.set_terminated(run_id)
    return n / seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100_000, help="metric points to log (default 100,000)")
    parser.add_argument("--keep", action="store_true", help="keep the bench board afterwards")
    args = parser.parse_args(argv)
    if not 1_000 <= args.points <= 10_000_000:
        parser.error("--points between 1,000 and 10,000,000")

    call_command("migrate", verbosity=0, interactive=False)
    db = connection.vendor
    print(f"database: {db} ({connection.settings_dict.get('NAME')}); Django {django.get_version()}")
    owner, created_owner = User.objects.get_or_create(username=OWNER, defaults={"email": "owner@bench.invalid"})
    board = board_services.board_create(user=owner, name=f"bench-metrics-{time.strftime('%Y%m%d-%H%M%S')}",
                                        key="BM")
    ticket = board_services.ticket_create(board=board, actor=owner,
                                          data=board_services.TicketInput(title="Bench metrics"))
    try:
        t0 = time.perf_counter()
        runner.warm(wait=True)  # the fork server's imports are not ingestion
        print(f"trainer runtime warm in {time.perf_counter() - t0:.1f} s")
        ours = ingest(board, ticket, owner, args.points)
        points_per_s = args.points / ours["seconds"]
        print(f"mlkanban: {args.points:,} points in {ours['seconds']:.2f} s = {points_per_s:,.0f} points/s "
              f"(trainer's own loop {ours['trainer_s']:.2f} s; metrics_insert {ours['insert_s']:.2f} s "
              f"in {ours['batches']} calls)")
        mlflow = mlflow_rate(args.points)
        print(f"MLflow log_batch into SQLite: {mlflow:,.0f} points/s")
    finally:
        if args.keep:
            print(f"kept board {board.pk} (--keep)")
        else:
            board_services.board_purge(board=Board.objects.get(pk=board.pk))
            if created_owner and not Board.objects.filter(memberships__user=owner).exists():
                owner.delete()
    result = {"points": args.points, "points_per_s": round(points_per_s), "mlflow_points_per_s": round(mlflow),
              "ratio": round(points_per_s / mlflow, 2), "db": db, "insert_s": round(ours["insert_s"], 2),
              "batches": ours["batches"]}
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
