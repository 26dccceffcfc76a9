"""Integrals against independent references.

References: numpy.trapezoid (rtol 1e-12) and closed forms for the trapezoid rule; the
trapezoid error bound (u - l) h^2 max|f''| / 12 plus the left-out tails for the densities;
scipy.integrate.quad to 1e-10; sklearn.metrics.roc_curve and roc_auc_score (1e-12) and the
Mann-Whitney U statistic of scipy.stats (rtol 1e-12) for the ROC AUC.
"""

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from common.grading import grades
from projects.week2_spam import integration
from projects.week2_spam.probability import DISTRIBUTIONS

# max |f''| of the continuous drilled densities: phi'' = (x^2 - 1) phi peaks at x = 0,
# the exponential's e^-x at 0, a constant has none
MAX_SECOND_DERIVATIVE = {"normal": 1 / np.sqrt(2 * np.pi), "uniform": 0.0, "exponential": 1.0}


@grades(integration.trapezoid)
def test_trapezoid_matches_numpy_and_is_exact_for_lines():
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(-3, 5, 101))
    y = np.sin(x) + x**2
    assert integration.trapezoid(y, x) == pytest.approx(np.trapezoid(y, x), rel=1e-12)
    assert integration.trapezoid(2 * x + 1, x) == pytest.approx(
        (x[-1] ** 2 + x[-1]) - (x[0] ** 2 + x[0]), rel=1e-12
    )


@grades(integration.trapezoid)
@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_each_drilled_density_integrates_to_one(name):
    dist = DISTRIBUTIONS[name][1]
    points = 20_001
    by_quad, by_trapezoid = integration.total_mass(dist, points)
    if integration.is_discrete(dist):
        assert by_quad == by_trapezoid == pytest.approx(1.0, abs=1e-11)  # tail left: <= 1e-12
        return
    assert by_quad == pytest.approx(1.0, abs=1e-10)
    low, high = max(dist.support()[0], dist.ppf(integration.TAIL)), dist.ppf(1 - integration.TAIL)
    h = (high - low) / (points - 1)
    bound = (high - low) * h**2 * MAX_SECOND_DERIVATIVE[name] / 12 + 2 * integration.TAIL
    assert abs(by_trapezoid - 1.0) <= bound + 1e-14


@grades(integration.trapezoid)
def test_trapezoid_error_shrinks_as_h_squared():
    dist = stats.expon()
    errors = [abs(integration.total_mass(dist, points)[1] - 1) for points in (1_001, 2_001)]
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.01)


def test_mass_table_and_area_of_an_interval():
    table = integration.mass_table({"beta": stats.beta(748, 4828), "Poisson": stats.poisson(4)})
    assert table["kind"].tolist() == ["pdf (integral)", "pmf (sum)"]
    assert table["max_abs_error"].max() < 1e-6
    dist = stats.norm()
    assert integration.area(dist, -1.96, 1.96) == pytest.approx(
        dist.cdf(1.96) - dist.cdf(-1.96), abs=1e-12
    )


@grades(integration.trapezoid, integration.roc_points)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_points_and_auc_match_sklearn_and_mann_whitney(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(500) < 0.2
    score = np.round(rng.normal(y * 1.2, 1.0), 1)  # rounded: many ties, diagonal steps
    fpr, tpr = integration.roc_points(y, score)
    sk_fpr, sk_tpr, _ = skm.roc_curve(y, score, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, rtol=0, atol=1e-15)
    np.testing.assert_allclose(tpr, sk_tpr, rtol=0, atol=1e-15)
    auc = integration.roc_auc_by_trapezoid(y, score)
    assert auc == pytest.approx(skm.roc_auc_score(y, score), rel=0, abs=1e-12)
    u = stats.mannwhitneyu(score[y], score[~y]).statistic  # pairs won, ties counted 1/2
    assert auc == pytest.approx(u / (y.sum() * (~y).sum()), rel=1e-12)


@grades(integration.trapezoid, integration.roc_points)
def test_perfect_and_reversed_scores():
    y = np.array([0, 0, 1, 1], dtype=bool)
    assert integration.roc_auc_by_trapezoid(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert integration.roc_auc_by_trapezoid(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert integration.roc_auc_by_trapezoid(y, [0.5, 0.5, 0.5, 0.5]) == 0.5


def test_invalid_inputs_are_refused():
    with pytest.raises(
        ValueError, match=r"^x and y must be 1-D, of one length >= 2, got \(1,\) and \(1,\)$"
    ):
        integration.trapezoid([1.0], [0.0])
    with pytest.raises(
        ValueError, match=r"^an ROC curve needs 1-D labels and scores of one length, both classes$"
    ):
        integration.roc_points([True, True], [0.1, 0.2])
