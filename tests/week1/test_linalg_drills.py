"""Hand-written linear algebra against NumPy and SciPy (tolerance 1e-12 on small well-scaled
data; determinants 1e-10 relative)."""

import numpy as np
import pytest

from common.grading import grades
from projects.week1_pca.linalg_drills import (
    describe_image,
    det_cofactor,
    dot,
    drill_table,
    flat_index,
    matmul,
    outer,
    project_onto_subspace,
)

RNG = np.random.default_rng(0)
CURRICULUM_IDS = {"W1.1", "W1.2", "W1.3", "W1.P1", "W1.P2", "W1.X1", "W1.X2"}


@grades(dot)
def test_dot_matches_numpy():
    u, v = RNG.standard_normal(9), RNG.standard_normal(9)
    assert dot(u, v) == pytest.approx(np.dot(u, v), rel=1e-12)
    assert dot([1, 2, 3], [4, 5, 6]) == 32


@grades(matmul)
@pytest.mark.parametrize(("rows", "inner", "cols"), [(1, 1, 1), (3, 4, 2), (5, 1, 6)])
def test_matmul_matches_numpy(rows, inner, cols):
    A, B = RNG.standard_normal((rows, inner)), RNG.standard_normal((inner, cols))
    np.testing.assert_allclose(matmul(A, B), A @ B, rtol=1e-12, atol=1e-12)


@grades(outer)
def test_outer_matches_numpy_and_has_rank_one():
    u, v = RNG.standard_normal(4), RNG.standard_normal(6)
    np.testing.assert_allclose(outer(u, v), np.outer(u, v), rtol=1e-12)
    assert np.linalg.matrix_rank(outer(u, v)) == 1


@grades(project_onto_subspace)
def test_projection_is_symmetric_idempotent_and_leaves_an_orthogonal_residual():
    basis, x = RNG.standard_normal((6, 2)), RNG.standard_normal(6)
    P = project_onto_subspace(np.eye(6), basis)  # projecting e_1..e_6 gives P itself
    np.testing.assert_allclose(P, P.T, atol=1e-12)
    np.testing.assert_allclose(P @ P, P, atol=1e-12)
    residual = x - project_onto_subspace(x, basis)
    np.testing.assert_allclose(basis.T @ residual, 0.0, atol=1e-12)
    np.testing.assert_allclose(project_onto_subspace(basis, basis), basis, atol=1e-12)


@grades(flat_index)
def test_flat_index_matches_numpy_row_major_layout():
    shape = (5, 7, 3)
    indices = np.stack([RNG.integers(0, n, size=20) for n in shape], axis=1)
    ours = [flat_index(tuple(index), shape) for index in indices]
    np.testing.assert_array_equal(ours, np.ravel_multi_index(tuple(indices.T), shape))


def test_describe_image_reports_the_tensor():
    image = RNG.integers(10, 200, size=(4, 5, 3), dtype=np.uint8)
    info = describe_image(image)
    assert info["shape"] == (4, 5, 3)
    assert (info["height"], info["width"], info["channels"]) == (4, 5, 3)
    assert info["dtype"] == "uint8"
    assert (info["min"], info["max"]) == (image.min(), image.max())
    assert info["n_values"] == info["nbytes"] == 60
    assert describe_image(image[..., 0])["channels"] == 1


@grades(det_cofactor)
@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_cofactor_determinant_matches_numpy(n):
    A = RNG.standard_normal((n, n))
    assert det_cofactor(A) == pytest.approx(np.linalg.det(A), rel=1e-10)
    assert det_cofactor([[1, 2], [3, 4]]) == -2.0  # ad - bc
    assert det_cofactor(np.eye(n)[::-1]) == pytest.approx((-1) ** (n * (n - 1) // 2))  # reversal


def test_shape_mismatches_raise_clear_errors():
    with pytest.raises(ValueError, match="u and v must have the same length, got 3 and 2"):
        dot([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match=r"cannot multiply shapes \(2, 3\) and \(2, 3\)"):
        matmul(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"square matrix, got shape \(2, 3\)"):
        det_cofactor(np.ones((2, 3)))


@pytest.mark.parametrize("seed", range(3))
def test_drill_table_all_rows_pass(seed):
    table = drill_table(np.random.default_rng(seed))
    assert list(table.columns) == [
        "check",
        "curriculum_id",
        "ours",
        "reference",
        "abs_error",
        "tolerance",
        "passed",
    ]
    assert set(table["curriculum_id"]) == CURRICULUM_IDS
    failed = table.loc[~table["passed"], ["check", "abs_error", "tolerance"]]
    assert failed.empty, failed.to_string()
    assert (table["abs_error"] <= table["tolerance"]).all()


@pytest.mark.parametrize("seed", range(3))
def test_every_drill_agrees_with_its_reference_to_this_tests_own_tolerance(seed):
    """Graded here, not by the table's own ``passed`` and ``tolerance`` columns (a drill made
    wrong by 1e-3 with its tolerance loosened to 1e-2 would grade itself a pass).

    Tolerance: 1e-12 relative to max(1, |reference|), |.| the table's summary (the value, or
    the Frobenius norm of an array): every drill is a few float64 operations on O(1) data
    (determinants of 5 x 5 matrices near 5 I, ~3e3: up to 1e-11 absolute). Measured worst
    case over seeds 0-4: 2e-15 relative.
    """
    table = drill_table(np.random.default_rng(seed))
    bound = 1e-12 * np.maximum(1.0, table["reference"].abs())
    too_far = table.loc[table["abs_error"] > bound, ["check", "abs_error", "reference"]]
    assert too_far.empty, too_far.to_string()
    loose = table.loc[table["tolerance"] > 1e-8, ["check", "tolerance"]]
    assert loose.empty, loose.to_string()  # the table may not grade itself more loosely
    scalar = table["check"].str.startswith(("dot", "det", "image pixel"))
    np.testing.assert_allclose(  # a scalar row's abs_error is |ours - reference|, not a claim
        table.loc[scalar, "abs_error"],
        (table.loc[scalar, "ours"] - table.loc[scalar, "reference"]).abs(),
        rtol=0,
        atol=1e-15,
    )
