"""Forms of the run pages: a run and a sweep, generated from the trainer's
declared parameters (Param.form_field()), so a new parameter needs no form
code. Values are checked twice: by the form fields (errors next to each
field) and again by services.JobSpec.clean, whose errors are mapped back
onto the fields."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from board.models import Hypothesis

from . import services, trainers
from .models import Sweep

PARAM_PREFIX = "param_"
VALUES_PREFIX = "values_"
LIST_MAX = 100  # values given for one parameter of a grid


def _trainer_choices() -> list[tuple[str, str]]:
    return [(info.ref, info.title) for info in trainers.available()]


def _pick_trainer(ref, choices, *, bound: bool) -> trainers.TrainerInfo | None:
    """The chosen trainer when it is one of the offered ones; else, for a form
    being shown, the first offered (a bound form says the choice is invalid)."""
    refs = [value for value, _ in choices]
    if isinstance(ref, str) and ref in refs:
        chosen = ref
    elif bound:
        return None
    elif refs:
        chosen = refs[0]
    else:
        return None
    try:
        return trainers.resolve(chosen)
    except trainers.TrainerRefused:
        return None


class _JobFields(forms.Form):
    """Trainer, dataset, limits, queue and hypothesis: what runs and sweeps share."""

    trainer = forms.ChoiceField(label="Trainer")
    dataset = forms.ChoiceField(label="Dataset")

    def __init__(self, data=None, *, hypotheses=(), trainer_ref=None, **kwargs):
        super().__init__(data, **kwargs)
        choices = _trainer_choices()
        self.fields["trainer"].choices = choices
        ref = data.get("trainer") if data is not None else trainer_ref
        self.info = _pick_trainer(ref, choices, bound=data is not None)
        if self.info is not None:
            self.initial.setdefault("trainer", self.info.ref)
            self.fields["trainer"].help_text = self.info.description
        datasets = self.info.datasets if self.info else ()
        self.fields["dataset"].choices = [(name, trainers.DATASETS[name].title) for name in datasets]
        self.add_param_fields()
        self.fields["timeout_s"] = forms.IntegerField(
            label="Timeout (s)", min_value=1, max_value=settings.JOB_TIMEOUT_MAX_S,
            initial=settings.JOB_TIMEOUT_DEFAULT_S, help_text="The trainer is stopped after this many seconds.")
        self.fields["memory_mb"] = forms.IntegerField(
            label="Memory cap (MiB)", min_value=settings.JOB_MEMORY_MIN_MB, max_value=settings.JOB_MEMORY_MAX_MB,
            initial=settings.JOB_MEMORY_DEFAULT_MB, help_text="The trainer fails if it needs more.")
        queues = services.job_queues()
        self.fields["queue"] = forms.ChoiceField(
            label="Queue", choices=[(q, q) for q in queues], initial="train" if "train" in queues else queues[0],
            help_text="Workers serving this queue run the job.")
        self.fields["hypothesis"] = forms.TypedChoiceField(
            label="Hypothesis it tests", required=False, coerce=int, empty_value=None,
            choices=[("", "None")] + [(h.pk, f"{h.statement} ({h.metric})") for h in hypotheses])

    def add_param_fields(self) -> None:
        raise NotImplementedError

    def params_of(self, cleaned) -> dict:
        return {}

    def spec(self) -> services.JobSpec | None:
        """The cleaned spec, or None with the errors put on the fields."""
        data = self.cleaned_data
        try:
            return services.JobSpec.clean(
                trainer=data["trainer"], dataset=data["dataset"], params=self.params_of(data),
                timeout_s=data["timeout_s"], memory_mb=data["memory_mb"], queue=data["queue"],
            )
        except ValidationError as error:
            self.add_service_errors(error)
            return None

    def add_service_errors(self, error: ValidationError) -> None:
        for key, messages in getattr(error, "message_dict", {None: error.messages}).items():
            field = self.field_for(key)
            self.add_error(field, messages)

    def field_for(self, key) -> str | None:
        if key in self.fields:
            return key
        if f"{PARAM_PREFIX}{key}" in self.fields:
            return f"{PARAM_PREFIX}{key}"
        return None


class RunForm(_JobFields):
    """One run: the trainer's parameters as typed fields, defaults filled in."""

    def add_param_fields(self) -> None:
        for param in self.info.params if self.info else ():
            field = param.form_field()
            field.label = param.name
            field.required = False  # left empty: the trainer's default
            self.fields[f"{PARAM_PREFIX}{param.name}"] = field

    @property
    def param_fields(self):
        return [self[name] for name in self.fields if name.startswith(PARAM_PREFIX)]

    def params_of(self, cleaned) -> dict:
        return {name.removeprefix(PARAM_PREFIX): value for name, value in cleaned.items()
                if name.startswith(PARAM_PREFIX)}


