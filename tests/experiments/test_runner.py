"""experiments.runner with real child processes: outcomes, limits, batching, and the
fork server. Test trainers live in tests/experiments/sample_trainers.py."""

import os
import signal
import time
from pathlib import Path

import billiard
import pytest

from experiments import runner

SAMPLES = "tests.experiments.sample_trainers"


@pytest.fixture(autouse=True)
def allow_sample_trainers(settings):
    settings.TRAINER_MODULES = [SAMPLES]


class Recorder:
    """Hooks that record everything; `stop_when(tick)` returning True answers "stop"."""

    def __init__(self, stop_when=None, on_start=None):
        self.pid = None
        self.ticks = []
        self.stop_when = stop_when
        self.on_start_extra = on_start

    def on_start(self, pid):
        self.pid = pid
        if self.on_start_extra:
            self.on_start_extra(pid)

    def on_tick(self, tick):
        self.ticks.append(tick)
        return not (self.stop_when and self.stop_when(self, tick))

    def points(self, key=None):
        return [(k, step, value) for tick in self.ticks for k, step, value, _at in tick.metrics
                if key is None or k == key]


def execute(tmp_path, name, *, hooks=None, timeout_s=60, memory_mb=512, heartbeat_s=1.0, params=None, **spec):
    hooks = hooks or Recorder()
    outcome = runner.execute(
        runner.RunSpec(job_id=7, trainer=f"{SAMPLES}:{name}", dataset="iris", params=params or {},
                       timeout_s=timeout_s, memory_mb=memory_mb, workdir=tmp_path / "job", **spec),
        hooks, heartbeat_s=heartbeat_s,
    )
    return outcome, hooks


