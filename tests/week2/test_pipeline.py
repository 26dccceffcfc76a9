"""Week 2 end to end: the real CLI on the real corpus, the logged model, and bad inputs."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hydra.errors import ConfigCompositionException
from sklearn.pipeline import FeatureUnion, Pipeline

from common.estimator_files import pinned
from common.paths import REPO_ROOT
from common.tracking import EXIT_FAILED, run_tracked
from projects.week2_spam import cli, config, pipeline  # noqa: F401  (config registers the schema)
from projects.week2_spam.calibration import Isotonic, Temperature
from tests.pickles import pickle_files, unpickled_classes
from tests.test_curriculum import logged_names
from tests.weeks import compose_config, run_in_own_store, run_in_process_own_store

needs_corpus = pytest.mark.skipif(
    not os.environ.get("MATH4ML_DATA_MIRROR"),
    reason="set MATH4ML_DATA_MIRROR to the offline dataset copies (../shared/data)",
)
QUICK = ["drill_samples=2000", "explain.n_misclassified=1"]
NO_FIGURES = [*QUICK, "figures=false"]  # for the runs whose figures no test reads


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, empty_store):
    """One default week-2 run as the CLI runs it, in this process, in a store of its own."""
    folder = tmp_path_factory.mktemp("week2")
    client, run, uri = run_in_process_own_store("week2_spam", "week2", QUICK, folder, empty_store)
    return client, run, uri, folder


def stock_sklearn_test_mcc() -> float:
    """Held-out MCC of CountVectorizer() + MultinomialNB() on the default run's split
    (test_size 0.2, stratified, seed 0): an independent floor (0.921 on the corpus)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.metrics import matthews_corrcoef
    from sklearn.model_selection import train_test_split
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    from projects.week2_spam.data import load_messages

    messages = load_messages()
    train_x, test_x, train_y, test_y = train_test_split(
        messages["text"],
        messages["label"],
        test_size=0.2,
        stratify=messages["label"],
        random_state=0,
    )
    stock = make_pipeline(CountVectorizer(), MultinomialNB()).fit(train_x, train_y)
    return matthews_corrcoef(test_y == "spam", stock.predict(test_x) == "spam")


@needs_corpus
def test_default_run_finishes_with_the_metrics_and_artifacts_the_readme_promises(finished_run):
    client, run, _, folder = finished_run
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    for name in ("accuracy", "precision", "recall", "f1", "mcc", "roc_auc"):
        assert 0 <= metrics[f"test_{name}"] <= 1
    # A filter worth shipping: at least what stock scikit-learn (CountVectorizer +
    # MultinomialNB, no tuning) reaches on the same held-out split, minus 0.03 (always-ham
    # scores MCC 0, and so would a filter that learned nothing).
    assert metrics["test_mcc"] >= stock_sklearn_test_mcc() - 0.03
    assert metrics["parity_max_abs_log_proba"] < 1e-10
    assert 0 <= metrics["mcnemar_p_value"] <= 1
    artifacts = Path(client.download_artifacts(run.info.run_id, "", str(folder / "artifacts")))
    for name in logged_names(week=2):
        if "/" in name or name.endswith(".json"):
            assert (artifacts / name).exists(), f"README promises artifact {name}"
        else:
            assert name in metrics, f"README promises metric {name}"


ROADMAP_NAMES = {  # W2.5, W2.P5, W2.X3, W2.X4, W2.X5: the README rows name them
    "tables/events.json",
    "rule_mcnemar_p_value",
    "tables/class_statistics.json",
    "groupby_prior_max_abs_diff",
    "figures/spam_rate_posterior.png",
    "dirichlet_posterior_mean_max_abs_diff",
    "rule_mcnemar_exact_p_value",
    "tables/density_integrals.json",
    "roc_auc_trapezoid",
}


