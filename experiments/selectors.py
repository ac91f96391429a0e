"""Reads of training jobs for pages, charts and the board's live strips."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.db.models import Count
from django.urls import reverse

from board.live import LiveJob
from board.models import Hypothesis

from .models import ACTIVE_STATES, Artifact, JobState, Metric, Sweep, TrainingJob


class LiveJobsFromDatabase:
    """board.live's provider: the queued and running jobs of a board, one query."""

    def for_board(self, board_id: int) -> list[LiveJob]:
        rows = TrainingJob.objects.filter(board_id=board_id, state__in=ACTIVE_STATES).values_list(
            "id", "ticket_id", "state", "progress", "progress_message", "latest_metric",
        ).order_by("id")
        jobs = []
        for run_id, ticket_id, state, progress, message, latest in rows:
            latest = latest or {}
            jobs.append(LiveJob(
                ticket_id=ticket_id, run_id=run_id, state=state, progress=progress, message=message,
                metric=str(latest.get("key", "")), value=latest.get("value"),
                url=reverse("experiments:run", args=[board_id, run_id]),
            ))
        return jobs


# --- pages ---------------------------------------------------------------------

# The metric a run's row shows when it tests no hypothesis: the first of these it logged.
PREFERRED_METRICS = ("roc_auc", "accuracy", "f1", "val_accuracy", "loss", "val_loss")
RUNS_SHOWN = 200  # a card with more runs shows the newest ones and says how many are hidden
METRIC_POINTS_MAX = 2000  # points per curve sent to a chart; more are thinned evenly


def key_metric(job: TrainingJob) -> tuple[str, float] | None:
    """The final metric a run is judged by: its hypothesis's, else a usual one."""
    metrics = job.final_metrics or {}
    if job.hypothesis_id and job.hypothesis and job.hypothesis.metric in metrics:
        return job.hypothesis.metric, metrics[job.hypothesis.metric]
    for key in PREFERRED_METRICS:
        if key in metrics:
            return key, metrics[key]
    for key in sorted(metrics):
        return key, metrics[key]
    return None


@dataclass
class TicketRuns:
    runs: list[TrainingJob]
    total: int
    any_active: bool

    @property
    def hidden(self) -> int:
        return self.total - len(self.runs)


def ticket_runs(ticket) -> TicketRuns:
    """A card's runs, newest first, with what their rows show (two queries)."""
    runs = list(
        TrainingJob.objects.filter(ticket=ticket).select_related("hypothesis")
        .defer("log", "traceback", "environment", "code_version").order_by("-id")[:RUNS_SHOWN]
    )
    total = len(runs) if len(runs) < RUNS_SHOWN else TrainingJob.objects.filter(ticket=ticket).count()
    for job in runs:
        job.key_metric = key_metric(job)
    return TicketRuns(runs=runs, total=total, any_active=any(job.is_active for job in runs))


def run_for(board, run_id) -> TrainingJob:
    """One run of the board with what its page shows (one query), or DoesNotExist."""
    try:
        run_id = int(run_id)
        if not 0 < run_id < 2**63:
            raise ValueError
        return TrainingJob.objects.select_related(
            "ticket", "hypothesis", "sweep", "created_by", "retry_of",
        ).get(pk=run_id, board=board)
    except (TrainingJob.DoesNotExist, TypeError, ValueError, OverflowError):
        raise TrainingJob.DoesNotExist(f"No run {run_id} on this board.") from None


def run_page(job: TrainingJob) -> dict:
    """What the run page shows besides the job row: artifacts, curve keys,
    and the card's hypotheses (three queries, whatever the run logged)."""
    counts = dict(
        Metric.objects.filter(job=job).values_list("key").annotate(n=Count("id")).order_by("key")
    )
    artifacts = list(Artifact.objects.filter(job=job).order_by("kind", "name"))
    for artifact in artifacts:
        artifact.is_image = artifact_is_image(artifact)
    hypotheses = list(Hypothesis.objects.filter(ticket_id=job.ticket_id).order_by("id"))
    for h in hypotheses:
        h.run_value = (job.final_metrics or {}).get(h.metric)
    verdict, value = "", None
    if job.hypothesis_id and job.hypothesis and job.state == JobState.SUCCEEDED:
        value = (job.final_metrics or {}).get(job.hypothesis.metric)
        verdict = "not logged" if not isinstance(value, int | float) else (
            "meets" if job.hypothesis.meets(value) else "misses")
    return {
        "run_verdict": verdict, "run_verdict_value": value,
        "curve_keys": [key for key, n in counts.items() if n >= 2],
        "metric_points": sum(counts.values()),
        "artifacts": artifacts,
        "hypotheses": hypotheses,
        "params_rows": params_rows(job),
    }


def params_rows(job: TrainingJob) -> list[tuple[str, object, object]]:
    """(name, requested, logged) for every parameter the run was given or logged."""
    requested, logged = job.params or {}, job.params_logged or {}
    names = list(requested) + [name for name in logged if name not in requested]
    return [(name, requested.get(name, ""), logged.get(name, "")) for name in names]


IMAGE_EXTENSIONS = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                    ".webp": "image/webp"}


def artifact_image_type(artifact: Artifact) -> str | None:
    """The image type a browser may show inline, or None (svg is never one: it can carry script)."""
    if artifact.kind != Artifact.Kind.IMAGE:
        return None
    return IMAGE_EXTENSIONS.get(PurePosixPath(artifact.file.name or "").suffix.lower())


def artifact_is_image(artifact: Artifact) -> bool:
    return artifact_image_type(artifact) is not None


def _thin(steps: list, values: list, limit: int) -> tuple[list, list]:
    """At most `limit` points, evenly spaced, first and last kept."""
    n = len(steps)
    if n <= limit:
        return steps, values
    picks = sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})
    return [steps[i] for i in picks], [values[i] for i in picks]


