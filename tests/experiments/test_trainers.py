"""The trainer registry, parameter validation, the trainer context, and the built-in
trainers run for real (through the runner's fork server, as a job would)."""

import math
import os
import subprocess
import sys
from pathlib import Path

import joblib
import pytest
from django import forms
from django.core.exceptions import ValidationError
from sklearn import datasets
from sklearn.model_selection import train_test_split

from experiments import runner
from experiments.trainers import (
    DATASETS,
    Param,
    TrainerInfo,
    TrainerRefused,
    allowed,
    available,
    resolve,
    trainer,
    validate_dataset,
    validate_params,
)
from experiments.trainers.context import FLUSH_POINTS, SPLIT_SEED, TEST_SIZE, TrainerContext

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = "experiments.trainers.builtin"


class Recorder:
    def __init__(self):
        self.pid = None
        self.ticks = []

    def on_start(self, pid):
        self.pid = pid

    def on_tick(self, tick):
        self.ticks.append(tick)
        return True

    def points(self, key):
        return [(step, value) for tick in self.ticks for k, step, value, _at in tick.metrics if k == key]


def run(ref, dataset, tmp_path, params=None):
    hooks = Recorder()
    spec = runner.RunSpec(job_id=1, trainer=ref, dataset=dataset, params=params or {}, timeout_s=120,
                          memory_mb=1024, workdir=tmp_path / "job")
    return runner.execute(spec, hooks), hooks


# --- Built-in trainers, for real ---------------------------------------------------------

@pytest.mark.parametrize(("name", "dataset"), [
    ("logistic_regression", "iris"),
    ("logistic_regression", "breast_cancer"),
    ("random_forest", "wine"),
    ("gradient_boosting", "iris"),
    ("mlp", "digits"),
])
def test_builtin_trainer_learns_and_reports_metrics_curve_and_artifacts(name, dataset, tmp_path):
    outcome, hooks = run(f"{BUILTIN}:{name}", dataset, tmp_path)

    assert outcome.state == "succeeded", (outcome.error, outcome.traceback, outcome.log)
    metrics = outcome.final_metrics
    assert {"accuracy", "f1", "roc_auc"} <= set(metrics)
    assert metrics["accuracy"] > 0.8  # these datasets are easy: a real model, not a constant guess
    assert all(0 <= metrics[k] <= 1 for k in ("accuracy", "f1", "roc_auc"))
    curve = hooks.points("val_accuracy")
    assert len(curve) >= 5
    assert [step for step, _ in curve] == sorted({step for step, _ in curve})
    assert len(hooks.points("train_loss")) == len(curve)
    assert outcome.params_logged["n_classes"] == (2 if dataset == "breast_cancer" else 10 if dataset == "digits" else 3)

    kinds = {a.kind: a for a in outcome.artifacts}
    assert kinds["image"].path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert kinds["image"].size == kinds["image"].path.stat().st_size
    # The saved model is the real one: it scores the test split as reported.
    model = joblib.load(kinds["model"].path)
    X, y = getattr(datasets, DATASETS[dataset].loader)(return_X_y=True)
    _, X_test, _, y_test = train_test_split(X, y, test_size=TEST_SIZE, stratify=y, random_state=SPLIT_SEED)
    assert math.isclose((model.predict(X_test) == y_test).mean(), metrics["accuracy"])


def test_example_team_svm_runs_with_a_chosen_kernel(tmp_path):
    outcome, hooks = run("experiments.examples.svm:svm", "wine", tmp_path, {"kernel": "linear", "C": "0.5"})

    assert outcome.state == "succeeded", (outcome.error, outcome.traceback)
    assert outcome.final_metrics["accuracy"] > 0.8
    assert len(hooks.points("val_accuracy")) == 5
    assert {a.kind for a in outcome.artifacts} == {"image", "model"}


def test_a_seed_changes_the_model_but_not_the_test_split(tmp_path):
    one, _ = run(f"{BUILTIN}:random_forest", "wine", tmp_path / "one")
    same, _ = run(f"{BUILTIN}:random_forest", "wine", tmp_path / "same")

    assert one.final_metrics == same.final_metrics  # seeded: reproducible
    assert one.params_logged["n_test"] == same.params_logged["n_test"] == 45


# --- The registry ----------------------------------------------------------------------