@needs_corpus
def test_the_run_logs_events_groupby_posteriors_counts_and_integrals_that_hold(finished_run):
    client, run, _, folder = finished_run
    assert set(logged_names(week=2)) >= ROADMAP_NAMES  # and the test above finds each in the run
    m = run.data.metrics
    assert m["p_free_or_url"] == pytest.approx(
        m["p_free"] + m["p_url"] - m["p_free_and_url"], rel=0, abs=1e-15
    )
    assert m["free_url_lift"] > 1  # "free" and URLs go together: both are spam's
    assert m["groupby_count_max_abs_diff"] == 0
    assert m["groupby_prior_max_abs_diff"] < 1e-15
    assert m["dirichlet_posterior_mean_max_abs_diff"] < 1e-12
    assert m["spam_rate_ci_low"] < 747 / 5574 < m["spam_rate_ci_high"]
    assert m["spam_rate_ci_area"] == pytest.approx(0.95, abs=1e-9)
    assert m["spam_rate_posterior_mean"] == pytest.approx(748 / 5576, rel=1e-12)  # (k+1)/(n+2)
    assert 0 <= m["rule_mcnemar_exact_p_value"] <= 1
    assert m["rule_mcc"] < m["test_mcc"]  # the keyword rule is the weaker filter
    assert m["density_integral_max_abs_error"] < 1e-6
    assert m["roc_auc_trapezoid_abs_diff"] < 1e-12
    assert m["roc_auc_trapezoid"] == pytest.approx(m["test_roc_auc"], rel=0, abs=1e-12)
    events_table = client.download_artifacts(run.info.run_id, "tables/events.json", str(folder))
    table = json.loads(Path(events_table).read_text())
    columns = table["columns"]
    for row in table["data"]:
        record = dict(zip(columns, row, strict=True))
        assert record["p_counted"] == pytest.approx(record["p_by_rule"], rel=1e-15)


@needs_corpus
def test_the_logged_model_scores_raw_text_like_the_filter(finished_run):
    import mlflow

    _, run, uri, _ = finished_run
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/spam_filter")
    messages = ["WINNER!! Claim your FREE prize now, call 09061701461", "see you at lunch :)", ""]
    served = np.array(model.predict(messages))
    assert served[0] > 0.9 > 0.1 > served[1]
    assert 0 <= served[2] <= 1
    assert model.metadata.signature is not None
    spam_filter = model.unwrap_python_model().spam_filter
    np.testing.assert_allclose(served, spam_filter.predict_proba(messages)[:, 1], rtol=0, atol=0)


@needs_corpus
@pytest.mark.slow
def test_the_logged_requirements_are_those_mlflow_infers(finished_run):
    """The run pins them (``pipeline.SERVING_DISTRIBUTIONS``); MLflow would load the model."""
    import mlflow

    _, run, uri, folder = finished_run
    mlflow.set_tracking_uri(uri)
    model = mlflow.artifacts.download_artifacts(
        f"runs:/{run.info.run_id}/spam_filter", dst_path=str(folder / "model")
    )
    logged = (Path(model) / "requirements.txt").read_text().split()
    inferred = mlflow.models.infer_pip_requirements(model, "python_function")
    assert logged == pinned(pipeline.SERVING_DISTRIBUTIONS)
    defaults = [f"mlflow=={mlflow.__version__}", *mlflow.pyfunc.get_default_pip_requirements()]
    assert set(logged) == {*inferred, *defaults}


def test_logging_the_model_says_no_routine_info_and_the_model_predicts(tmp_path, tracking_uri):
    import logging

    import mlflow

    from projects.week2_spam.spam_filter import build_filter

    cfg = compose_config("week2")
    texts = ["WIN a FREE prize now", "see you at lunch", "Claim your cash prize", "ok, call me"]
    spam_filter = build_filter(cfg.features, cfg.model).fit(texts, ["spam", "ham", "spam", "ham"])
    signature_logger = logging.getLogger("mlflow.models.signature")
    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    mlflow_logger = logging.getLogger("mlflow")  # every MLflow logger's records reach it
    mlflow_logger.addHandler(handler)
    mlflow.set_tracking_uri(tracking_uri)
    experiment = mlflow.MlflowClient().create_experiment(
        "week2-model", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    try:
        with mlflow.start_run(experiment_id=experiment) as run:
            pipeline.log_model(spam_filter)
    finally:
        mlflow_logger.removeHandler(handler)
    assert [r.getMessage() for r in records if r.levelno < logging.WARNING] == []
    assert signature_logger.level == logging.NOTSET  # the level is restored
    uri = f"runs:/{run.info.run_id}/{pipeline.MODEL_NAME}"
    assert pickle_files(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path))) == []
    with unpickled_classes() as found:
        model = mlflow.pyfunc.load_model(uri)
        served = model.predict(texts)
    assert found == []
    assert str(model.metadata.signature.inputs) == "[string (required)]"
    np.testing.assert_array_equal(served, spam_filter.predict_proba(texts)[:, 1])