class SweepForm(_JobFields):
    """A grid (a list of values per parameter) or N random samples (a range
    per number, a list for the rest); parameters left empty keep their default."""

    mode = forms.ChoiceField(label="Kind of sweep", choices=Sweep.Mode.choices, initial=Sweep.Mode.GRID,
                             widget=forms.RadioSelect)
    samples = forms.IntegerField(label="Random samples", required=False, min_value=1,
                                 help_text="How many random points (random sweeps only).")
    metric = forms.CharField(label="Metric that ranks the runs", max_length=100, initial="accuracy")
    direction = forms.ChoiceField(label="Better is", choices=Hypothesis.Direction.choices, initial="higher")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.JOB_SWEEP_MAX_POINTS
        self.fields["samples"] = forms.IntegerField(
            label="Random samples", required=False, min_value=1, max_value=limit,
            help_text=f"How many random points (random sweeps only; at most {limit}).")

    def add_param_fields(self) -> None:
        self.param_rows = []
        for param in self.info.params if self.info else ():
            values = forms.CharField(
                label=f"{param.name} values", required=False, max_length=1000,
                help_text=("comma-separated, e.g. " + ", ".join(param.choices[:3])) if param.kind == "choice"
                else "comma-separated, e.g. true, false" if param.kind == "bool" else "comma-separated",
                widget=forms.TextInput(attrs={"placeholder": str(param.default)}),
            )
            self.fields[f"{VALUES_PREFIX}{param.name}"] = values
            row = {"param": param, "values": f"{VALUES_PREFIX}{param.name}", "min": None, "max": None}
            if param.kind in ("int", "float"):
                for end in ("min", "max"):
                    field = param.form_field()
                    field.required, field.initial = False, None
                    field.label, field.help_text = f"{param.name} {end}", ""
                    self.fields[f"{end}_{param.name}"] = field
                    row[end] = f"{end}_{param.name}"
            self.param_rows.append(row)

    @property
    def param_table(self):
        return [{"param": row["param"], "values": self[row["values"]],
                 "min": self[row["min"]] if row["min"] else None,
                 "max": self[row["max"]] if row["max"] else None} for row in self.param_rows]

    def clean(self):
        cleaned = super().clean()
        if self.info is None:
            return cleaned
        mode = cleaned.get("mode")
        space: dict = {}
        for row in self.param_rows:
            param = row["param"]
            listed = self._values(row["values"], param, cleaned.get(row["values"]) or "")
            low, high = (cleaned.get(row["min"]) if row["min"] else None), (
                cleaned.get(row["max"]) if row["max"] else None)
            ranged = low is not None or high is not None
            if mode == Sweep.Mode.GRID:
                if ranged:
                    self.add_error(row["min"], "A grid takes a list of values; ranges are for random samples.")
                elif listed:
                    space[param.name] = listed
                continue
            if ranged and listed:
                self.add_error(row["values"], "Give either a list of values or a range, not both.")
            elif ranged:
                if low is None or high is None or not low < high:
                    self.add_error(row["min"], "Give both ends of the range, min below max.")
                else:
                    space[param.name] = {"min": low, "max": high}
            elif listed:
                space[param.name] = listed
        if mode == Sweep.Mode.RANDOM and cleaned.get("samples") is None:
            self.add_error("samples", "Say how many random samples to run.")
        if not self.errors and not space:
            self.add_error(None, "Choose at least one parameter to sweep over: give it values or a range.")
        cleaned["space"] = space
        return cleaned

    def _values(self, field: str, param, text: str) -> list:
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if len(parts) > LIST_MAX:
            self.add_error(field, f"Give at most {LIST_MAX} values.")
            return []
        values = []
        for part in parts:
            try:
                value = trainers.validate_params(self.info, {param.name: part})[param.name]
            except ValidationError as error:
                self.add_error(field, f"{part[:30]}: {' '.join(error.messages)}")
                return []
            if value not in values:
                values.append(value)
        return values

    def field_for(self, key) -> str | None:
        if key == "space":
            return None
        if f"{VALUES_PREFIX}{key}" in self.fields:
            return f"{VALUES_PREFIX}{key}"
        return super().field_for(key)


class BaselineForm(forms.Form):
    hypothesis = forms.IntegerField(min_value=1, max_value=2**63 - 1)