def test_available_lists_builtins_first_then_allowed_team_trainers(settings):
    settings.TRAINER_MODULES = ["experiments.examples"]

    refs = [info.ref for info in available()]

    assert refs[:4] == [f"{BUILTIN}:{n}" for n in ("logistic_regression", "random_forest", "gradient_boosting", "mlp")]
    assert "experiments.examples.svm:svm" in refs


def test_available_skips_a_team_module_that_fails_to_import(settings, caplog):
    settings.TRAINER_MODULES = ["experiments.no_such_module", "experiments.examples"]

    refs = [info.ref for info in available()]

    assert "experiments.examples.svm:svm" in refs
    assert "experiments.no_such_module" in caplog.text


def test_resolve_returns_the_declared_schema(settings):
    info = resolve(f"{BUILTIN}:gradient_boosting")

    assert info.title == "Gradient boosting"
    assert [p.name for p in info.params] == ["learning_rate", "n_estimators", "max_depth", "subsample"]
    assert info.datasets == tuple(DATASETS)


def test_a_module_outside_the_allowlist_is_refused_with_what_to_do(settings):
    settings.TRAINER_MODULES = ["experiments.examples"]

    with pytest.raises(TrainerRefused, match="is not in MLKANBAN_TRAINER_MODULES; an administrator must add"):
        resolve("tests.experiments.sample_trainers:quick")
    assert not allowed("os:system")


@pytest.mark.parametrize("ref", [
    "experiments.examples_evil:svm",  # a lookalike prefix is not a submodule
    "experiments:svm",  # the parent package is not allowed by its child
    "experiments.exampless.svm:svm",
])
def test_lookalike_modules_are_not_allowed(settings, ref):
    settings.TRAINER_MODULES = ["experiments.examples"]

    assert not allowed(ref)
    with pytest.raises(TrainerRefused, match="not in MLKANBAN_TRAINER_MODULES"):
        resolve(ref)


def test_submodules_of_an_allowed_package_are_allowed(settings):
    settings.TRAINER_MODULES = ["experiments.examples"]

    assert allowed("experiments.examples.svm:svm")
    assert allowed("experiments.examples.deep.er:fn")
    assert allowed(f"{BUILTIN}:mlp")


@pytest.mark.parametrize("ref", [
    "", "experiments.examples.svm", "experiments.examples.svm:", ":svm", "experiments..examples:svm",
    "experiments.examples.svm:svm:svm", "experiments.examples.svm:svm()", "../etc/passwd:x",
    "experiments.examples.svm:sv\x00m", "experiments.examples.sv m:svm", "expériments.examples:svm",
    "experiments.examples.svm:" + "a" * 300, None, 42, ["experiments.examples.svm:svm"],
])
def test_malformed_refs_are_refused(settings, ref):
    settings.TRAINER_MODULES = ["experiments.examples"]

    assert not allowed(ref)
    with pytest.raises(TrainerRefused, match="not a trainer reference"):
        resolve(ref)


def test_a_function_not_declared_as_trainer_is_refused(settings):
    settings.TRAINER_MODULES = ["tests.experiments.sample_trainers"]

    with pytest.raises(TrainerRefused, match="not_decorated is not declared with @trainer"):
        resolve("tests.experiments.sample_trainers:not_decorated")
    with pytest.raises(TrainerRefused, match="has no function nothing_here"):
        resolve("tests.experiments.sample_trainers:nothing_here")
    with pytest.raises(TrainerRefused, match="cannot import trainer module tests.experiments.sample_trainers.nope"):
        resolve("tests.experiments.sample_trainers.nope:fn")


def test_trainer_declarations_are_checked_when_the_module_loads():
    with pytest.raises(ValueError, match="default 500"):
        Param("depth", "int", 500, min=1, max=10)
    with pytest.raises(ValueError, match="kind"):
        Param("depth", "integer", 5)
    with pytest.raises(ValueError, match="log scale"):
        Param("alpha", "float", 0.1, min=0, log=True)
    with pytest.raises(ValueError, match="duplicate"):
        trainer(title="x", params=[Param("a", "int", 1), Param("a", "int", 2)])
    with pytest.raises(ValueError, match="datasets"):
        trainer(title="x", params=[], datasets=["mnist"])
    with pytest.raises(TypeError, match="module-level function"):
        trainer(title="x", params=[])(lambda ctx: None)