OLD_MODEL = Path(__file__).with_name("data") / "filter_model_7782658"
OLD_TEXTS = ["WIN a FREE prize now", "see you at lunch", "Claim your cash prize", "ok, call me"]


def test_a_model_logged_by_an_earlier_version_still_loads_and_serves_the_same_probabilities():
    """``data/filter_model_7782658``: ``pipeline.log_model`` of commit 7782658 (the format
    before ``common.estimator_files``) on the filter below, Isotonic-calibrated, as logged."""
    import mlflow

    from projects.week2_spam.naive_bayes import MultinomialNaiveBayes
    from projects.week2_spam.spam_filter import spam_log_odds
    from projects.week2_spam.vectorizer import CountVectorizer

    words = CountVectorizer(analyzer="word", ngram_range=(1, 2))
    union = FeatureUnion([("word", words)])
    spam_filter = Pipeline([("features", union), ("model", MultinomialNaiveBayes(alpha=1.0))])
    spam_filter.fit(OLD_TEXTS, ["spam", "ham", "spam", "ham"])
    calibrator = Isotonic(np.array([-4.0, 0.0, 4.0]), np.array([0.1, 0.3, 0.8]))
    texts = [*OLD_TEXTS, "a FREE lunch, call now", ""]
    with unpickled_classes() as found:
        served = mlflow.pyfunc.load_model(str(OLD_MODEL)).predict(texts)
    assert found == []
    assert pickle_files(OLD_MODEL) == []
    np.testing.assert_array_equal(served, calibrator.predict(spam_log_odds(spam_filter, texts)))


