"""Scores of probabilities and their recalibration against scikit-learn's.

References: ``sklearn.metrics.log_loss`` and ``brier_score_loss`` (rtol 1e-12),
``sklearn.calibration.calibration_curve`` with uniform bins (atol 1e-15, and the bin counts),
``sklearn.isotonic.IsotonicRegression`` on the same log-odds (atol 1e-12), and
``CalibratedClassifierCV(method="temperature", ensemble=False)`` on the same folds: the
inverse temperature within rtol 1e-7, P(spam) within atol 1e-8 (scikit-learn turns
probabilities back into logits as log(p + eps) and stops its search at a tolerance of its
own (measured: 1e-9 and 2e-10); the data keeps |log-odds| < 15, where that eps is negligible).
"""

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sklearn_log_loss
from sklearn.model_selection import StratifiedGroupKFold

from projects.week2_spam import calibration
from projects.week2_spam.evaluation import fit_calibration, out_of_fold_log_odds
from projects.week2_spam.naive_bayes import MultinomialNaiveBayes


def labelled_probabilities(seed: int, n: int = 500):
    """Labels, and P(spam) with exact 0s, 1s and bin edges among them (the awkward values)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.3, 0.3, n)
    p[:8] = [0.0, 1.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1 - 1e-17]
    return rng.random(n) < p, p


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_loss_and_brier_score_are_scikit_learns(seed):
    is_spam, p = labelled_probabilities(seed)
    assert calibration.log_loss(is_spam, p) == pytest.approx(
        sklearn_log_loss(is_spam, p, labels=[False, True]), rel=1e-12
    )
    assert calibration.brier_score(is_spam, p) == pytest.approx(
        brier_score_loss(is_spam, p), rel=1e-12
    )


def test_a_wrong_certainty_costs_36_nats_and_a_brier_of_1():
    assert calibration.log_loss(np.array([True]), np.array([0.0])) == pytest.approx(
        -np.log(np.finfo(float).eps), rel=1e-12
    )
    assert calibration.brier_score(np.array([True]), np.array([0.0])) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_bins", [5, 10])
def test_reliability_bins_are_scikit_learns_calibration_curve(seed, n_bins):
    is_spam, p = labelled_probabilities(seed)
    predicted, observed, count = calibration.reliability_bins(is_spam, p, n_bins)
    observed_sk, predicted_sk = calibration_curve(is_spam, p, n_bins=n_bins, strategy="uniform")
    np.testing.assert_allclose(predicted, predicted_sk, rtol=0, atol=1e-15)
    np.testing.assert_allclose(observed, observed_sk, rtol=0, atol=1e-15)
    assert count.sum() == len(p)
    assert (count > 0).all()  # the empty bins are left out, as scikit-learn leaves them


def test_saturated_share_and_calibration_error_by_hand():
    p = np.array([0.0, 0.01, 0.02, 0.5, 0.98, 0.99, 1.0, 0.25])
    assert calibration.saturated_share(p) == 4 / 8  # 0, 0.01, 0.99 and 1 are outside
    # two bins, (0.1, 0.2] holds 0.15 (spam), (0.8, 0.9] holds 0.85 (ham): |1 - .15|, |0 - .85|
    is_spam, p = np.array([True, False]), np.array([0.15, 0.85])
    assert calibration.expected_calibration_error(is_spam, p) == pytest.approx(0.85, abs=1e-15)


def counts_data(seed: int = 0, n: int = 400, n_features: int = 6):
    """Poisson counts whose rates depend on the class: naive Bayes with moderate log-odds."""
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.3, "spam", "ham").astype(object)
    rates = np.where((y == "spam")[:, None], np.linspace(1.5, 0.5, n_features), 1.0)
    return rng.poisson(rates * 1.5).astype(np.float64), y


def test_temperature_scaling_is_calibrated_classifier_cv_temperature():
    X, y = counts_data()
    groups = np.arange(len(y))  # every row its own group: plain stratified folds
    folds = list(StratifiedGroupKFold(5, shuffle=True, random_state=0).split(X, y, groups))
    make = lambda: MultinomialNaiveBayes(alpha=1.0)  # noqa: E731
    ours = fit_calibration(make, X, y, groups=groups, method="temperature", folds=5, seed=0)
    z = out_of_fold_log_odds(make, X, y, groups=groups, folds=5, seed=0)
    assert np.abs(z).max() < 15  # moderate log-odds: scikit-learn's eps moves nothing
    reference = CalibratedClassifierCV(make(), method="temperature", cv=folds, ensemble=False)
    reference.fit(X, y)
    beta = reference.calibrated_classifiers_[0].calibrators[0].beta_
    assert ours.beta == pytest.approx(beta, rel=1e-7)
    model = make().fit(X, y)
    log_p = model.predict_log_proba(X)
    p_ours = ours.predict(log_p[:, 1] - log_p[:, 0])  # classes_ = [ham, spam]
    np.testing.assert_allclose(p_ours, reference.predict_proba(X)[:, 1], rtol=0, atol=1e-8)


@pytest.mark.parametrize("seed", [0, 1])
def test_temperature_minimizes_the_log_loss_and_keeps_every_decision(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(300) < 0.4
    z = 8 * (y - 0.5) + rng.normal(0, 4, 300)  # overconfident: log-odds twice as large
    fitted = calibration.fit_temperature(z, y)
    assert calibration.log_loss_slope(fitted.beta, z, y) == pytest.approx(0, abs=1e-10)
    loss = calibration.log_loss(y, fitted.predict(z))
    for beta in (0.9 * fitted.beta, 1.1 * fitted.beta, 1.0):  # 1.0: the uncalibrated
        assert loss < calibration.log_loss(y, calibration.Temperature(beta).predict(z))
    assert fitted.beta < 1  # it softens overconfident log-odds
    np.testing.assert_array_equal(fitted.predict(z) > 0.5, z > 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_isotonic_is_scikit_learns_isotonic_regression(seed):
    rng = np.random.default_rng(seed)
    z = np.round(rng.normal(0, 5, 400), 1)  # ties among the log-odds
    y = rng.random(400) < 1 / (1 + np.exp(-z / 3))
    fitted = calibration.fit_isotonic(z, y)
    reference = IsotonicRegression(out_of_bounds="clip").fit(z, y.astype(float))
    new = rng.normal(0, 7, 200)  # between the knots and beyond the ends
    np.testing.assert_allclose(fitted.predict(new), reference.predict(new), rtol=0, atol=1e-12)
    np.testing.assert_allclose(fitted.predict(z), reference.predict(z), rtol=0, atol=1e-12)
    assert np.all(np.diff(fitted.values) >= 0)  # non-decreasing
    # alpha = 0's infinite log-odds (which scikit-learn's predict refuses): the end values
    ends = fitted.predict(np.array([-np.inf, np.inf]))
    np.testing.assert_array_equal(ends, reference.predict([z.min(), z.max()]))


def test_isotonic_ranks_infinite_log_odds_beyond_the_finite_ones():
    # alpha = 0: a token seen only in spam gives z = +inf. Such messages are the most spammy
    # of all, and the fit must see them so: here they are all spam, the finite ones mixed.
    z = np.array([-np.inf, -np.inf, -3.0, -1.0, 0.5, 2.0, np.inf, np.inf, np.inf])
    y = np.array([False, False, False, True, False, True, True, True, True])
    fitted = calibration.fit_isotonic(z, y)
    finite = np.isfinite(z)
    reference = IsotonicRegression().fit(np.where(finite, z, np.sign(z) * 10), y.astype(float))
    np.testing.assert_allclose(
        fitted.predict(z), reference.predict(np.clip(z, -10, 10)), atol=1e-12
    )
    assert fitted.predict(np.array([np.inf]))[0] == 1.0
    assert fitted.predict(np.array([-np.inf]))[0] == 0.0


def test_too_few_messages_of_a_class_for_the_calibration_folds_is_one_line_naming_the_key():
    X, y = counts_data(n=40)
    y[:] = "ham"
    y[:3] = "spam"  # 3 spam messages cannot fill 5 folds
    with pytest.raises(ValueError, match=r"^calibration.folds=5: .* only 3 messages of one class"):
        fit_calibration(
            MultinomialNaiveBayes, X, y, groups=np.arange(40), method="temperature", folds=5, seed=0
        )
