"""Benchmark: training jobs through real Celery workers.

    .venv/bin/python bench/jobs.py --jobs 50 [--concurrency 2] [--seconds 1] [--spin] [--skip-lost] [--keep]

Needs a real broker and database: DATABASE_URL (PostgreSQL), CELERY_BROKER_URL
(Redis), REDIS_URL and SECRET_KEY; SQLite with the filesystem broker works too.
It migrates, purges the broker's queues, starts its own worker (`celery -A mlkanban
worker -c N -Q default,train`) and beat (the reaper, every JOB_REAP_EVERY_S) as
subprocesses, and runs bench.trainers:second, a trainer that sleeps (or with --spin
computes for that much CPU time) for --seconds and logs a few metrics, allowlisted by adding
bench.trainers to MLKANBAN_TRAINER_MODULES for this run. The trainer logs its own
start and end times (time.time()), so nothing is inferred from the job's row.

Phases (after 2 × concurrency warm-up jobs, not counted):
  latency   --jobs jobs, at most --concurrency at a time (none waits in the queue),
            each created through services.job_create in its own transaction:
            dispatch_ms   commit → trainer running (p50); the commit time is taken by an
                          on_commit callback registered before job_create's, so the
                          broker send is inside the measured span
            writeback_ms  trainer's last line → the run's TicketEvent (its `at`), written
                          in the transaction that also sets the hypothesis verdict (p50)
  burst     --jobs jobs created back to back, as a sweep would be:
            overhead_ratio  (first create → last run event) ÷ the same trainings run bare,
                            --concurrency forked processes each calling the trainer's
                            body --jobs/--concurrency times in a loop
  lost      a --seconds×5 job; once it runs, SIGKILL the worker's process group and start a
            replacement worker (beat keeps running):
            lost_detect_s   kill → the job re-queued or failed by the reaper
            jobs_lost       the bench board's jobs not in a final state at the end, once the
                            replacement worker has run the re-queued job

The last line printed is one JSON object:
`jobs, dispatch_ms, writeback_ms, overhead_ratio, lost_detect_s, jobs_lost, db` and some
detail (p95s, where dispatch time goes, wall times). The bench board is erased at the end
through services.board_purge unless --keep; nothing else in the database is touched.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import subprocess
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
# The bench trainer must be allowed here (job_create checks) and in the worker (it re-checks).
_modules = [m for m in os.environ.get("MLKANBAN_TRAINER_MODULES", "experiments.examples").split(",") if m]
os.environ["MLKANBAN_TRAINER_MODULES"] = ",".join(dict.fromkeys([*_modules, "bench.trainers"]))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from bench.trainers import one_second_body  # noqa: E402
from board import services as board_services  # noqa: E402
from board.models import Board, Hypothesis, TicketEvent  # noqa: E402
from board.services import results as board_results  # noqa: E402
from experiments import services  # noqa: E402
from experiments.models import FINAL_STATES, JobState, TrainingJob  # noqa: E402
from experiments.trainers.context import TrainerContext  # noqa: E402
from mlkanban.celery import app  # noqa: E402

User = get_user_model()
OWNER = "bench-owner"
BOARD_PREFIX = "bench-jobs-"
TRAINER = "bench.trainers:second"
POLL_S = 0.01
TICKETS = 5


# --- statistics -------------------------------------------------------------

def percentile(values, p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    data = sorted(values)
    k = (len(data) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def r(value, digits: int = 1):
    """Rounded for the JSON line; None when there was nothing to measure."""
    return None if value is None or value != value else round(value, digits)  # NaN != NaN


# --- processes ----------------------------------------------------------------

class Celery:
    """The bench's own worker(s) and beat, each in its own process group."""

    def __init__(self, workdir: Path, concurrency: int):
        self.workdir, self.concurrency = workdir, concurrency
        self.processes: list[subprocess.Popen] = []
        self.count = 0

    def _start(self, *args: str, log: str) -> subprocess.Popen:
        out = open(self.workdir / log, "ab")  # noqa: SIM115 (kept open for the child's life)
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "mlkanban", *args], cwd=ROOT, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,  # its own group: killpg reaches its pool and forks
        )
        out.close()
        self.processes.append(process)
        return process

    def worker(self) -> tuple[subprocess.Popen, str]:
        self.count += 1
        name = f"bench-jobs-{os.getpid()}-{self.count}@{socket.gethostname()}"
        process = self._start(
            "worker", "-n", name, "-c", str(self.concurrency), "-Q", f"{settings.CELERY_TASK_DEFAULT_QUEUE},train",
            "-l", "warning", "--without-gossip", "--without-mingle", log=f"worker-{self.count}.log",
        )
        wait_for(lambda: app.control.ping(destination=[name], timeout=0.5), 60, f"worker {name} to answer")
        return process, name

    def beat(self) -> subprocess.Popen:
        return self._start("beat", "-s", str(self.workdir / "celerybeat-schedule"), "-l", "warning", log="beat.log")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def wait_for(check, timeout_s: float, what: str, poll_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(poll_s)
    raise TimeoutError(f"waited {timeout_s:g} s for {what}")


# --- jobs ---------------------------------------------------------------------

def create_job(board, ticket, hypothesis, owner, params: dict) -> tuple[int, float]:
    """(job id, commit time): the time is read by the first on_commit callback,
    before job_create's own, which sends the task."""
    committed = []
    with transaction.atomic():
        transaction.on_commit(lambda: committed.append(time.time()))
        spec = services.JobSpec.clean(trainer=TRAINER, dataset="iris", params=params, timeout_s=600, memory_mb=512)
        job = services.job_create(board=board, ticket_id=ticket.pk, actor=owner, spec=spec,
                                  hypothesis_id=hypothesis.pk)
    return job.pk, committed[0]


def wait_final(job_ids, timeout_s: float) -> None:
    wait_for(lambda: not TrainingJob.objects.filter(pk__in=job_ids).exclude(state__in=FINAL_STATES).exists(),
             timeout_s, f"{len(job_ids)} jobs to end", poll_s=0.05)


def run_events(board) -> dict[int, float]:
    """job id → the `at` of its run event (the last one, for a job that ran twice)."""
    events = TicketEvent.objects.filter(board=board, field="run").values_list("new", "at").order_by("id")
    return {new["run"]: at.timestamp() for new, at in events if isinstance(new, dict) and "run" in new}


def timings(board, created: dict[int, float]) -> list[dict]:
    events = run_events(board)
    rows = []
    for job in TrainingJob.objects.filter(pk__in=created).order_by("id"):
        logged = job.params_logged or {}
        if job.state != JobState.SUCCEEDED or "bench_started" not in logged or job.pk not in events:
            rows.append({"job": job.pk, "state": job.state, "error": job.error})
            continue
        rows.append({
            "job": job.pk, "state": job.state, "commit": created[job.pk], "claimed": job.started_at.timestamp(),
            "started": logged["bench_started"], "ended": logged["bench_ended"],
            "finished": job.finished_at.timestamp(), "event": events[job.pk],
        })
    return rows


def latency_phase(board, tickets, owner, n: int, concurrency: int, params: dict) -> list[dict]:
    """n jobs, never more than `concurrency` at once, so none waits in the queue."""
    created: dict[int, float] = {}
    in_flight: set[int] = set()
    deadline = time.monotonic() + 120 + n * params["seconds"] * 3
    while len(created) < n or in_flight:
        if time.monotonic() > deadline:
            raise TimeoutError(f"latency phase: {len(in_flight)} jobs still running at the deadline")
        while len(in_flight) < concurrency and len(created) < n:
            ticket, hypothesis = tickets[len(created) % len(tickets)]
            job_id, committed = create_job(board, ticket, hypothesis, owner, params)
            created[job_id] = committed
            in_flight.add(job_id)
        time.sleep(POLL_S)
        in_flight -= set(TrainingJob.objects.filter(pk__in=in_flight, state__in=FINAL_STATES)
                         .values_list("id", flat=True))
    return timings(board, created)


def burst_phase(board, tickets, owner, n: int, params: dict) -> tuple[float, list[dict]]:
    """n jobs created back to back; wall time from the first create to the last run event."""
    created: dict[int, float] = {}
    started = time.time()
    for i in range(n):
        ticket, hypothesis = tickets[i % len(tickets)]
        job_id, committed = create_job(board, ticket, hypothesis, owner, params)
        created[job_id] = committed
    wait_final(list(created), 120 + n * params["seconds"] * 3)
    events = run_events(board)
    wall = max(events[job_id] for job_id in created) - started
    return wall, timings(board, created)


def _bare_loop(count: int, params: dict) -> None:
    for _ in range(count):
        ctx = TrainerContext(params=params, dataset="iris", seed=0, workdir=Path(tempfile.gettempdir()),
                             send=lambda message: None)
        one_second_body(ctx, seconds=params["seconds"], spin=params["spin"], metrics=params["metrics"])
        ctx.flush()


def slot_gaps(rows: list[dict], slots: int) -> list[float]:
    """Burst: on each worker process, one trainer's end → the next trainer's start (ms).
    Each job is given to the process that freed up last before it started."""
    ends = [None] * slots
    gaps = []
    for row in sorted((row for row in rows if "started" in row), key=lambda row: row["started"]):
        free = [i for i, end in enumerate(ends) if end is None or end <= row["started"]]
        if not free:
            continue  # overlapping clocks: skip rather than guess
        slot = max(free, key=lambda i: ends[i] or 0)
        if ends[slot] is not None:
            gaps.append((row["started"] - ends[slot]) * 1000)
        ends[slot] = row["ended"]
    return gaps


def bare_wall(n: int, concurrency: int, params: dict) -> float:
    """The same trainings without the board: `concurrency` processes, each a loop of calls."""
    context = multiprocessing.get_context("fork")
    shares = [n // concurrency + (1 if i < n % concurrency else 0) for i in range(concurrency)]
    started = time.time()
    processes = [context.Process(target=_bare_loop, args=(share, params)) for share in shares]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return time.time() - started


def lost_phase(board, tickets, owner, celery: Celery, worker: subprocess.Popen, params: dict) -> dict:
    """SIGKILL the worker's whole process group mid-job; beat (the reaper) runs on.
    A replacement worker is started at once, as a supervisor would."""
    ticket, hypothesis = tickets[0]
    long_params = {**params, "seconds": params["seconds"] * 5}
    job_id, _ = create_job(board, ticket, hypothesis, owner, long_params)
    job = wait_for(lambda: TrainingJob.objects.filter(pk=job_id, state=JobState.RUNNING, pid__isnull=False).first(),
                   60, "the long job to run")
    time.sleep(min(1.0, long_params["seconds"] / 3))  # mid-job, a heartbeat or so after it started
    trainer_pid = job.pid
    os.killpg(worker.pid, signal.SIGKILL)
    killed = time.time()
    worker.wait()
    celery.worker()  # the replacement

    def detected():
        job = TrainingJob.objects.get(pk=job_id)
        if job.state in (JobState.QUEUED, JobState.FAILED) or job.attempts > 1:
            seen = time.time()
            # A re-queued job may already be claimed again: its new start is an upper bound too.
            return min(seen, job.started_at.timestamp()) if job.attempts > 1 else seen
        return None

    budget = settings.JOB_LOST_AFTER_S + settings.JOB_REAP_EVERY_S * 3 + 60
    detect_s = wait_for(detected, budget, "the reaper to notice the lost job") - killed
    _end_orphan(trainer_pid)
    wait_final([job_id], 60 + long_params["seconds"] * 3)
    job = TrainingJob.objects.get(pk=job_id)
    return {"lost_detect_s": detect_s, "lost_job_state": job.state, "lost_job_attempts": job.attempts}


def _end_orphan(pid: int | None) -> None:
    """The killed worker's trainer child leads its own process group, so killpg on the
    worker did not reach it; end it if it is still that group (it would exit on its own)."""
    if not pid:
        return
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --- main -------------------------------------------------------------------

def setup_board(owner, stamp: str):
    board = board_services.board_create(user=owner, name=f"{BOARD_PREFIX}{stamp}", template=Board.Template.ML_SPRINT,
                                        key="BJ")
    tickets = []
    for i in range(TICKETS):
        ticket = board_services.ticket_create(
            board=board, actor=owner, data=board_services.TicketInput(title=f"Bench experiment {i + 1}"),
        )
        hypothesis = board_results.hypothesis_create(
            board=board, ticket_id=ticket.pk, actor=owner, statement="The bench trainer scores above 0.9",
            metric="score", target=0.9,
        )
        tickets.append((ticket, hypothesis))
    return board, tickets


def report(name: str, rows: list[dict]) -> dict:
    ok = [row for row in rows if "started" in row]
    out = {
        "dispatch": [(row["started"] - row["commit"]) * 1000 for row in ok],
        "to_claim": [(row["claimed"] - row["commit"]) * 1000 for row in ok],
        "claim_to_trainer": [(row["started"] - row["claimed"]) * 1000 for row in ok],
        "writeback": [(row["event"] - row["ended"]) * 1000 for row in ok],
        "to_finish": [(row["finished"] - row["ended"]) * 1000 for row in ok],
    }
    print(f"{name}: {len(ok)} of {len(rows)} jobs succeeded with timings")
    for row in rows:
        if "started" not in row:
            print(f"  job {row['job']}: {row['state']} {row.get('error', '')[:200]}")
    for key, values in out.items():
        print(f"  {key:17} p50 {percentile(values, 50):8.1f} ms  p95 {percentile(values, 95):8.1f} ms  "
              f"max {max(values, default=float('nan')):8.1f} ms")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=50, help="jobs in each of the latency and burst phases")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--seconds", type=float, default=1.0, help="how long each training takes (default 1)")
    parser.add_argument("--spin", action="store_true", help="trainings compute for --seconds of CPU time, not sleep")
    parser.add_argument("--skip-lost", action="store_true", help="skip the SIGKILL phase (about a minute)")
    parser.add_argument("--keep", action="store_true", help="keep the bench board afterwards")
    args = parser.parse_args(argv)
    if args.jobs < 2 or args.concurrency < 1 or not 0 < args.seconds <= 60:
        parser.error("--jobs at least 2, --concurrency at least 1, --seconds in (0, 60]")

    call_command("migrate", verbosity=0, interactive=False)
    db = connection.vendor
    print(f"database: {db} ({connection.settings_dict.get('NAME')}); broker {app.conf.broker_url.split('://')[0]}; "
          f"JOB_HEARTBEAT_S={settings.JOB_HEARTBEAT_S} JOB_LOST_AFTER_S={settings.JOB_LOST_AFTER_S} "
          f"JOB_REAP_EVERY_S={settings.JOB_REAP_EVERY_S}")
    params = {"seconds": args.seconds, "spin": args.spin, "metrics": 4}
    owner, created_owner = User.objects.get_or_create(username=OWNER, defaults={"email": "owner@bench.invalid"})
    for stale in Board.objects.filter(name__startswith=BOARD_PREFIX):  # a crashed earlier run's
        board_services.board_purge(board=stale)
    purged = app.control.purge()
    if purged:
        print(f"purged {purged} waiting messages from the broker")
    board, tickets = setup_board(owner, time.strftime("%Y%m%d-%H%M%S"))
    workdir = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    celery = Celery(workdir, args.concurrency)
    result = {"jobs": args.jobs}
    failed = False
    try:
        t0 = time.monotonic()
        worker, _ = celery.worker()
        celery.beat()
        warm = [create_job(board, *tickets[0], owner, {**params, "seconds": 0.1})[0]
                for _ in range(2 * args.concurrency)]
        wait_final(warm, 120)
        print(f"worker ready and warm in {time.monotonic() - t0:.1f} s (logs in {workdir})")

        latency = report("latency", latency_phase(board, tickets, owner, args.jobs, args.concurrency, params))
        board_wall, burst_rows = burst_phase(board, tickets, owner, args.jobs, params)
        burst = report("burst", burst_rows)
        gaps = slot_gaps(burst_rows, args.concurrency)
        print(f"burst: a trainer's end → the next one's start on the same worker process: "
              f"p50 {percentile(gaps, 50):.1f} ms, p95 {percentile(gaps, 95):.1f} ms")
        bare = bare_wall(args.jobs, args.concurrency, params)
        ratio = board_wall / bare
        print(f"burst: {args.jobs} trainings through the board in {board_wall:.2f} s, bare in {bare:.2f} s "
              f"({args.concurrency} processes): ratio {ratio:.3f}")
        result.update(
            dispatch_ms=r(percentile(latency["dispatch"], 50)), writeback_ms=r(percentile(latency["writeback"], 50)),
            overhead_ratio=r(ratio, 3),
        )
        if args.skip_lost:
            lost = {}
        else:
            lost = lost_phase(board, tickets, owner, celery, worker, params)
            print(f"lost: detected {lost['lost_detect_s']:.1f} s after SIGKILL; the job then "
                  f"{lost['lost_job_state']} on attempt {lost['lost_job_attempts']}")
            result["lost_detect_s"] = r(lost["lost_detect_s"])
        result["jobs_lost"] = TrainingJob.objects.filter(board=board).exclude(state__in=FINAL_STATES).count()
        hypotheses = set(Hypothesis.objects.filter(board=board).values_list("status", flat=True))
        print(f"hypotheses on the bench tickets: {sorted(hypotheses)}")
        failed = hypotheses != {Hypothesis.Status.SUPPORTED} or result["jobs_lost"] > 0
        result.update(
            db=db,
            dispatch_p95_ms=r(percentile(latency["dispatch"], 95)),
            writeback_p95_ms=r(percentile(latency["writeback"], 95)),
            to_claim_ms=r(percentile(latency["to_claim"], 50)),
            claim_to_trainer_ms=r(percentile(latency["claim_to_trainer"], 50)),
            burst_writeback_ms=r(percentile(burst["writeback"], 50)), burst_gap_ms=r(percentile(gaps, 50)),
            board_wall_s=r(board_wall, 2), bare_wall_s=r(bare, 2),
        )
    finally:
        celery.stop()
        if args.keep:
            print(f"kept board {board.pk} (--keep)")
        else:
            board_services.board_purge(board=Board.objects.get(pk=board.pk))
            if created_owner and not Board.objects.filter(memberships__user=owner).exists():
                owner.delete()
    print(json.dumps(result, separators=(",", ":")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