@pytest.mark.parametrize(
    "calibrator",
    [
        Temperature(0.05),
        Isotonic(np.array([-40.0, 0.0, 40.0]), np.array([0.1, 0.3, 0.8])),
    ],
)
def test_a_calibrated_run_logs_a_model_that_serves_the_calibrated_probability(
    tmp_path, tracking_uri, calibrator, capsys
):
    import mlflow

    from projects.week2_spam.spam_filter import build_filter, spam_log_odds

    cfg = compose_config("week2", "features.char_ngrams=null")
    texts = ["WIN a FREE prize now", "see you at lunch", "Claim your cash prize", "ok, call me"]
    spam_filter = build_filter(cfg.features, cfg.model).fit(texts, ["spam", "ham", "spam", "ham"])
    mlflow.set_tracking_uri(tracking_uri)
    experiment = mlflow.MlflowClient().create_experiment(
        "week2-model", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    with mlflow.start_run(experiment_id=experiment) as run:
        pipeline.log_model(spam_filter, calibrator)
    uri = f"runs:/{run.info.run_id}/{pipeline.MODEL_NAME}"
    served = mlflow.pyfunc.load_model(uri)
    expected = calibrator.predict(spam_log_odds(spam_filter, texts))
    np.testing.assert_array_equal(served.predict(texts), expected)
    loaded = served.unwrap_python_model().calibrator  # stored as JSON and .npy, no pickle
    assert type(loaded) is type(calibrator)
    for name, value in dataclasses.asdict(calibrator).items():
        np.testing.assert_array_equal(getattr(loaded, name), value)
    cli.predict(texts[0], uri, tracking_uri)
    assert capsys.readouterr().out.splitlines()[-1].endswith(f"P(spam | text) = {expected[0]:.4f}")


@pytest.mark.slow  # two whole runs
@needs_corpus
def test_figures_false_logs_the_same_metrics_and_tables_and_no_figure(
    tmp_path, tracking_uri, runs_of
):
    corpus = Path(os.environ["MATH4ML_DATA_MIRROR"]) / "sms_spam" / "SMSSpamCollection"
    data = tmp_path / "messages.tsv"  # the first 600 messages: a small corpus, both classes
    data.write_text("\n".join(corpus.read_text(encoding="utf-8").split("\n")[:600]) + "\n")
    for figures in ("true", "false"):
        cfg = compose_config(
            "week2",
            f"data.path={data}",
            f"figures={figures}",
            *QUICK,
            f"tracking.uri={tracking_uri}",
        )
        run_tracked(cfg, "week2", pipeline.run)
    without, with_figures = runs_of("week2")  # newest first

    def artifacts(run, folder):
        return sorted(f.path for f in runs_of.client.list_artifacts(run.info.run_id, folder))

    assert without.data.metrics == with_figures.data.metrics
    assert len(with_figures.data.metrics) > 40
    assert artifacts(without, "tables") == artifacts(with_figures, "tables")
    assert len(artifacts(with_figures, "figures")) > 5
    assert artifacts(without, "figures") == []
    assert without.data.tags["mcnemar"] == with_figures.data.tags["mcnemar"]


@pytest.mark.slow  # two further whole runs; reading the CSV: tests/week2/test_data.py
@needs_corpus
def test_the_same_messages_as_a_csv_with_other_column_names_give_the_same_metrics(
    tmp_path, tracking_uri, runs_of
):
    import csv

    corpus = Path(os.environ["MATH4ML_DATA_MIRROR"]) / "sms_spam" / "SMSSpamCollection"
    lines = corpus.read_text(encoding="utf-8").split("\n")[:600]
    tsv, table = tmp_path / "messages.tsv", tmp_path / "messages.csv"
    tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with table.open("w", newline="", encoding="utf-8") as file:  # quoting: CSV's own rules
        writer = csv.writer(file)
        writer.writerow(["message", "category"])
        writer.writerows([line.split("\t", 1)[::-1] for line in lines])
    for data, columns in ((tsv, []), (table, ["data.label_column=category",
                                              "data.text_column=message"])):  # fmt: skip
        cfg = compose_config(
            "week2", f"data.path={data}", *columns, "figures=false", *QUICK,
            f"tracking.uri={tracking_uri}",
        )  # fmt: skip
        run_tracked(cfg, "week2", pipeline.run)
    from_csv, from_tsv = runs_of("week2")  # newest first
    assert from_csv.data.metrics == from_tsv.data.metrics
    assert len(from_csv.data.metrics) > 40


@needs_corpus
def test_predict_command_prints_the_verdict_and_the_evidence(finished_run, capsys):
    _, run, uri, _ = finished_run
    cli.main(["--tracking-uri", uri, "predict", "URGENT! You have won a £900 prize. Call now"])
    out = capsys.readouterr().out
    assert out.startswith("spam: P(spam | text) = ")
    assert run.info.run_id in out
    assert "prior log-odds" in out
    assert "posterior log-odds" in out


@pytest.mark.slow  # a CLI run
@needs_corpus
def test_alpha_0_the_unsmoothed_mle_finishes_compared_where_scikit_learn_is_defined(
    tmp_path, empty_store
):
    _, run, _ = run_in_own_store(
        "week2_spam", "week2", ["model.alpha=0", *NO_FIGURES], tmp_path, empty_store
    )
    assert run.info.status == "FINISHED"
    metrics, tags = run.data.metrics, run.data.tags
    undefined, n = int(metrics["sklearn_undefined_posteriors"]), 1115  # 20% of 5,574
    assert 0 < undefined < n
    assert tags["reference_comparison"] == (
        f"model.alpha=0.0: scikit-learn's naive Bayes gives NaN for {undefined} of {n} messages "
        "(unsmoothed, it computes 0/0 where P(x) = 0, or inf - inf; ours follows the "
        f"conventions in naive_bayes.py): parity and McNemar use the other {n - undefined}, "
        "no sklearn_* scores"
    )
    assert metrics["parity_max_abs_log_proba"] < 1e-10
    assert f" on {n - undefined} of {n} messages: p=" in tags["mcnemar"]
    assert 0 <= metrics["mcnemar_p_value"] <= 1
    assert not any(name.startswith("sklearn_test_") for name in metrics)
    assert 0 < metrics["test_mcc"] < 1


def make_predict(uri: str, *variables: str, stdin: str | None = None):
    """``make predict-week2 <variables>`` as a user runs it, against the store ``uri``."""
    return subprocess.run(
        ["make", "-s", "-o", ".venv/.install-stamp", "predict-week2", *variables],
        cwd=REPO_ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def log_odds(out: str, name: str) -> float:
    return float(re.search(rf"^{name}.*= ([-+][0-9.]+)$", out, re.MULTILINE).group(1))


@needs_corpus
@pytest.mark.slow  # `make predict-week2` as a process: mlflow, the model
def test_predict_of_an_empty_text_prints_a_posterior_that_adds_up_and_says_why(finished_run):
    _, _, uri, _ = finished_run
    result = make_predict(uri, "TEXT=")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "the posterior is the prior" not in out  # Bernoulli: every absent token is evidence
    assert "(no known token: only the absent tokens move the prior)" in out
    absent = float(re.search(r"^absent tokens \(Bernoulli\) +([-+][0-9.]+)$", out, re.M).group(1))
    prior, posterior = log_odds(out, "prior log-odds"), log_odds(out, "posterior log-odds")
    assert abs(absent) > 1
    assert posterior == pytest.approx(prior + absent, abs=2e-3)  # three printed decimals each


def test_an_empty_text_under_the_multinomial_model_has_the_prior_as_its_posterior():
    from projects.week2_spam.spam_filter import build_filter

    cfg = compose_config("week2", "model.name=multinomial")
    texts = ["WIN a FREE prize now", "see you at lunch", "Claim your cash prize", "ok, call me"]
    spam_filter = build_filter(cfg.features, cfg.model).fit(texts, ["spam", "ham", "ham", "ham"])
    out = "\n".join(cli.explanation_lines("", spam_filter, "a filter"))
    assert "(no known token: the posterior is the prior)" in out
    assert log_odds(out, "prior log-odds") == log_odds(out, "posterior log-odds") == -1.099
    assert "absent tokens" not in out


@needs_corpus
@pytest.mark.slow  # `make predict-week2` as a process: mlflow, the model
def test_predict_classifies_any_text_even_one_that_looks_like_an_option(finished_run):
    _, run, uri, _ = finished_run
    result = make_predict(uri, "TEXT=--help")
    assert result.returncode == 0, result.stderr
    assert re.match(r"(spam|ham): P\(spam \| text\) = ", result.stdout), result.stdout
    assert run.info.run_id in result.stdout
    assert "usage" not in result.stdout + result.stderr


@needs_corpus
@pytest.mark.slow  # `make predict-week2` as a process: mlflow, the model
def test_predict_reads_a_message_too_long_for_a_command_line_from_a_file_or_stdin(
    finished_run, tmp_path
):
    import mlflow

    _, run, uri, _ = finished_run
    message = "Call 09061701461 to claim your FREE prize, or text WIN to 80086! " * 3000
    assert len(message.encode()) > 128 * 1024  # the kernel's limit on one argument
    path = tmp_path / "message.txt"
    path.write_text(message)
    with pytest.raises(OSError, match="Argument list too long"):  # what FILE= is for
        make_predict(uri, f"TEXT={message}")
    from_file, from_stdin = (
        make_predict(uri, f"FILE={path}"),
        make_predict(uri, "FILE=-", stdin=message),
    )
    assert from_file.returncode == from_stdin.returncode == 0, from_file.stderr + from_stdin.stderr
    assert from_file.stdout == from_stdin.stdout
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/spam_filter")
    expected = model.predict([message])[0]
    assert from_file.stdout.split("\n")[0].split(" = ")[1].split()[0] == f"{expected:.4f}"
    missing = make_predict(uri, f"FILE={tmp_path / 'nope.txt'}")
    assert missing.returncode != 0
    assert f"error: FILE={tmp_path / 'nope.txt'}: No such file or directory" in missing.stderr


def test_predict_without_runs_says_what_to_do(tracking_uri):
    with pytest.raises(SystemExit, match=r"no FINISHED week2 run .* run `make week2` first"):
        cli.main(["--tracking-uri", tracking_uri, "predict", "hello"])


def test_predict_with_an_unknown_run_id_is_a_clear_error(tracking_uri):
    with pytest.raises(SystemExit, match="no run 'abc123'"):
        cli.main(["--tracking-uri", tracking_uri, "--run-id", "abc123", "predict", "hello"])


def test_unknown_labels_fail_the_run_with_the_line(tmp_path, tracking_uri, runs_of):
    data = tmp_path / "messages.tsv"
    data.write_text("ham\thello\nspam\tWIN\nsapm\tprize\n")
    cfg = compose_config("week2", f"data.path={data}", *QUICK, f"tracking.uri={tracking_uri}")
    with pytest.raises(SystemExit) as exited:
        run_tracked(cfg, "week2", pipeline.run)
    assert exited.value.code == EXIT_FAILED
    [run] = runs_of("week2")
    assert run.info.status == "FAILED"
    assert "line 3: unknown label 'sapm'" in run.data.tags["error"]


@needs_corpus
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.test_size=1.5", r"data.test_size must be in \(0, 1\), got 1.5"),
        ("model.alpha=-1", r"^ValueError: model.alpha must be a finite number >= 0, got -1.0$"),
        ("calibration.folds=1", r"calibration.folds must be >= 2 \(the log-odds .*\), got 1"),
    ],
)
def test_bad_settings_fail_the_run(override, message, tracking_uri, runs_of):
    cfg = compose_config("week2", override, *NO_FIGURES, f"tracking.uri={tracking_uri}")
    with pytest.raises(SystemExit):
        run_tracked(cfg, "week2", pipeline.run)
    [run] = runs_of("week2")
    assert run.info.status == "FAILED"
    assert re.search(message, run.data.tags["error"])


