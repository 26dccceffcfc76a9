"""From-scratch PCA against sklearn.decomposition.PCA, plus the invariants PCA must satisfy.

Data: the 8 x 8 digits (1797 x 64), the rows of the grayscale china.jpg (427 x 640, more
features than samples) and its 8 x 8 patches (4187 x 64).
Tolerances: exact solvers agree with sklearn's to rtol 1e-8 on variances, atol 1e-8 on
components and reconstructions; randomized is exact (rtol 1e-6) on a low-rank matrix.
"""

import warnings

import numpy as np
import pytest
from sklearn import decomposition
from sklearn.datasets import load_digits, load_sample_image
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from common.grading import grades
from projects.week1_pca.pca import (
    PCA,
    SKLEARN_SOLVER,
    SOLVERS,
    covariance_matrix,
    flip_signs,
    top_eigenpairs,
)

EXACT = ["covariance_eigh", "svd"]

DIGITS = load_digits().data
GRAY = load_sample_image("china.jpg") @ np.array([0.299, 0.587, 0.114])  # 427 x 640
PATCHES = GRAY[:424, :632].reshape(53, 8, 79, 8).swapaxes(1, 2).reshape(-1, 64)
DATASETS = {"digits": DIGITS, "china_rows": GRAY, "china_patches": PATCHES}


def low_rank(n_samples, n_features, rank=8, seed=0):
    """X = G H + offset + 1e-3 noise: rank-8 signal, a non-zero mean, a little noise."""
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((n_samples, rank)) @ rng.standard_normal((rank, n_features))
    offset = rng.uniform(-5, 5, n_features)
    return signal + offset + 1e-3 * rng.standard_normal((n_samples, n_features))


def fit_both(X, solver, n_components):
    ours = PCA(n_components, solver=solver, random_state=0).fit(X)
    theirs = decomposition.PCA(
        n_components, svd_solver=SKLEARN_SOLVER[solver], iterated_power=4, random_state=0
    ).fit(X)
    return ours, theirs


def assert_equal_up_to_sign(A, B, atol):
    """Rows of A equal rows of B after flipping each row of A to agree with B."""
    signs = np.sign(np.sum(A * B, axis=1, keepdims=True))
    np.testing.assert_allclose(A * signs, B, rtol=0, atol=atol)


@grades(covariance_matrix)
@pytest.mark.parametrize("dataset", ["digits", "china_patches"])
def test_covariance_matrix_matches_numpy_cov(dataset):
    X = DATASETS[dataset]
    C = covariance_matrix(X, X.mean(axis=0))
    np.testing.assert_allclose(C, np.cov(X, rowvar=False), rtol=1e-9, atol=1e-9 * np.abs(C).max())


@grades(top_eigenpairs)
@pytest.mark.parametrize("k", [1, 5, 64])  # 64: every eigenpair; 1, 5: the subset route
def test_top_eigenpairs_match_numpy_eig_of_the_digits_covariance(k):
    C = np.cov(DIGITS, rowvar=False)
    values, vectors = top_eigenpairs(C, k)
    all_values = np.linalg.eigvals(C)  # the general solver: an independent route
    order = np.argsort(all_values.real)[::-1][:k]
    np.testing.assert_allclose(values, all_values.real[order], rtol=1e-9, atol=1e-9)
    assert vectors.shape == (64, k)
    np.testing.assert_allclose(C @ vectors, vectors * values, atol=1e-8)  # C v = lambda v
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(k), atol=1e-10)


def reconstruct(pca, X):
    return pca.inverse_transform(pca.transform(X))