def run_metrics(job_id: int, limit: int = METRIC_POINTS_MAX) -> dict[str, dict[str, list]]:
    """{key: {"steps": [...], "values": [...]}}, one query, at most `limit` points a key."""
    series: dict[str, tuple[list, list]] = {}
    rows = Metric.objects.filter(job_id=job_id).order_by("key", "step", "id").values_list("key", "step", "value")
    for key, step, value in rows.iterator(chunk_size=5000):
        steps, values = series.setdefault(key, ([], []))
        steps.append(step)
        values.append(value if value is not None and math.isfinite(value) else None)
    result = {}
    for key, (steps, values) in series.items():
        steps, values = _thin(steps, values, limit)
        result[key] = {"steps": steps, "values": values}
    return result


class CompareRefused(Exception):
    """A compare request that names no runs, too many, or ids that are no numbers (a 400)."""


COMPARE_MAX = 20
_ID = re.compile(r"[0-9]{1,18}", re.ASCII)


def parse_run_ids(raw_values: list[str]) -> list[int]:
    """"1,2,3" or repeated runs=…; order kept, duplicates dropped."""
    ids: list[int] = []
    for raw in raw_values:
        for part in str(raw).split(","):
            part = part.strip()
            if not part:
                continue
            if not _ID.fullmatch(part) or int(part) == 0:
                shown = part[:20] + ("…" if len(part) > 20 else "")
                raise CompareRefused(f"“{shown}” is not a run number: give run ids such as runs=12,13.")
            if int(part) not in ids:
                ids.append(int(part))
            if len(ids) > COMPARE_MAX:
                raise CompareRefused(f"Compare at most {COMPARE_MAX} runs at a time.")
    if len(ids) < 2:
        raise CompareRefused("Select at least two runs to compare.")
    return ids


def _differs(values: list) -> bool:
    present = [json.dumps(v, sort_keys=True, default=str) for v in values]
    return len(set(present)) > 1


def compare_runs(ticket, ids: list[int]) -> dict:
    """Runs of this card side by side (one query); TrainingJob.DoesNotExist names a run that is not on it."""
    found = {job.pk: job for job in TrainingJob.objects.filter(ticket=ticket, pk__in=ids).select_related("hypothesis")
             .defer("log", "traceback")}
    missing = [i for i in ids if i not in found]
    if missing:
        raise TrainingJob.DoesNotExist(f"Run {missing[0]} is not a run of this card.")
    runs = [found[i] for i in ids]
    param_names = list(dict.fromkeys(name for job in runs for name in (job.params or {})))
    metric_names = sorted({key for job in runs for key in (job.final_metrics or {})})
    param_table = []
    for name in param_names:
        values = [(job.params or {}).get(name) for job in runs]
        param_table.append({"name": name, "values": values, "differs": _differs(values)})
    metric_table = []
    for key in metric_names:
        values = [(job.final_metrics or {}).get(key) for job in runs]
        metric_table.append({"name": key, "values": values, "differs": _differs(values)})
    numeric_params = [name for name in param_names
                      if all(isinstance((job.params or {}).get(name), int | float) for job in runs)
                      and not any(isinstance((job.params or {}).get(name), bool) for job in runs)]
    scatter = {
        "params": param_names, "metrics": metric_names,
        "default_param": numeric_params[0] if numeric_params else (param_names[0] if param_names else ""),
        "default_metric": metric_names[0] if metric_names else "",
        "runs": [{"id": job.pk, "label": job.label, "params": job.params or {}, "metrics": job.final_metrics or {},
                  "metrics_url": reverse("experiments:run-metrics", args=[job.board_id, job.pk])} for job in runs],
    }
    # for the page's script, as a data attribute (the page has no inline script); non-finite numbers as null
    scatter_json = json.dumps(_finite_only(scatter))
    return {"runs": runs, "param_table": param_table, "metric_table": metric_table, "scatter": scatter,
            "scatter_json": scatter_json}


def _finite_only(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_only(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_only(v) for v in value]
    return value


def sweep_for(board, sweep_id) -> Sweep:
    try:
        sweep_id = int(sweep_id)
        if not 0 < sweep_id < 2**63:
            raise ValueError
        return Sweep.objects.select_related("ticket", "hypothesis", "best_job", "created_by").get(
            pk=sweep_id, board=board)
    except (Sweep.DoesNotExist, TypeError, ValueError, OverflowError):
        raise Sweep.DoesNotExist(f"No sweep {sweep_id} on this board.") from None


def sweep_page(sweep: Sweep) -> dict:
    """The sweep's runs with the ranking metric, best first once it has finished (one query)."""
    jobs = list(sweep.jobs.defer("log", "traceback", "environment", "code_version").order_by("id"))
    higher = sweep.direction == Hypothesis.Direction.HIGHER
    for job in jobs:
        value = (job.final_metrics or {}).get(sweep.metric)
        job.sweep_value = value if isinstance(value, int | float) else None
    ranked = sorted(
        jobs, key=lambda j: (j.sweep_value is None, -(j.sweep_value or 0) if higher else (j.sweep_value or 0), j.pk)
    )
    names = list(dict.fromkeys(name for job in jobs for name in (job.params or {})))
    swept = [name for name in names if name in (sweep.space or {})]
    for job in jobs:
        job.swept_values = [(job.params or {}).get(name) for name in swept]
    return {
        "jobs": jobs, "ranked": ranked, "swept": swept,
        "active": sum(job.is_active or job.state == JobState.LOST for job in jobs),
        "compare_ids": ",".join(str(job.pk) for job in ranked[:COMPARE_MAX] if job.state == JobState.SUCCEEDED),
    }