def test_config_typos_fail_at_composition():
    with pytest.raises(ConfigCompositionException):
        compose_config("week2", "model.alhpa=1")


@needs_corpus
def test_complement_model_runs_without_explanations(tracking_uri, runs_of):
    cfg = compose_config(
        "week2",
        "model.name=complement",
        "model.alpha=0.1",
        *NO_FIGURES,
        f"tracking.uri={tracking_uri}",
    )
    run_tracked(cfg, "week2", pipeline.run)
    [run] = runs_of("week2")
    assert run.info.status == "FINISHED"
    assert run.data.tags["explanations"] == "not available for ComplementNaiveBayes"


@pytest.mark.slow  # a whole cross-validated run: 3 x (3 + 1) fits of our filter, 6 of sklearn's
@needs_corpus
def test_cv_with_temperature_logs_grouped_and_calibrated_scores_and_the_reliability_table(
    tmp_path, tracking_uri, runs_of
):
    corpus = Path(os.environ["MATH4ML_DATA_MIRROR"]) / "sms_spam" / "SMSSpamCollection"
    data = tmp_path / "messages.tsv"  # the first 600 messages: a small corpus, both classes
    data.write_text("\n".join(corpus.read_text(encoding="utf-8").split("\n")[:600]) + "\n")
    cfg = compose_config(
        "week2",
        f"data.path={data}",
        "eval=cv",
        "cv_folds=3",
        "calibration.method=temperature",
        "calibration.folds=3",
        *NO_FIGURES,
        f"tracking.uri={tracking_uri}",
    )
    run_tracked(cfg, "week2", pipeline.run)
    [run] = runs_of("week2")
    assert run.info.status == "FINISHED"
    m = run.data.metrics
    for name in ("mcc", "log_loss", "brier", "saturated_share"):
        assert f"cv_grouped_{name}_mean" in m
        assert f"calibrated_cv_{name}_mean" in m
    assert m["calibration_temperature"] > 1  # naive Bayes is overconfident: T softens it
    assert m["calibrated_cv_log_loss_pooled"] < m["cv_log_loss_pooled"]
    assert m["calibrated_cv_mcc_pooled"] == m["cv_mcc_pooled"]  # the sign of z is kept
    path = runs_of.client.download_artifacts(run.info.run_id, "tables/reliability.json", tmp_path)
    table = json.loads(Path(path).read_text())
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    for name in ("ours", "scikit-learn", "ours, calibrated"):
        assert sum(r["messages"] for r in rows if r["filter"] == name) == 600
    import mlflow  # the logged filter (trained on all 600) serves temperature-scaled P(spam)

    served = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/{pipeline.MODEL_NAME}")
    assert isinstance(served.unwrap_python_model().calibrator, Temperature)
    assert run.data.tags["calibration"].startswith("temperature: calibrated_* score")
