"""What a trainer function receives: its parameters, data, and the calls that report back.

Runs in the trainer's child process (no Django). Metrics, progress and logged
parameters are buffered and sent to the parent in batches through `send`
(one JSON-able dict per message), never one message per point.
"""

from __future__ import annotations

import math
import operator
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from . import DATASETS

METRIC_KEY_MAX_LENGTH = 100
METRIC_KEYS_MAX = 1000  # distinct keys per run
STEP_MAX = 2**31 - 1  # fits any integer column
PARAM_LOG_VALUE_MAX_LENGTH = 500
MESSAGE_MAX_LENGTH = 500
ARTIFACT_NAME_MAX_LENGTH = 100
ARTIFACTS_MAX = 100
# Flush the buffer at this many points, or when this long has passed since the last
# flush (checked on every call: a trainer busy in one long fit flushes at its next call).
FLUSH_POINTS = 2000
FLUSH_SECONDS = 0.2
# A fixed split, so runs with different seeds are compared on the same test set.
SPLIT_SEED = 0
TEST_SIZE = 0.25

_KEY_RE = re.compile(r"[^\x00-\x1f\x7f]+")
_ARTIFACT_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*", re.ASCII)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".svg"}
MODEL_SUFFIXES = {".pkl", ".pickle", ".joblib"}


def artifact_kind(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "model" if suffix in MODEL_SUFFIXES else "file"


def _printable(text: str, limit: int) -> str:
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", str(text))[:limit]


class TrainerContext:
    def __init__(self, *, params: dict, dataset: str, seed: int, workdir: Path,
                 send: Callable[[dict], None], clock: Callable[[], float] = time.monotonic):
        self.params = dict(params)
        self.dataset = dataset
        self.seed = seed
        self.workdir = Path(workdir)
        self.artifacts_dir = self.workdir / "artifacts"
        self._send = send
        self._clock = clock
        self._points: list[list] = []  # [key, step, value, unix time]
        self._next_step: dict[str, int] = {}
        self._progress: float | None = None
        self._message: str | None = None
        self._params: dict = {}
        self._last_flush = clock()
        self._artifacts: set[str] = set()
        self._data = None

    # --- data ---------------------------------------------------------------------------
    def data(self):
        """(X_train, X_test, y_train, y_test): the dataset with a fixed, stratified 75/25 split."""
        if self._data is None:
            from sklearn import datasets
            from sklearn.model_selection import train_test_split

            if self.dataset not in DATASETS:
                raise ValueError(f"unknown dataset {self.dataset!r}")
            X, y = getattr(datasets, DATASETS[self.dataset].loader)(return_X_y=True)
            self._data = tuple(train_test_split(X, y, test_size=TEST_SIZE, stratify=y, random_state=SPLIT_SEED))
        return self._data

    # --- reporting ----------------------------------------------------------------------
    def log_metric(self, key: str, value, step: int | None = None) -> None:
        if not isinstance(key, str) or not 0 < len(key) <= METRIC_KEY_MAX_LENGTH or not _KEY_RE.fullmatch(key):
            raise ValueError(f"metric key must be 1 to {METRIC_KEY_MAX_LENGTH} printable characters, "
                             f"got {str(key)[:METRIC_KEY_MAX_LENGTH]!r}")
        if isinstance(value, str | bytes):
            raise TypeError(f"metric {key!r}: value must be a number, got {type(value).__name__}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"metric {key!r}: value {value} is not finite (NaN and infinity are refused)")
        if key not in self._next_step and len(self._next_step) >= METRIC_KEYS_MAX:
            raise ValueError(f"too many metric keys (at most {METRIC_KEYS_MAX} per run)")
        if step is None:
            step = self._next_step.get(key, 0)
        else:
            step = operator.index(step)  # ints and numpy ints; not floats or strings
            if not 0 <= step <= STEP_MAX:
                raise ValueError(f"metric {key!r}: step must be between 0 and {STEP_MAX}, got {step}")
        self._next_step[key] = max(self._next_step.get(key, 0), step + 1)
        self._points.append([key, step, value, time.time()])
        self._maybe_flush()

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def log_params(self, params: dict) -> None:
        """Record values the trainer chose or derived (sizes, versions...): scalars, strings cut to 500 chars."""
        for key, value in params.items():
            if not isinstance(key, str) or not 0 < len(key) <= METRIC_KEY_MAX_LENGTH or not _KEY_RE.fullmatch(key):
                raise ValueError(f"parameter name must be 1 to {METRIC_KEY_MAX_LENGTH} printable characters")
            if isinstance(value, float) and not math.isfinite(value):
                value = str(value)  # JSON has no NaN
            elif not isinstance(value, bool | int | float | str | type(None)):
                value = repr(value)
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
                value = str(value)
            if isinstance(value, str):
                value = _printable(value, PARAM_LOG_VALUE_MAX_LENGTH)
            self._params[key] = value
        self._maybe_flush()

    def progress(self, fraction: float, message: str = "") -> None:
        fraction = float(fraction)
        if math.isnan(fraction):
            raise ValueError("progress fraction must be a number between 0 and 1, got NaN")
        self._progress = min(1.0, max(0.0, fraction))
        if message:
            self._message = _printable(message, MESSAGE_MAX_LENGTH)
        self._maybe_flush()

    def save_artifact(self, path, name: str | None = None) -> Path:
        """Copy a file into the run's artifacts; kind from the suffix (image, model, file)."""
        source = Path(path)
        if not source.is_file():
            raise FileNotFoundError(f"artifact {str(path)[:200]!r} is not a file")
        if name is None:
            name = re.sub(r"[^A-Za-z0-9._-]", "_", source.name).lstrip(".-") or "artifact"
            name = name[-ARTIFACT_NAME_MAX_LENGTH:]
        if not isinstance(name, str) or len(name) > ARTIFACT_NAME_MAX_LENGTH or not _ARTIFACT_NAME_RE.fullmatch(name):
            raise ValueError(f"artifact name must be 1 to {ARTIFACT_NAME_MAX_LENGTH} characters of "
                             f"A-Z a-z 0-9 . _ - (not starting with . or -), got {str(name)[:100]!r}")
        if name not in self._artifacts and len(self._artifacts) >= ARTIFACTS_MAX:
            raise ValueError(f"too many artifacts (at most {ARTIFACTS_MAX} per run)")
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        target = self.artifacts_dir / name
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
        self._artifacts.add(name)
        self.flush()  # metrics logged before the artifact arrive before it
        self._send({"type": "artifact", "name": name, "kind": artifact_kind(name), "size": target.stat().st_size})
        return target

    # --- batching -----------------------------------------------------------------------
    def _maybe_flush(self) -> None:
        if len(self._points) >= FLUSH_POINTS or self._clock() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self._last_flush = self._clock()
        if not (self._points or self._progress is not None or self._message is not None or self._params):
            return
        batch = {"type": "batch", "metrics": self._points, "progress": self._progress,
                 "message": self._message, "params": self._params}
        self._points, self._progress, self._message, self._params = [], None, None, {}
        self._send(batch)