def gone(pid: int) -> bool:
    """True once pid has exited (a zombie counts as gone: it runs nothing)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# --- Outcomes --------------------------------------------------------------------------------

def test_ten_thousand_points_arrive_in_a_few_batches_and_the_last_value_is_final(tmp_path):
    outcome, hooks = execute(tmp_path, "many_points")

    assert outcome.state == "succeeded", outcome.error
    points = hooks.points("loss")
    assert len(points) == 10_000
    assert [step for _k, step, _v in points] == list(range(10_000))
    ticks_with_metrics = [t for t in hooks.ticks if t.metrics]
    assert len(ticks_with_metrics) <= 10  # batched: never one message, let alone one tick, per point
    assert outcome.final_metrics == {"loss": 1.0 / 10_000}
    assert all(at.tzinfo is not None for tick in ticks_with_metrics for *_rest, at in tick.metrics)
    assert outcome.exit_code == 0 and outcome.signal is None


def test_a_final_batch_reaches_the_last_tick_before_execute_returns(tmp_path):
    # A heartbeat far longer than the job: the only tick is the one after it ends.
    outcome, hooks = execute(tmp_path, "quick", heartbeat_s=30)

    assert outcome.state == "succeeded"
    assert hooks.points() == [("score", 0, 0.5)]
    assert hooks.ticks[-1].params == {"chosen": "yes"}
    assert outcome.params_logged == {"chosen": "yes"}


def test_ticks_keep_coming_while_the_trainer_is_silent(tmp_path):
    outcome, hooks = execute(tmp_path, "silent", heartbeat_s=0.1)

    assert outcome.state == "succeeded"
    silent_ticks = [t for t in hooks.ticks if not t.metrics and t.progress is None]
    assert len(silent_ticks) >= 3
    assert any(t.rss_mb > 10 for t in hooks.ticks)  # the trainer's memory, measured while it ran


def test_a_trainer_that_raises_fails_with_its_exception_and_traceback(tmp_path):
    outcome, hooks = execute(tmp_path, "raises")

    assert outcome.state == "failed"
    assert outcome.error == "ValueError: bad value 42"
    assert "sample_trainers.py" in outcome.traceback and "raise ValueError" in outcome.traceback
    assert hooks.points() == [("before_failure", 0, 1.0)]  # what it logged before failing is kept
    assert outcome.final_metrics == {"before_failure": 1.0}


def test_a_nan_metric_fails_the_job_with_a_clear_error(tmp_path):
    outcome, _ = execute(tmp_path, "logs_nan")

    assert outcome.state == "failed"
    assert outcome.error == "ValueError: metric 'loss': value nan is not finite (NaN and infinity are refused)"


def test_a_hanging_trainer_is_stopped_at_its_timeout(tmp_path):
    outcome, hooks = execute(tmp_path, "runs_forever", timeout_s=1)

    assert outcome.state == "timed_out"
    assert outcome.error == "stopped after 1 s (the job's timeout)"
    assert outcome.signal == signal.SIGKILL
    assert gone(hooks.pid)
    assert hooks.points("heartbeat")  # its points up to the end were delivered


def test_allocating_past_the_memory_cap_fails_with_the_cap_named(tmp_path):
    outcome, hooks = execute(tmp_path, "allocates", memory_mb=64)

    assert outcome.state == "failed"
    assert outcome.error == "memory cap of 64 MiB exceeded"
    assert "MemoryError" in outcome.traceback
    assert hooks.points() == [("before_allocation", 0, 1.0)]


def test_memory_of_processes_the_trainer_starts_counts_towards_the_cap(tmp_path):
    outcome, hooks = execute(tmp_path, "grandchild_allocates", memory_mb=64)

    assert outcome.state == "failed"
    assert outcome.error == "memory cap of 64 MiB exceeded"
    grandchild = int((tmp_path / "job" / "grandchild.pid").read_text())
    assert wait_until(lambda: gone(grandchild))  # killed with the trainer's process group


def test_a_huge_output_is_kept_bounded_and_the_job_still_succeeds(tmp_path):
    outcome, _ = execute(tmp_path, "prints")

    assert outcome.state == "succeeded"
    assert outcome.log.startswith("FIRST LINE\n")
    assert outcome.log.endswith("LAST LINE\n")
    head, marker, tail = outcome.log.partition(f"\n… {outcome.log_skipped_bytes} bytes skipped …\n")
    assert marker
    assert len(head.encode()) == 32 * 1024
    assert len(tail.encode()) == 256 * 1024 - 32 * 1024
    assert outcome.log_skipped_bytes == (tmp_path / "job" / "output.log").stat().st_size - 256 * 1024
    assert outcome.log_skipped_bytes > 4_500_000


def test_a_child_killed_from_outside_fails_naming_the_signal(tmp_path):
    killed = []

    def kill_once_running(hooks, tick):
        if hooks.points("heartbeat") and not killed:
            os.kill(hooks.pid, signal.SIGKILL)
            killed.append(hooks.pid)
        return False  # never stop it ourselves

    outcome, hooks = execute(tmp_path, "runs_forever", heartbeat_s=0.2,
                             hooks=Recorder(stop_when=kill_once_running))

    assert outcome.state == "failed"
    assert outcome.error == "the trainer process was killed by signal 9 (SIGKILL)"
    assert (outcome.exit_code, outcome.signal) == (-9, 9)


def test_on_tick_returning_false_cancels_and_kills_the_child(tmp_path):
    outcome, hooks = execute(tmp_path, "runs_forever", heartbeat_s=0.2,
                             hooks=Recorder(stop_when=lambda hooks, tick: bool(hooks.points())))

    assert outcome.state == "cancelled"
    assert gone(hooks.pid)
    # No tick after the one that said stop.
    assert bool(hooks.ticks[-1].metrics) and all(not t.metrics for t in hooks.ticks[:-1])


def test_an_exception_in_a_hook_propagates_after_the_child_is_killed(tmp_path):
    def explode(hooks, tick):
        raise RuntimeError("database gone")

    hooks = Recorder(stop_when=explode)
    with pytest.raises(RuntimeError, match="database gone"):
        execute(tmp_path, "runs_forever", heartbeat_s=0.2, hooks=hooks)

    assert wait_until(lambda: gone(hooks.pid))


def test_a_ref_outside_the_allowlist_fails_without_starting_a_child(tmp_path, settings):
    settings.TRAINER_MODULES = ["experiments.examples"]

    outcome, hooks = execute(tmp_path, "quick")

    assert outcome.state == "failed"
    assert "is not in MLKANBAN_TRAINER_MODULES; an administrator must add its module" in outcome.error
    assert hooks.pid is None and hooks.ticks == []


def test_the_child_rechecks_the_allowlist_it_is_given(tmp_path):
    # The spec's own allowlist is what the child checks, not the settings.
    outcome, hooks = execute(tmp_path, "quick", allowed_modules=("experiments.examples",))

    assert outcome.state == "failed" and "MLKANBAN_TRAINER_MODULES" in outcome.error
    assert hooks.pid is None


def test_invalid_params_fail_the_job_before_it_starts(tmp_path):
    outcome, hooks = execute(tmp_path, "many_points", params={"points": -5})

    assert outcome.state == "failed"
    assert outcome.error.startswith("invalid job: points: ")
    assert hooks.pid is None


# --- The child's runtime -------------------------------------------------------------------

def test_the_child_has_its_own_process_group_and_one_thread(tmp_path):
    outcome, hooks = execute(tmp_path, "reports_pid")

    assert outcome.state == "succeeded"
    assert outcome.params_logged["pid"] == outcome.params_logged["pgid"] == hooks.pid
    assert outcome.params_logged["omp_threads"] == "1"


def test_jobs_start_from_a_warm_fork_server_with_scikit_learn_already_imported(tmp_path):
    runner.warm(wait=True)
    first, _ = execute(tmp_path / "one", "quick")
    second, _ = execute(tmp_path / "two", "quick")

    for outcome in (first, second):
        assert outcome.state == "succeeded"
        assert outcome.startup["preloaded"] == {"numpy": True, "sklearn": True, "matplotlib": True}
    assert first.startup["pid"] != second.startup["pid"]


def test_outcome_records_environment_and_code_version(tmp_path):
    outcome, _ = execute(tmp_path, "quick")

    assert {"python", "numpy", "scikit-learn", "matplotlib", "celery", "django", "hostname", "platform"} <= set(
        outcome.environment)
    assert outcome.code_version["file"].endswith("tests/experiments/sample_trainers.py")
    assert outcome.duration_s > 0


def test_code_version_outside_a_git_checkout_has_no_commit(tmp_path):
    module = tmp_path / "team_trainer.py"
    module.write_text("")

    assert runner.code_version(module) == {"file": str(module), "commit": None, "dirty": None}


# --- Inside Celery's prefork pool ----------------------------------------------------------

def _job_in_pool(workdir: str, name: str, pid_file: str | None = None) -> tuple:
    import multiprocessing

    daemonic = multiprocessing.current_process()._config.get("daemon")
    hooks = Recorder(on_start=lambda pid: Path(pid_file).write_text(str(pid)) if pid_file else None)
    outcome = runner.execute(
        runner.RunSpec(job_id=1, trainer=f"{SAMPLES}:{name}", dataset="iris", params={}, timeout_s=120,
                       memory_mb=512, workdir=Path(workdir), allowed_modules=(SAMPLES,)),
        hooks,
    )
    return daemonic, outcome.state, outcome.error, outcome.final_metrics, outcome.params_logged


def test_a_job_runs_inside_a_billiard_pool_process_as_in_a_celery_worker(tmp_path, monkeypatch):
    # The pool process starts its own fork server, which inherits this variable.
    monkeypatch.setenv("SECRET_KEY", "not-for-trainers")
    runner.warm()  # a server in the parent (as after a warm() in Celery's main process) must not confuse the pool

    with billiard.Pool(1) as pool:
        # billiard marks its pool processes daemonic; the stdlib refuses to let those start children.
        daemonic, state, error, _metrics, logged = pool.apply(_job_in_pool, (str(tmp_path / "job"), "reports_pid"))

    assert daemonic is True
    assert (state, error) == ("succeeded", "")
    assert logged["secret_key_visible"] is False  # scrubbed from the trainer's environment


def test_a_trainer_dies_with_the_worker_process_that_started_it(tmp_path):
    pid_file = tmp_path / "child.pid"
    with billiard.Pool(1) as pool:
        pool.apply_async(_job_in_pool, (str(tmp_path / "job"), "sleeps_quietly", str(pid_file)))
        assert wait_until(pid_file.exists, timeout=30)
        child_pid = int(pid_file.read_text())
        worker_pid = pool._pool[0].pid
        os.kill(worker_pid, signal.SIGKILL)  # as the kernel's OOM killer or a hard time limit would

        # Its fork server exits with it, and the trainer (PR_SET_PDEATHSIG) with the fork server.
        assert wait_until(lambda: gone(child_pid), timeout=15)
        pool.terminate()
