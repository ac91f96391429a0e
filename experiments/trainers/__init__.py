"""The trainer registry: what a training job may run, and with which parameters.

A trainer is a plain function taking a TrainerContext, declared with @trainer:

    @trainer(title="SVM", params=[Param("C", "float", 1.0, min=1e-3, max=1e3, log=True)])
    def svm(ctx): ...

and named by a ref, "package.module:function". Only refs in experiments.trainers.builtin
or under a module listed in settings.TRAINER_MODULES (MLKANBAN_TRAINER_MODULES) may run.

This package is imported by the trainer child process too (trainer modules import
@trainer and Param from it), so Django is imported lazily, inside the functions that
need it (forms, settings, ValidationError), never at the top.
"""

from __future__ import annotations

import importlib
import logging
import math
import pkgutil
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

BUILTIN_MODULE = "experiments.trainers.builtin"
REF_MAX_LENGTH = 200
# "package.module:function", ASCII identifiers only.
_REF_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_MODULE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*", re.ASCII)
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)

PARAM_KINDS = ("int", "float", "choice", "bool")
# Integers beyond this are refused even without a declared max (they would not fit a float or a JSON number).
INT_LIMIT = 2**53
PARAM_VALUE_MAX_LENGTH = 100  # characters of a string given for a parameter value
PARAMS_MAX_COUNT = 100


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    loader: str  # the function in sklearn.datasets; bundled with scikit-learn, nothing is downloaded


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("iris", "Iris (150 flowers, 3 classes)", "load_iris"),
        Dataset("wine", "Wine (178 wines, 3 classes)", "load_wine"),
        Dataset("breast_cancer", "Breast cancer Wisconsin (569 cases, 2 classes)", "load_breast_cancer"),
        Dataset("digits", "Handwritten digits 8x8 (1,797 images, 10 classes)", "load_digits"),
    )
}


class TrainerRefused(Exception):
    """A trainer ref that may not or cannot run; the message is for people."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "int" | "float" | "choice" | "bool"
    default: Any
    min: float | int | None = None
    max: float | int | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    log: bool = False  # sample on a log scale in random sweeps

    def __post_init__(self):
        # A team's declaration mistake fails when its module is imported, not in a job.
        if not _NAME_RE.fullmatch(self.name or ""):
            raise ValueError(f"parameter name {self.name!r} must be a Python identifier")
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"parameter {self.name}: kind must be one of {', '.join(PARAM_KINDS)}")
        object.__setattr__(self, "choices", tuple(self.choices))
        if self.kind == "choice" and (not self.choices or not all(isinstance(c, str) for c in self.choices)):
            raise ValueError(f"parameter {self.name}: a choice needs a non-empty tuple of strings")
        if self.log and (self.kind not in ("int", "float") or self.min is None or self.min <= 0):
            raise ValueError(f"parameter {self.name}: log scale needs a number with min > 0")
        error = _check_value(self, self.default)
        if error:
            raise ValueError(f"parameter {self.name}: default {self.default!r}: {error}")

    def form_field(self):
        """The Django form field for this parameter, the default as its initial value."""
        from django import forms

        common = {"initial": self.default, "help_text": self.help, "label": self.name}
        if self.kind == "int":
            return forms.IntegerField(min_value=self.min, max_value=self.max, **common)
        if self.kind == "float":
            return forms.FloatField(min_value=self.min, max_value=self.max, **common)
        if self.kind == "choice":
            return forms.ChoiceField(choices=[(c, c) for c in self.choices], **common)
        return forms.BooleanField(required=False, **common)

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "default": self.default, "min": self.min, "max": self.max,
                "choices": list(self.choices), "help": self.help, "log": self.log}


@dataclass(frozen=True)
class TrainerInfo:
    ref: str
    title: str
    params: tuple[Param, ...]
    datasets: tuple[str, ...]
    description: str = ""
    function: Callable | None = field(default=None, compare=False, repr=False)

    @property
    def module(self) -> str:
        return self.ref.partition(":")[0]

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def as_dict(self) -> dict:
        return {"ref": self.ref, "title": self.title, "description": self.description,
                "datasets": list(self.datasets), "params": [p.as_dict() for p in self.params]}


def trainer(*, title: str, params: Sequence[Param], datasets: Iterable[str] | None = None, description: str = ""):
    """Declare a function as a trainer: attaches a TrainerInfo as fn.trainer_info."""
    params = tuple(params)
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise ValueError(f"trainer {title!r}: duplicate parameter names")
    datasets = tuple(DATASETS) if datasets is None else tuple(datasets)
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown or not datasets:
        raise ValueError(f"trainer {title!r}: datasets must be among {', '.join(DATASETS)}")

    def attach(fn):
        ref = f"{fn.__module__}:{fn.__qualname__}"
        if not _REF_RE.fullmatch(ref):
            raise TypeError(f"@trainer needs a module-level function, not {fn.__qualname__!r}")
        fn.trainer_info = TrainerInfo(ref=ref, title=title, params=params, datasets=datasets,
                                      description=description, function=fn)
        return fn

    return attach


# --- The allowlist ------------------------------------------------------------------

def parse_ref(ref: object) -> tuple[str, str]:
    """Split "package.module:function", raising TrainerRefused on anything else."""
    if not isinstance(ref, str) or len(ref) > REF_MAX_LENGTH or not _REF_RE.fullmatch(ref):
        raise TrainerRefused(
            f"not a trainer reference: expected 'package.module:function' (identifiers only, "
            f"at most {REF_MAX_LENGTH} characters)"
        )
    module, _, name = ref.partition(":")
    return module, name


def trainer_modules() -> list[str]:
    """The administrator's allowlist from settings (valid module names only)."""
    from django.conf import settings

    entries = list(getattr(settings, "TRAINER_MODULES", []))
    valid = [m for m in entries if isinstance(m, str) and _MODULE_RE.fullmatch(m)]
    if len(valid) != len(entries):
        logger.warning("TRAINER_MODULES: ignoring entries that are not module names: %r",
                       [m for m in entries if m not in valid])
    return valid