def test_param_form_fields_match_their_kinds():
    info = resolve(f"{BUILTIN}:random_forest")
    fields = {p.name: p.form_field() for p in info.params}

    assert isinstance(fields["n_estimators"], forms.IntegerField)
    assert (fields["n_estimators"].min_value, fields["n_estimators"].max_value) == (1, 2000)
    assert fields["n_estimators"].initial == 50
    assert isinstance(fields["criterion"], forms.ChoiceField)
    assert isinstance(Param("flag", "bool", True).form_field(), forms.BooleanField)
    assert isinstance(resolve(f"{BUILTIN}:mlp").params[1].form_field(), forms.FloatField)


# --- Parameters and datasets -------------------------------------------------------------

def test_validate_params_fills_defaults_and_types_form_strings():
    info = resolve(f"{BUILTIN}:random_forest")

    cleaned = validate_params(info, {"n_estimators": "20", "max_depth": 4.0, "criterion": "entropy"})

    assert cleaned == {"n_estimators": 20, "max_depth": 4, "min_samples_leaf": 1, "criterion": "entropy"}
    assert validate_params(info, {}) == info.defaults()
    assert validate_params(info, {"max_depth": ""})["max_depth"] == 8  # an empty form field means the default


@pytest.mark.parametrize(("raw", "bad"), [
    ({"n_estimators": "many"}, "n_estimators"),
    ({"n_estimators": 2.5}, "n_estimators"),
    ({"n_estimators": 0}, "n_estimators"),
    ({"n_estimators": 5000}, "n_estimators"),
    ({"n_estimators": True}, "n_estimators"),
    ({"n_estimators": 10**400}, "n_estimators"),
    ({"n_estimators": "9" * 5000}, "n_estimators"),
    ({"n_estimators": [10]}, "n_estimators"),
    ({"n_estimators": {"$gt": 1}}, "n_estimators"),
    ({"n_estimators": "1\x00"}, "n_estimators"),
    ({"criterion": "chaos"}, "criterion"),
    ({"criterion": "gini\x00"}, "criterion"),
    ({"depth": 3}, "depth"),
])
def test_validate_params_refuses_bad_values_by_name(raw, bad):
    info = resolve(f"{BUILTIN}:random_forest")

    with pytest.raises(ValidationError) as caught:
        validate_params(info, raw)

    assert set(caught.value.message_dict) == {bad}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "nan", "-inf", "1e999", 10**300])
def test_validate_params_refuses_non_finite_and_huge_floats(value):
    info = resolve(f"{BUILTIN}:mlp")

    with pytest.raises(ValidationError) as caught:
        validate_params(info, {"alpha": value})

    assert set(caught.value.message_dict) == {"alpha"}


def test_validate_params_lists_every_bad_parameter_and_refuses_non_objects():
    info = resolve(f"{BUILTIN}:mlp")

    with pytest.raises(ValidationError) as caught:
        validate_params(info, {"alpha": -1, "max_iter": "x", "nonsense\x00": 1})
    assert set(caught.value.message_dict) == {"alpha", "max_iter", "params"}

    for raw in (["alpha"], "alpha=1", 3):
        with pytest.raises(ValidationError, match="object"):
            validate_params(info, raw)


def test_bool_params_accept_only_true_or_false():
    info = TrainerInfo(ref="team.mod:fn", title="t", params=(Param("shuffle", "bool", True),), datasets=("iris",))

    assert validate_params(info, {"shuffle": "false"}) == {"shuffle": False}
    assert validate_params(info, {"shuffle": False}) == {"shuffle": False}
    with pytest.raises(ValidationError):
        validate_params(info, {"shuffle": "banana"})


def test_validate_dataset():
    info = resolve(f"{BUILTIN}:mlp")

    assert validate_dataset(info, "digits") == "digits"
    for bad in ("mnist", "", None, "iris\x00", ["iris"]):
        with pytest.raises(ValidationError) as caught:
            validate_dataset(info, bad)
        assert set(caught.value.message_dict) == {"dataset"}


# --- The context -------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def make_context(tmp_path, sent, clock=None):
    return TrainerContext(params={}, dataset="iris", seed=0, workdir=tmp_path, send=sent.append,
                          clock=clock or FakeClock())


def test_metrics_are_sent_in_batches_of_at_most_2000_points(tmp_path):
    sent = []
    ctx = make_context(tmp_path, sent)

    for i in range(5000):
        ctx.log_metric("loss", i)
    ctx.flush()

    assert [len(batch["metrics"]) for batch in sent] == [FLUSH_POINTS, FLUSH_POINTS, 1000]


