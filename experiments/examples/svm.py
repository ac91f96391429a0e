"""A team's own trainer: a support vector machine, with a curve over the training-set size."""

from experiments.trainers import Param, trainer
from experiments.trainers.builtin import save_confusion_matrix, save_model


@trainer(
    title="SVM (team example)",
    params=[
        Param("C", "float", 1.0, min=1e-3, max=1e3, log=True, help="Penalty for misclassified points."),
        Param("kernel", "choice", "rbf", choices=("rbf", "linear", "poly")),
        Param("gamma", "choice", "scale", choices=("scale", "auto")),
    ],
)
def svm(ctx):
    # Imported here, not at the top: the web process lists trainers without loading scikit-learn.
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X_train, X_test, y_train, y_test = ctx.data()
    p = ctx.params
    # The learning curve: refit on a growing share of the (shuffled) training set.
    for step, share in enumerate([0.2, 0.4, 0.6, 0.8, 1.0], start=1):
        n = int(len(y_train) * share)
        model = make_pipeline(StandardScaler(), SVC(C=p["C"], kernel=p["kernel"], gamma=p["gamma"]))
        model.fit(X_train[:n], y_train[:n])
        ctx.log_metric("val_accuracy", accuracy_score(y_test, model.predict(X_test)), step=step)
        ctx.progress(share * 0.9, f"trained on {n} samples")
    y_pred = model.predict(X_test)
    ctx.log_metrics({"accuracy": accuracy_score(y_test, y_pred), "f1": f1_score(y_test, y_pred, average="macro")})
    save_confusion_matrix(ctx, y_test, y_pred)
    save_model(ctx, model)
