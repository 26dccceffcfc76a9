"""Matrices as maps (W1.6) and the cross product of colour axes (W1.7), against NumPy,
scikit-learn and ``np.linalg.solve`` (tolerance 1e-12 on well-scaled data, 1e-9 on pixels)."""

import numpy as np
import pytest
from sklearn.datasets import load_sample_image
from sklearn.decomposition import PCA as SklearnPCA
from sklearn.preprocessing import StandardScaler

from common.grading import grades
from projects.week1_pca.codec import colour
from projects.week1_pca.linear_maps import (
    apply_map,
    centre,
    centre_by_outer_product,
    colour_axes,
    composition_error,
    coordinates,
    cross,
    from_coordinates,
    round_trip_error,
    third_axis_alignment,
)
from projects.week1_pca.pca import PCA

RNG = np.random.default_rng(0)
CROP = load_sample_image("china.jpg")[150:246, 250:378]  # 96 x 128 x 3


@grades(apply_map)
def test_apply_map_sends_each_row_x_to_M_x():
    M, X = RNG.standard_normal((3, 4)), RNG.standard_normal((10, 4))
    np.testing.assert_allclose(apply_map(M, X), np.einsum("ij,nj->ni", M, X), atol=1e-12)


@grades(apply_map)
def test_composition_is_the_matrix_product():
    A, B, X = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4)), RNG.standard_normal((8, 4))
    assert composition_error(A, B, X) < 1e-12
    np.testing.assert_allclose(apply_map(A, apply_map(B, X)), X @ (A @ B).T, atol=1e-12)


def test_colour_map_composed_with_its_inverse_is_the_identity():
    M, rgb = colour.COLOUR, CROP.reshape(-1, 3)
    np.testing.assert_allclose(np.linalg.inv(M), M.T, atol=1e-12)  # orthonormal: M^-1 = M^T
    np.testing.assert_allclose(apply_map(M, rgb), colour.rgb_to_opponent(rgb), atol=1e-9)
    assert round_trip_error(M, np.linalg.inv(M), rgb) < 1e-9  # pixels up to 255
    assert composition_error(M.T, M, rgb) < 1e-9


def test_round_trip_error_sees_a_wrong_inverse():
    M = colour.COLOUR
    assert round_trip_error(M, M, np.eye(3)) > 0.1  # M is not its own inverse


def test_coordinates_in_the_pca_basis_match_solve_and_map_back_to_the_data():
    X = RNG.standard_normal((40, 5)) * np.arange(1, 6) + 3.0
    pca = PCA().fit(X)
    mean, V = pca.mean_, pca.components_  # rows: an orthonormal basis of R^5
    Z = coordinates(X, mean, V)
    # For any basis (columns of V^T), the coordinates solve V^T z = x - mu.
    np.testing.assert_allclose(Z, np.linalg.solve(V.T, (X - mean).T).T, atol=1e-12)
    np.testing.assert_allclose(Z, pca.transform(X), atol=1e-12)
    np.testing.assert_allclose(from_coordinates(Z, mean, V), X, atol=1e-12)


@grades(centre)
def test_centring_by_broadcasting_equals_subtracting_one_mu_transpose():
    X = RNG.standard_normal((30, 4)) + 10.0
    np.testing.assert_array_equal(centre(X), centre_by_outer_product(X))
    np.testing.assert_allclose(centre(X), StandardScaler(with_std=False).fit_transform(X), 1e-12)
    np.testing.assert_allclose(centre(X).mean(axis=0), 0.0, atol=1e-12)


@grades(cross)
def test_cross_matches_numpy_and_is_orthogonal_to_both_factors():
    a, b = RNG.standard_normal(3), RNG.standard_normal(3)
    c = cross(a, b)
    np.testing.assert_allclose(c, np.cross(a, b), atol=1e-12)
    np.testing.assert_allclose([c @ a, c @ b], 0.0, atol=1e-12)
    sin = np.sqrt(1 - (a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) ** 2)
    assert np.linalg.norm(c) == pytest.approx(np.linalg.norm(a) * np.linalg.norm(b) * sin, 1e-12)
    np.testing.assert_array_equal(cross([1, 0, 0], [0, 1, 0]), [0, 0, 1])  # e1 x e2 = e3


def test_cross_rejects_vectors_that_are_not_3d():
    with pytest.raises(ValueError, match="two 3-vectors, got lengths 2, 3"):
        cross([1, 2], [1, 2, 3])


def test_colour_axes_match_sklearn_pca_and_the_third_is_the_cross_of_the_first_two():
    V = colour_axes(CROP)
    reference = SklearnPCA(3).fit(CROP.reshape(-1, 3).astype(float)).components_.T
    np.testing.assert_allclose(V * np.sign(np.sum(V * reference, axis=0)), reference, atol=1e-9)
    assert third_axis_alignment(V) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(np.abs(cross(V[:, 0], V[:, 1])), np.abs(V[:, 2]), atol=1e-12)


def test_alignment_is_below_one_for_a_vector_off_the_cross_product():
    V = np.eye(3)
    V[:, 2] = [0, 0.6, 0.8]  # not orthogonal to e2: <v3, e1 x e2> = 0.8
    assert third_axis_alignment(V) == pytest.approx(0.8, abs=1e-12)


def test_colour_axes_need_three_channels():
    with pytest.raises(
        ValueError, match=r"^colour axes need 3 channels, got shape \(96, 128, 1\)$"
    ):
        colour_axes(CROP[..., :1])
