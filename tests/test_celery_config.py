"""The configured Celery app is ready for hours-long jobs: late acks, one task
at a time, queues for train and gpu, and on Redis a visibility timeout longer
than any task may run."""

import json
import subprocess
import sys

from celery import Celery
from django.conf import settings

from mlkanban.celery import app, tasks_outliving_visibility_timeout
from tests.test_settings import ROOT, clean_env

CONF_AS_JSON = """
import json
from mlkanban.celery import app
c = app.conf
print(json.dumps({
    "acks_late": c.task_acks_late, "reject_on_worker_lost": c.task_reject_on_worker_lost,
    "prefetch": c.worker_prefetch_multiplier, "time_limit": c.task_time_limit,
    "soft_time_limit": c.task_soft_time_limit, "transport": c.broker_transport_options,
    "routes": c.task_routes, "queues": [q.name for q in c.task_queues], "default_queue": c.task_default_queue,
}))
"""


def celery_conf(tmp_path, **env) -> dict:
    result = subprocess.run([sys.executable, "-c", CONF_AS_JSON], cwd=ROOT, env=clean_env(tmp_path, **env),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_configured_app_acknowledges_late_and_takes_one_task_at_a_time():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit == settings.CELERY_TASK_TIME_LIMIT > conf.task_soft_time_limit


def test_the_configured_app_declares_the_queues_and_routes_experiments_to_train():
    assert {q.name for q in app.conf.task_queues} >= {"default", "train", "gpu"}
    assert app.conf.task_default_queue == "default"
    router = app.amqp.router
    assert router.route({}, "experiments.tasks.train_model")["queue"].name == "train"
    assert router.route({}, "board.tasks.anything")["queue"].name == "default"
    # gpu is chosen per job, and that choice wins over the route
    assert router.route({"queue": "gpu"}, "experiments.tasks.train_model")["queue"].name == "gpu"


def test_the_configured_app_on_redis_has_a_visibility_timeout_that_outlasts_the_time_limit():
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        # the embedded pass: the next test configures a Redis broker in a new process
        assert "visibility_timeout" not in app.conf.broker_transport_options
        return
    timeout = app.conf.broker_transport_options["visibility_timeout"]
    assert timeout > app.conf.task_time_limit
    assert timeout > app.conf.task_soft_time_limit


def test_a_redis_broker_gets_a_visibility_timeout_above_the_time_limit_it_is_computed_from(tmp_path):
    default = celery_conf(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    longer = celery_conf(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
                         CELERY_TASK_TIME_LIMIT="172800", CELERY_TASK_SOFT_TIME_LIMIT="172000")

    assert default["transport"]["visibility_timeout"] > default["time_limit"] == 21600
    assert longer["transport"]["visibility_timeout"] > longer["time_limit"] == 172800


def test_every_celery_setting_is_overridable_from_the_environment(tmp_path):
    conf = celery_conf(
        tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        CELERY_TASK_ACKS_LATE="0", CELERY_TASK_REJECT_ON_WORKER_LOST="0", CELERY_WORKER_PREFETCH_MULTIPLIER="4",
        CELERY_TASK_TIME_LIMIT="600", CELERY_TASK_SOFT_TIME_LIMIT="540", CELERY_VISIBILITY_TIMEOUT="900",
        CELERY_TASK_DEFAULT_QUEUE="chores", CELERY_TASK_QUEUES="train,gpu,big-gpu",
        CELERY_TASK_ROUTES='{"experiments.tasks.sweep": {"queue": "big-gpu"}}',
    )
    assert (conf["acks_late"], conf["reject_on_worker_lost"], conf["prefetch"]) == (False, False, 4)
    assert (conf["time_limit"], conf["soft_time_limit"]) == (600, 540)
    assert conf["transport"] == {"visibility_timeout": 900, "socket_connect_timeout": 2}
    assert conf["default_queue"] == "chores"
    assert conf["queues"] == ["chores", "train", "gpu", "big-gpu"]
    assert conf["routes"] == {"experiments.tasks.sweep": {"queue": "big-gpu"}}


def test_a_visibility_timeout_not_above_the_time_limit_stops_start_up(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import mlkanban.settings"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=clean_env(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/0", CELERY_VISIBILITY_TIMEOUT="3600"),
    )
    assert result.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT (3600 s) must be greater than CELERY_TASK_TIME_LIMIT (21600 s)" in result.stderr


def test_the_filesystem_broker_keeps_its_folders_and_gets_no_visibility_timeout(tmp_path):
    conf = celery_conf(tmp_path)
    assert conf["transport"]["data_folder_in"] == conf["transport"]["data_folder_out"]
    assert "visibility_timeout" not in conf["transport"]


def test_a_task_with_its_own_longer_time_limit_is_reported():
    probe = Celery("probe", set_as_current=False)
    probe.conf.broker_transport_options = {"visibility_timeout": 7200}
    probe.conf.task_time_limit = 3600

    @probe.task(name="probe.short")
    def short():
        pass

    @probe.task(name="probe.two_days", time_limit=2 * 86400)
    def two_days():
        pass

    assert tasks_outliving_visibility_timeout(probe) == ["probe.two_days"]