@pytest.mark.parametrize("n_components", [8, 20])
@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("solver", EXACT)
def test_exact_solvers_match_sklearn(solver, dataset, n_components):
    X = DATASETS[dataset]
    ours, theirs = fit_both(X, solver, n_components)
    np.testing.assert_allclose(ours.explained_variance_, theirs.explained_variance_, rtol=1e-8)
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, theirs.explained_variance_ratio_, rtol=1e-8
    )
    np.testing.assert_allclose(ours.singular_values_, theirs.singular_values_, rtol=1e-8)
    np.testing.assert_allclose(ours.mean_, theirs.mean_, rtol=1e-12)
    assert_equal_up_to_sign(ours.components_, theirs.components_, atol=1e-8)
    np.testing.assert_allclose(reconstruct(ours, X), reconstruct(theirs, X), rtol=0, atol=1e-8)


@pytest.mark.parametrize("solver", EXACT)
def test_all_components_match_sklearn_on_digits(solver):
    # Digits has constant pixels: its trailing eigenvalues are zero up to round-off, so
    # they are compared with atol 1e-10 lambda_1 on top of rtol 1e-8.
    ours, theirs = fit_both(DIGITS, solver, None)
    assert ours.n_components_ == theirs.n_components_ == 64
    atol = 1e-10 * theirs.explained_variance_[0]
    np.testing.assert_allclose(
        ours.explained_variance_, theirs.explained_variance_, rtol=1e-8, atol=atol
    )
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, theirs.explained_variance_ratio_, rtol=1e-8, atol=1e-10
    )
    np.testing.assert_allclose(ours.explained_variance_ratio_.sum(), 1.0, rtol=1e-12)


@pytest.mark.parametrize("shape", [(500, 60), (60, 500)])
def test_randomized_is_exact_on_a_low_rank_matrix(shape):
    # Sketch of k + 10 columns covers the rank-8 signal: agreement to rtol 1e-6 (the noise
    # floor), with sklearn's randomized solver and with our exact SVD.
    X = low_rank(*shape)
    ours, theirs = fit_both(X, "randomized", 8)
    exact = PCA(8, solver="svd").fit(X)
    for reference in (theirs, exact):
        np.testing.assert_allclose(
            ours.explained_variance_, reference.explained_variance_, rtol=1e-6
        )
        np.testing.assert_allclose(
            ours.explained_variance_ratio_, reference.explained_variance_ratio_, rtol=1e-6
        )
        assert_equal_up_to_sign(ours.components_, reference.components_, atol=1e-6)
    np.testing.assert_allclose(reconstruct(ours, X), reconstruct(theirs, X), rtol=0, atol=1e-6)


@pytest.mark.parametrize("random_state", [0, 1, 2])
def test_randomized_leading_variances_on_digits(random_state):
    # Digits is not low rank: with 4 power iterations the leading half of k = 20 agrees
    # with the exact solver to rtol 1e-6; the tail is looser (about 1e-3).
    exact = PCA(20, solver="svd").fit(DIGITS)
    ours = PCA(20, solver="randomized", random_state=random_state).fit(DIGITS)
    np.testing.assert_allclose(
        ours.explained_variance_[:10], exact.explained_variance_[:10], rtol=1e-6
    )
    np.testing.assert_allclose(ours.explained_variance_, exact.explained_variance_, rtol=1e-2)


def test_randomized_is_reproducible_with_a_seed():
    first = PCA(10, solver="randomized", random_state=42).fit(DIGITS)
    second = PCA(10, solver="randomized", random_state=42).fit(DIGITS)
    np.testing.assert_array_equal(first.components_, second.components_)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("solver", SOLVERS)
def test_components_are_orthonormal(solver, dataset):
    components = PCA(20, solver=solver, random_state=0).fit(DATASETS[dataset]).components_
    np.testing.assert_allclose(components @ components.T, np.eye(20), rtol=0, atol=1e-10)


@grades(flip_signs)
@pytest.mark.parametrize("solver", SOLVERS)
def test_sign_convention_largest_entry_positive(solver):
    components = PCA(20, solver=solver, random_state=0).fit(DIGITS).components_
    largest = components[np.arange(20), np.argmax(np.abs(components), axis=1)]
    assert np.all(largest > 0)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("solver", SOLVERS)