def module_allowed(module: str, allowed_modules: Iterable[str]) -> bool:
    """True for the built-ins and for an allowlisted module or one of its submodules.

    Pure (no settings): the child process re-checks with the list the parent gave it.
    """
    if module == BUILTIN_MODULE:
        return True
    # "experiments.examples_evil" starts with "experiments.examples" but is not under it.
    return any(module == entry or module.startswith(entry + ".") for entry in allowed_modules)


def allowed(ref: object, allowed_modules: Iterable[str] | None = None) -> bool:
    try:
        module, _ = parse_ref(ref)
    except TrainerRefused:
        return False
    return module_allowed(module, trainer_modules() if allowed_modules is None else allowed_modules)


def resolve(ref: object, allowed_modules: Iterable[str] | None = None) -> TrainerInfo:
    """The TrainerInfo for ref, imported; TrainerRefused (a message for people) otherwise."""
    module_name, function_name = parse_ref(ref)
    if not module_allowed(module_name, trainer_modules() if allowed_modules is None else allowed_modules):
        raise TrainerRefused(
            f"{ref} is not in MLKANBAN_TRAINER_MODULES; an administrator must add its module ({module_name})"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a team module may fail in any way while importing
        raise TrainerRefused(f"cannot import trainer module {module_name}: {type(exc).__name__}: {exc}") from exc
    function = getattr(module, function_name, None)
    if function is None:
        raise TrainerRefused(f"trainer module {module_name} has no function {function_name}")
    info = getattr(function, "trainer_info", None)
    if not isinstance(info, TrainerInfo):
        raise TrainerRefused(f"{ref} is not declared with @trainer")
    return info


def _trainers_in(module) -> list[TrainerInfo]:
    found = [
        value.trainer_info for value in vars(module).values()
        if callable(value) and isinstance(getattr(value, "trainer_info", None), TrainerInfo)
        and value.trainer_info.module == module.__name__  # declared here, not re-exported
    ]
    return sorted(found, key=lambda info: info.function.__code__.co_firstlineno)


def _modules_under(name: str):
    module = importlib.import_module(name)
    yield module
    for sub in pkgutil.walk_packages(getattr(module, "__path__", []), prefix=name + ".",
                                     onerror=lambda n: logger.warning("cannot import trainer package %s", n)):
        try:
            yield importlib.import_module(sub.name)
        except Exception:
            logger.warning("skipping trainer module %s: it fails to import", sub.name, exc_info=True)


def available() -> list[TrainerInfo]:
    """Built-in trainers, then those of the allowlisted modules (and their submodules).

    A module that fails to import is skipped with a logged warning.
    """
    infos = {info.ref: info for info in _trainers_in(importlib.import_module(BUILTIN_MODULE))}
    for entry in sorted(trainer_modules()):
        try:
            for module in _modules_under(entry):
                for info in _trainers_in(module):
                    infos.setdefault(info.ref, info)
        except Exception:
            logger.warning("skipping trainer module %s: it fails to import", entry, exc_info=True)
    return list(infos.values())


# --- Parameters and datasets ------------------------------------------------------------

def _check_value(param: Param, value) -> str | None:
    """Why value is not a valid typed value for param, or None (used for defaults and cleaned values)."""
    if param.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number"
        if abs(value) > INT_LIMIT:
            return "is too large"
    elif param.kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
        if not math.isfinite(value):
            return "must be a finite number"
    elif param.kind == "choice":
        if value not in param.choices:
            return f"must be one of {', '.join(param.choices)}"
    elif not isinstance(value, bool):
        return "must be true or false"
    if param.min is not None and value < param.min:
        return f"must be at least {param.min}"
    if param.max is not None and value > param.max:
        return f"must be at most {param.max}"
    return None


_TRUE = {"true", "1", "on", "yes"}
_FALSE = {"false", "0", "off", "no"}


def _clean_value(param: Param, raw):
    """raw (from JSON or a form) as param's type; raises django's ValidationError."""
    from django.core.exceptions import ValidationError

    if isinstance(raw, str):
        if "\x00" in raw:
            raise ValidationError("Null characters are not allowed.")
        if len(raw) > PARAM_VALUE_MAX_LENGTH:
            raise ValidationError(f"Too long (at most {PARAM_VALUE_MAX_LENGTH} characters).")
        raw = raw.strip()
    elif not isinstance(raw, bool | int | float):
        raise ValidationError("Must be a single value, not a list or an object.")
    if param.kind == "bool":
        # Stricter than forms.BooleanField, which takes any string but "false"/"0" as True.
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        raise ValidationError("Must be true or false.")
    if isinstance(raw, bool):  # bool is an int in Python; never a number here
        raise ValidationError("Must be a number, not true/false.")
    if param.kind == "int" and isinstance(raw, int) and abs(raw) > INT_LIMIT:
        raise ValidationError("Too large.")
    if param.kind == "float" and isinstance(raw, int) and abs(raw) > INT_LIMIT:
        raise ValidationError("Too large.")
    value = param.form_field().clean(raw)
    error = _check_value(param, value)
    if error:
        raise ValidationError(f"{error[0].upper()}{error[1:]}.")
    return value


def validate_params(info: TrainerInfo, raw: dict | None) -> dict:
    """Cleaned, typed parameters with defaults filled in.

    A missing key, None or "" means the default. Raises
    django.core.exceptions.ValidationError({name: message, ...}) listing every bad parameter.
    """
    from django.core.exceptions import ValidationError

    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ValidationError({"params": "Parameters must be an object of name: value."})
    if len(raw) > PARAMS_MAX_COUNT:
        raise ValidationError({"params": f"Too many parameters (at most {PARAMS_MAX_COUNT})."})
    declared = {p.name: p for p in info.params}
    errors: dict[str, str] = {}
    for key in raw:
        if key not in declared:
            shown = key[:50] if isinstance(key, str) else repr(key)[:50]
            errors["params" if not isinstance(key, str) or len(key) > 50 or "\x00" in key else key] = (
                f"Unknown parameter {shown!r}; this trainer takes {', '.join(declared) or 'no parameters'}."
            )
    cleaned = {}
    for name, param in declared.items():
        value = raw.get(name)
        if value is None or value == "":
            cleaned[name] = param.default
            continue
        try:
            cleaned[name] = _clean_value(param, value)
        except ValidationError as exc:
            errors[name] = " ".join(exc.messages)
    if errors:
        raise ValidationError(errors)
    return cleaned


def validate_dataset(info: TrainerInfo, name) -> str:
    from django.core.exceptions import ValidationError

    if not isinstance(name, str) or name not in info.datasets:
        raise ValidationError({"dataset": f"Unknown dataset; this trainer takes {', '.join(info.datasets)}."})
    return name
