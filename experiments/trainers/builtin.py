"""Built-in trainers: scikit-learn classifiers on the bundled datasets.

Each logs a learning curve (val_accuracy, val_loss and train_loss per step), then the
test set's accuracy, f1 (macro) and roc_auc, a confusion-matrix PNG and the fitted
model. scikit-learn and matplotlib are imported inside the functions: listing
trainers in the web process stays light, and the fork server has them preloaded.
The helpers below (classification_metrics, save_confusion_matrix, save_model) are
meant for team trainers too.
"""

from __future__ import annotations

import math
import warnings

from . import Param, trainer


def classification_metrics(y_true, y_pred, proba=None, classes=None) -> dict[str, float]:
    """accuracy, f1 (macro) and, given class probabilities, roc_auc (binary, or one-vs-rest macro)."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    metrics = {"accuracy": accuracy_score(y_true, y_pred), "f1": f1_score(y_true, y_pred, average="macro")}
    if proba is not None:
        try:
            if proba.shape[1] == 2:
                metrics["roc_auc"] = roc_auc_score(y_true, proba[:, 1])
            else:
                metrics["roc_auc"] = roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes)
        except ValueError:  # a class missing from y_true: AUC is undefined
            pass
    return metrics


def save_confusion_matrix(ctx, y_true, y_pred, name: str = "confusion_matrix.png"):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from sklearn.metrics import ConfusionMatrixDisplay

    figure = Figure(figsize=(5, 4.5), dpi=100)  # no pyplot: no global state, no GUI backend
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, ax=axes, colorbar=False)
    axes.set_title("Confusion matrix (test set)")
    figure.tight_layout()
    path = ctx.workdir / name
    figure.savefig(path, format="png")
    return ctx.save_artifact(path)


def save_model(ctx, model, name: str = "model.joblib"):
    import joblib

    path = ctx.workdir / name
    joblib.dump(model, path)
    return ctx.save_artifact(path)


def _split(ctx, *, scale: bool):
    import numpy as np

    X_train, X_test, y_train, y_test = ctx.data()
    scaler = None
    if scale:
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    classes = np.unique(y_train)
    ctx.log_params({"n_train": len(y_train), "n_test": len(y_test), "n_features": X_train.shape[1],
                    "n_classes": len(classes)})
    return X_train, X_test, y_train, y_test, classes, scaler


def _curve_point(ctx, model, X_train, X_test, y_train, y_test, step: int, train_loss: float | None = None):
    from sklearn.metrics import accuracy_score, log_loss

    proba = model.predict_proba(X_test)
    values = {"val_accuracy": accuracy_score(y_test, model.classes_[proba.argmax(axis=1)]),
              "val_loss": log_loss(y_test, proba, labels=model.classes_)}
    if train_loss is None:
        train_loss = log_loss(y_train, model.predict_proba(X_train), labels=model.classes_)
    values["train_loss"] = train_loss
    ctx.log_metrics(values, step=step)


def _finish(ctx, model, X_test, y_test, saved_model=None) -> None:
    ctx.progress(0.95, "evaluating on the test set")
    y_pred = model.predict(X_test)
    proba = model.predict_proba(X_test) if hasattr(model, "predict_proba") else None
    ctx.log_metrics(classification_metrics(y_test, y_pred, proba, classes=model.classes_))
    save_confusion_matrix(ctx, y_test, y_pred)
    save_model(ctx, model if saved_model is None else saved_model)
    ctx.progress(1.0, "done")


def _with_scaler(scaler, model):
    from sklearn.pipeline import Pipeline

    return Pipeline([("scale", scaler), ("model", model)])  # both fitted: ready to predict on raw features


def _checkpoints(total: int, points: int = 10) -> list[int]:
    """About `points` increasing counts ending at total (1, 2, ... when total is small)."""
    return sorted({max(1, math.ceil(total * i / points)) for i in range(1, points + 1)})


@trainer(
    title="Logistic regression",
    description="L-BFGS on standardised features; the curve is taken every tenth of max_iter (warm start).",
    params=[
        Param("C", "float", 1.0, min=1e-4, max=1e4, log=True, help="Inverse regularisation strength."),
        Param("max_iter", "int", 100, min=10, max=10_000, help="L-BFGS iterations in total."),
    ],
)
def logistic_regression(ctx):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    X_train, X_test, y_train, y_test, _classes, scaler = _split(ctx, scale=True)
    model = LogisticRegression(C=ctx.params["C"], warm_start=True, random_state=ctx.seed)
    done = 0
    for total in _checkpoints(ctx.params["max_iter"]):
        model.max_iter = total - done
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # stopping early is the point of the chunks
            model.fit(X_train, y_train)
        done = total
        _curve_point(ctx, model, X_train, X_test, y_train, y_test, step=done)
        ctx.progress(0.9 * done / ctx.params["max_iter"], f"{done}/{ctx.params['max_iter']} iterations")
    _finish(ctx, model, X_test, y_test, saved_model=_with_scaler(scaler, model))


@trainer(
    title="Random forest",
    description="Trees added in tenths (warm start); the curve follows the number of trees.",
    params=[
        Param("n_estimators", "int", 50, min=1, max=2000, help="Number of trees."),
        Param("max_depth", "int", 8, min=1, max=100, help="Maximum depth of a tree."),
        Param("min_samples_leaf", "int", 1, min=1, max=1000, help="Fewest samples in a leaf."),
        Param("criterion", "choice", "gini", choices=("gini", "entropy", "log_loss"), help="Split quality."),
    ],
)
def random_forest(ctx):
    from sklearn.ensemble import RandomForestClassifier

    X_train, X_test, y_train, y_test, _classes, _ = _split(ctx, scale=False)
    model = RandomForestClassifier(n_estimators=1, warm_start=True, max_depth=ctx.params["max_depth"],
                                   min_samples_leaf=ctx.params["min_samples_leaf"],
                                   criterion=ctx.params["criterion"], random_state=ctx.seed, n_jobs=1)
    total = ctx.params["n_estimators"]
    for trees in _checkpoints(total):
        model.n_estimators = trees
        model.fit(X_train, y_train)
        _curve_point(ctx, model, X_train, X_test, y_train, y_test, step=trees)
        ctx.progress(0.9 * trees / total, f"{trees}/{total} trees")
    _finish(ctx, model, X_test, y_test)


@trainer(
    title="Gradient boosting",
    description="scikit-learn's GradientBoostingClassifier; the curve has one point per boosting stage.",
    params=[
        Param("learning_rate", "float", 0.1, min=1e-4, max=1.0, log=True, help="Shrinkage of each stage."),
        Param("n_estimators", "int", 50, min=1, max=2000, help="Boosting stages."),
        Param("max_depth", "int", 3, min=1, max=32, help="Depth of each stage's trees."),
        Param("subsample", "float", 1.0, min=0.1, max=1.0, help="Fraction of samples per stage."),
    ],
)
def gradient_boosting(ctx):
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import accuracy_score, log_loss

    X_train, X_test, y_train, y_test, _classes, _ = _split(ctx, scale=False)
    total = ctx.params["n_estimators"]
    model = GradientBoostingClassifier(learning_rate=ctx.params["learning_rate"], n_estimators=total,
                                       max_depth=ctx.params["max_depth"], subsample=ctx.params["subsample"],
                                       random_state=ctx.seed)

    def monitor(stage, _model, _locals):
        ctx.progress(0.8 * (stage + 1) / total, f"stage {stage + 1}/{total}")
        return False  # never stop early

    model.fit(X_train, y_train, monitor=monitor)
    for stage, proba in enumerate(model.staged_predict_proba(X_test), start=1):
        ctx.log_metrics({
            "val_accuracy": accuracy_score(y_test, model.classes_[proba.argmax(axis=1)]),
            "val_loss": log_loss(y_test, proba, labels=model.classes_),
            "train_loss": float(model.train_score_[stage - 1]),  # the training loss after that stage
        }, step=stage)
    _finish(ctx, model, X_test, y_test)


@trainer(
    title="Neural network (MLP)",
    description="One hidden layer trained with Adam, one epoch per step (partial_fit).",
    params=[
        Param("hidden_units", "int", 64, min=1, max=1024, help="Units in the hidden layer."),
        Param("alpha", "float", 1e-4, min=1e-7, max=10.0, log=True, help="L2 penalty."),
        Param("max_iter", "int", 60, min=1, max=2000, help="Epochs."),
        Param("learning_rate_init", "float", 0.01, min=1e-5, max=1.0, log=True, help="Adam's step size."),
        Param("batch_size", "int", 32, min=1, max=4096, help="Samples per gradient step."),
    ],
)
def mlp(ctx):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X_train, X_test, y_train, y_test, classes, scaler = _split(ctx, scale=True)
    model = MLPClassifier(hidden_layer_sizes=(ctx.params["hidden_units"],), alpha=ctx.params["alpha"],
                          learning_rate_init=ctx.params["learning_rate_init"],
                          batch_size=min(ctx.params["batch_size"], len(y_train)), random_state=ctx.seed)
    epochs = ctx.params["max_iter"]
    for epoch in range(1, epochs + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(X_train, y_train, classes=classes)
        _curve_point(ctx, model, X_train, X_test, y_train, y_test, step=epoch, train_loss=float(model.loss_))
        ctx.progress(0.9 * epoch / epochs, f"epoch {epoch}/{epochs}")
    _finish(ctx, model, X_test, y_test, saved_model=_with_scaler(scaler, model))