def test_metrics_buffered_for_a_fifth_of_a_second_go_out_at_the_next_call(tmp_path):
    sent, clock = [], FakeClock()
    ctx = make_context(tmp_path, sent, clock)

    ctx.log_metric("loss", 1.0)
    ctx.log_metric("loss", 0.9)
    assert sent == []
    clock.now = 0.25
    ctx.progress(0.5, "half way")

    assert len(sent) == 1
    assert [p[:3] for p in sent[0]["metrics"]] == [["loss", 0, 1.0], ["loss", 1, 0.9]]
    assert (sent[0]["progress"], sent[0]["message"]) == (0.5, "half way")


def test_steps_count_per_key_and_follow_explicit_steps(tmp_path):
    sent = []
    ctx = make_context(tmp_path, sent)

    ctx.log_metric("a", 1)
    ctx.log_metric("b", 1)
    ctx.log_metric("a", 2)
    ctx.log_metric("a", 3, step=10)
    ctx.log_metric("a", 4)
    ctx.flush()

    assert [(k, s) for k, s, _v, _t in sent[0]["metrics"]] == [("a", 0), ("b", 0), ("a", 1), ("a", 10), ("a", 11)]


@pytest.mark.parametrize(("key", "value", "step", "error"), [
    ("loss", float("nan"), None, "not finite"),
    ("loss", float("inf"), None, "not finite"),
    ("loss", "0.5", None, "must be a number"),
    ("", 1.0, None, "printable"),
    ("k" * 101, 1.0, None, "printable"),
    ("lo\x00ss", 1.0, None, "printable"),
    ("loss", 1.0, -1, "step"),
    ("loss", 1.0, 2**40, "step"),
    ("loss", 1.0, 1.5, "integer"),
])
def test_bad_metrics_raise_in_the_trainer(tmp_path, key, value, step, error):
    ctx = make_context(tmp_path, [])

    with pytest.raises((ValueError, TypeError), match=error):
        ctx.log_metric(key, value, step)


def test_progress_is_clamped(tmp_path):
    sent = []
    ctx = make_context(tmp_path, sent)

    ctx.progress(1.7)
    ctx.flush()
    ctx.progress(-3)
    ctx.flush()

    assert [b["progress"] for b in sent] == [1.0, 0.0]


def test_save_artifact_copies_with_a_safe_name_and_a_kind(tmp_path):
    sent = []
    ctx = make_context(tmp_path / "work", sent)
    source = tmp_path / "my plot (final).png"
    source.write_bytes(b"png")

    target = ctx.save_artifact(source)

    assert target == tmp_path / "work" / "artifacts" / "my_plot__final_.png"
    assert target.read_bytes() == b"png"
    assert sent[-1] == {"type": "artifact", "name": "my_plot__final_.png", "kind": "image", "size": 3}
    assert ctx.save_artifact(source, name="weights.pkl").name == "weights.pkl"
    assert sent[-1]["kind"] == "model"
    for bad in ("../escape.png", ".hidden", "a/b.png", "x" * 101):
        with pytest.raises(ValueError, match="artifact name"):
            ctx.save_artifact(source, name=bad)
    with pytest.raises(FileNotFoundError):
        ctx.save_artifact(tmp_path / "missing.png")


# --- The child stays light ------------------------------------------------------------------

def test_the_child_path_does_not_import_django():
    code = ("import sys, experiments.child, experiments.trainers.builtin, experiments.examples.svm; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'sklearn')))")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}

    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # neither Django, nor scikit-learn until a trainer runs


# --- Settings -----------------------------------------------------------------------------

def test_a_job_timeout_reaching_the_celery_time_limit_refuses_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")}
    env.update(MLKANBAN_VAR_DIR=str(tmp_path), MLKANBAN_READ_DOTENV="0", CELERY_TASK_TIME_LIMIT="3600",
               CELERY_TASK_SOFT_TIME_LIMIT="3500", MLKANBAN_JOB_TIMEOUT_MAX_S="3600")

    result = subprocess.run([sys.executable, "-c", "import mlkanban.settings"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert "MLKANBAN_JOB_TIMEOUT_MAX_S (3600 s) must be below CELERY_TASK_TIME_LIMIT" in result.stderr