def test_full_rank_pca_reconstructs_exactly(solver, dataset):
    X = DATASETS[dataset]
    pca = PCA(solver=solver, random_state=0).fit(X)
    assert pca.n_components_ == min(X.shape)
    np.testing.assert_allclose(reconstruct(pca, X), X, rtol=0, atol=1e-10 * np.abs(X).max())


@pytest.mark.parametrize("solver", SOLVERS)
def test_variances_decrease_and_ratios_use_total_variance(solver):
    pca = PCA(20, solver=solver, random_state=0).fit(DIGITS)
    assert np.all(np.diff(pca.explained_variance_) <= 0)
    total_variance = DIGITS.var(axis=0, ddof=1).sum()
    np.testing.assert_allclose(
        pca.explained_variance_ratio_, pca.explained_variance_ / total_variance, rtol=1e-10
    )
    np.testing.assert_allclose(
        pca.singular_values_**2 / (len(DIGITS) - 1), pca.explained_variance_, rtol=1e-12
    )


@pytest.mark.parametrize("solver", SOLVERS)
def test_fit_transform_equals_fit_then_transform(solver):
    pca = PCA(20, solver=solver, random_state=0)
    scores = pca.fit_transform(DIGITS)
    np.testing.assert_allclose(scores, pca.transform(DIGITS), rtol=0, atol=1e-12)
    np.testing.assert_allclose(scores, (DIGITS - pca.mean_) @ pca.components_.T, rtol=0, atol=1e-10)
    assert (pca.n_features_in_, pca.n_samples_) == (64, 1797)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_components": 100}, r"^n_components must be an int in \[1, 64\], got 100$"),
        ({"n_components": 0}, r"^n_components must be an int in \[1, 64\], got 0$"),
        ({"n_components": 2.5}, r"^n_components must be an int in \[1, 64\], got 2.5$"),
        ({"solver": "eig"}, r"solver must be one of \['covariance_eigh', 'randomized', 'svd'\]"),
        ({"n_oversamples": -1}, r"^n_oversamples must be an int >= 0, got -1$"),
        ({"n_power_iterations": 1.5}, r"^n_power_iterations must be an int >= 0, got 1.5$"),
    ],
)
def test_invalid_parameters_raise_clear_errors(params, message):
    with pytest.raises(ValueError, match=message):
        PCA(**params).fit(DIGITS)


def test_transform_checks_fitted_and_feature_count():
    with pytest.raises(NotFittedError):
        PCA().transform(DIGITS)
    pca = PCA(5).fit(DIGITS)
    with pytest.raises(
        ValueError, match=r"^X has 10 features, but PCA is expecting 64 features as input\.$"
    ):
        pca.transform(DIGITS[:, :10])


def test_works_in_a_pipeline_like_sklearn_pca():
    ours = make_pipeline(StandardScaler(), PCA(20), LogisticRegression(max_iter=2000))
    theirs = make_pipeline(
        StandardScaler(), decomposition.PCA(20), LogisticRegression(max_iter=2000)
    )
    y = load_digits().target
    np.testing.assert_array_equal(
        ours.fit(DIGITS, y).predict(DIGITS), theirs.fit(DIGITS, y).predict(DIGITS)
    )
    assert list(ours[:2].get_feature_names_out()[:2]) == ["pca0", "pca1"]
    assert cross_val_score(ours, DIGITS, y, cv=3).mean() > 0.85


@parametrize_with_checks([PCA(solver=solver) for solver in SOLVERS])
def test_sklearn_estimator_checks(estimator, check):
    # check_array_api_input skips itself unless SCIPY_ARRAY_API=1 (we use NumPy only).
    check(estimator)


@pytest.mark.parametrize("solver", ["covariance_eigh", "svd"])
def test_constant_data_explains_no_variance_without_warnings(solver):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pca = PCA(solver=solver).fit(np.full((10, 4), 3.0))
    np.testing.assert_array_equal(pca.explained_variance_ratio_, 0.0)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(np.full((2, 4), 3.0))), 3.0)
