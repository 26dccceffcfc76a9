"""Exact k-NN search against brute force, scikit-learn (and faiss when installed).

References: the full distance matrix (``scipy.spatial.distance.cdist``, float64) sorted
row by row with ``np.argsort``, and
``sklearn.neighbors.NearestNeighbors(algorithm="brute")`` / ``kneighbors_graph``. The index
computes in float32: values agree to 1e-5 (cosine) and 1e-4 relative (distances); ids
agree exactly, the data being continuous random numbers (no ties).
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors, kneighbors_graph
from sklearn.utils.estimator_checks import parametrize_with_checks

from common.grading import grades
from projects.week4_tree_search.search import (
    SimilarityIndex,
    chunk_maxima,
    cosine_exact,
    knn_graph,
    neighbour_adjacency,
)

METRICS = ["cosine", "euclidean", "manhattan"]
TOLERANCE = {  # float32 against float64
    "cosine": {"atol": 1e-5, "rtol": 0},
    "euclidean": {"atol": 0, "rtol": 1e-4},
    "manhattan": {"atol": 0, "rtol": 1e-4},
}
SCIPY_METRIC = {"cosine": "cosine", "euclidean": "euclidean", "manhattan": "cityblock"}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Small matrices: extra torch threads only contend with the other tests' processes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    """(database, queries): 500 x 24 and 40 x 24 standard normal, float64."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((500, 24)), rng.standard_normal((40, 24))


def brute_force(X, queries, k, metric):
    """(values, ids) from the full float64 matrix, each row sorted, nearest first."""
    D = cdist(queries, X, metric=SCIPY_METRIC[metric])  # cosine: 1 - similarity
    ids = np.argsort(D, axis=1, kind="stable")[:, :k]
    values = np.take_along_axis(D, ids, axis=1)
    return (1 - values if metric == "cosine" else values), ids


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("k", [1, 7])
def test_matches_brute_force(data, metric, k):
    X, queries = data
    values, ids = SimilarityIndex(metric=metric).fit(X).search(queries, k)
    expected_values, expected_ids = brute_force(X, queries, k, metric)
    assert values.shape == ids.shape == (len(queries), k)
    assert values.dtype == np.float32
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(values, expected_values, **TOLERANCE[metric])


@pytest.mark.parametrize("metric", METRICS)
def test_matches_sklearn_nearest_neighbors(data, metric):
    X, queries = data
    values, ids = SimilarityIndex(metric=metric).fit(X).search(queries, 5)
    nn = NearestNeighbors(n_neighbors=5, metric=metric, algorithm="brute").fit(X)
    distances, expected_ids = nn.kneighbors(queries)
    np.testing.assert_array_equal(ids, expected_ids)
    expected = 1 - distances if metric == "cosine" else distances
    np.testing.assert_allclose(values, expected, **TOLERANCE[metric])


@pytest.mark.parametrize("metric", METRICS)
def test_results_do_not_depend_on_the_blocking(data, metric):
    """Tiny blocks and chunks (many merges, a last shorter block and chunk) vs one block."""
    X, queries = data
    one_block = SimilarityIndex(metric=metric, block_size=512, query_block_size=1000)
    values, ids = one_block.fit(X).search(queries, 10)
    for block_size, query_block_size, chunk_size in [(16, 3, 16), (7, 1, 1), (24, 40, 8)]:
        index = SimilarityIndex(
            metric=metric,
            block_size=block_size,
            query_block_size=query_block_size,
            chunk_size=chunk_size,
        )
        blocked_values, blocked_ids = index.fit(X).search(queries, 10)
        np.testing.assert_array_equal(blocked_ids, ids)
        np.testing.assert_allclose(blocked_values, values, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("metric", METRICS)
def test_k_equal_to_the_database_size_sorts_everything(data, metric):
    X, queries = data
    X = X[:53]  # not a multiple of the chunk size
    values, ids = SimilarityIndex(metric=metric, block_size=32).fit(X).search(queries, 53)
    expected_values, expected_ids = brute_force(X, queries, 53, metric)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(values, expected_values, **TOLERANCE[metric])
    assert all(len(set(row)) == 53 for row in ids)  # a permutation of the database


def test_recall_is_one_on_a_larger_problem():
    """50 blocks of the default 1024 rows: the pool of chunk maxima is merged mid-way."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50_000, 64), dtype=np.float32)
    queries = rng.standard_normal((100, 64), dtype=np.float32)
    _, ids = SimilarityIndex(metric="cosine").fit(X).search(queries, 10)
    _, expected_ids = brute_force(X.astype(np.float64), queries.astype(np.float64), 10, "cosine")
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, expected_ids, strict=True)])
    assert recall == 1.0


@pytest.mark.parametrize("metric", METRICS)
def test_each_database_vector_finds_itself_first(data, metric):
    X, _ = data
    values, ids = SimilarityIndex(metric=metric).fit(X).search(X, 1)
    np.testing.assert_array_equal(ids[:, 0], np.arange(len(X)))
    np.testing.assert_allclose(values[:, 0], 1.0 if metric == "cosine" else 0.0, atol=1e-5)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_distances_are_exact_far_from_the_origin(data, metric):
    """x = 1e6 + noise: cast to float32 before centring, x is rounded to multiples of 1/16
    (recall@10 0.97 on 2,000 x 24); centred in float64 first, then cast, the neighbours are
    those of the float64 brute force, distances to 1e-5 relative."""
    X, queries = (a + 1e6 for a in data)
    values, ids = SimilarityIndex(metric=metric).fit(X).search(queries, 10)
    expected_values, expected_ids = brute_force(X, queries, 10, metric)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(values, expected_values, rtol=1e-5)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_near_duplicates_1e_9_apart_are_told_apart(data, metric):
    """x = c + 1e-9 noise, |c_j| ~ 1: cast to float32 (ulp 1e-7 at 1) every x was the same
    point (recall@10 0.005 on 2,000 x 24); centred in float64 first, the spread of 1e-9
    survives the cast: the float64 brute force's neighbours, distances (~1e-8) to 1e-5."""
    c = np.random.default_rng(3).standard_normal(data[0].shape[1])
    X, queries = (c + 1e-9 * a for a in data)
    values, ids = SimilarityIndex(metric=metric).fit(X).search(queries, 10)
    expected_values, expected_ids = brute_force(X, queries, 10, metric)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(values, expected_values, rtol=1e-5)


@pytest.mark.parametrize("scale", [1e20, 1e39, 1e200, 1e-200])
def test_cosine_accepts_any_finite_scale(data, scale):
    """s(q, x) does not depend on ||q|| or ||x||: queries (or a database) of entries 1e20
    were refused ("overflows float32, rescale"), 1e-200 became zero vectors in float32.
    Normalized in float64 (each row scaled by its largest entry first), then cast, they give
    the unscaled answer: the same ids, similarities to 1e-6."""
    X, queries = data
    values, ids = SimilarityIndex().fit(X).search(queries, 5)
    for database, query in [(X, queries * scale), (X * scale, queries * scale)]:
        scaled_values, scaled_ids = SimilarityIndex().fit(database).search(query, 5)
        np.testing.assert_array_equal(scaled_ids, ids)
        np.testing.assert_allclose(scaled_values, values, rtol=0, atol=1e-6)


def test_add_appends_with_continuing_ids(data):
    X, queries = data
    whole = SimilarityIndex(metric="euclidean").fit(X).search(queries, 8)
    parts = SimilarityIndex(metric="euclidean").add(X[:200]).add(X[200:]).search(queries, 8)
    np.testing.assert_array_equal(parts[1], whole[1])
    np.testing.assert_allclose(parts[0], whole[0], rtol=1e-6)


def test_cosine_ignores_vector_length(data):
    X, queries = data
    scales = np.random.default_rng(2).uniform(0.1, 10, size=(len(X), 1))
    _, ids = SimilarityIndex().fit(X).search(queries, 5)
    _, scaled_ids = SimilarityIndex().fit(X * scales).search(queries * 3, 5)
    np.testing.assert_array_equal(scaled_ids, ids)


def test_agrees_with_faiss_when_installed(data):
    faiss = pytest.importorskip("faiss")
    X, queries = (a.astype(np.float32) for a in data)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    flat = faiss.IndexFlatIP(X.shape[1])
    flat.add(unit)
    expected_values, expected_ids = flat.search(
        queries / np.linalg.norm(queries, axis=1)[:, None], 5
    )
    values, ids = SimilarityIndex().fit(X).search(queries, 5)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(values, expected_values, atol=1e-6)


def test_cosine_rescoring_by_batched_products_is_the_elementwise_formula():
    """The final candidates are scored by one batch of matrix-vector products; the plain
    formula sum_j q_j c_j gives the same similarities up to float32 rounding (~1 ulp)."""
    generator = torch.Generator().manual_seed(0)
    Q = torch.nn.functional.normalize(torch.randn(50, 64, generator=generator), dim=1)
    C = torch.nn.functional.normalize(torch.randn(50, 320, 64, generator=generator), dim=2)
    expected = (C.double() * Q.double().unsqueeze(1)).sum(dim=-1)
    plain = (C * Q.unsqueeze(1)).sum(dim=-1)
    batched = cosine_exact(Q, C)
    assert batched.shape == (50, 320)
    assert batched.dtype == torch.float32
    np.testing.assert_allclose(batched, plain, rtol=0, atol=4e-7)
    np.testing.assert_allclose(batched, expected, rtol=0, atol=4e-7)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
@pytest.mark.parametrize("metric", METRICS)
def test_search_on_cuda_matches_the_cpu(data, metric):
    X, queries = data
    values, ids = SimilarityIndex(metric=metric, block_size=64).fit(X).search(queries, 7)
    on_gpu = SimilarityIndex(metric=metric, block_size=64, device="cuda").fit(X)
    gpu_values, gpu_ids = on_gpu.search(queries, 7)
    assert isinstance(gpu_values, np.ndarray)
    assert on_gpu.vectors_.is_cuda
    np.testing.assert_array_equal(gpu_ids, ids)
    np.testing.assert_allclose(gpu_values, values, rtol=1e-5, atol=1e-6)


def test_chunk_maxima_pads_the_last_chunk_with_minus_infinity():
    S = -torch.arange(1.0, 8.0).reshape(1, 7)  # all negative: a zero padding would win
    np.testing.assert_array_equal(chunk_maxima(S, 3).numpy(), [[-1.0, -4.0, -7.0]])


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("mode", ["connectivity", "distance"])
def test_knn_graph_matches_sklearn(data, metric, mode):
    X, _ = data
    graph = knn_graph(X, 6, metric=metric, mode=mode, block_size=64)
    expected = kneighbors_graph(X, 6, mode=mode, metric=metric, include_self=False)
    assert graph.shape == (len(X), len(X))
    assert graph.nnz == len(X) * 6
    np.testing.assert_array_equal(graph.indices, expected.indices)  # nearest first
    assert np.all(graph.diagonal() == 0)  # nobody is its own neighbour
    np.testing.assert_allclose(graph.toarray(), expected.toarray(), rtol=1e-4, atol=1e-5)


@grades(neighbour_adjacency)
@pytest.mark.parametrize("mode", ["connectivity", "distance"])
def test_neighbour_adjacency_puts_each_weight_at_its_neighbour(data, mode):
    X, _ = data
    distances, ids = NearestNeighbors(n_neighbors=5).fit(X).kneighbors()  # itself excluded
    weights = np.ones_like(distances) if mode == "connectivity" else distances
    A = neighbour_adjacency(ids, weights)
    assert A.shape == (len(X), len(X))
    dense = np.zeros((len(X), len(X)))
    for i in range(len(X)):
        for r in range(5):
            dense[i, ids[i, r]] = weights[i, r]
    np.testing.assert_array_equal(A.toarray(), dense)
    expected = kneighbors_graph(X, 5, mode=mode, include_self=False)
    np.testing.assert_allclose(A.toarray(), expected.toarray(), rtol=1e-12, atol=0)


@grades(neighbour_adjacency)
def test_knn_graph_with_duplicates_never_links_a_point_to_itself():
    """Rows 0-4 coincide: searching k + 1 may return four twins and not the point itself."""
    X = np.vstack([np.zeros((5, 2)), [[1.0, 0.0], [3.0, 0.0]]])
    graph = knn_graph(X, 2).toarray()
    np.testing.assert_array_equal(graph.sum(axis=1), 2)
    assert np.all(graph.diagonal() == 0)
    assert np.all(graph[:5, :5].sum(axis=1) == 2)  # each twin's neighbours are twins


BAD_PARAMETERS = [
    ({"metric": "hamming"}, "^metric must be one of .*, got 'hamming'$"),
    ({"block_size": 0}, "^block_size must be an int >= 1, got 0$"),
    ({"block_size": 100}, r"block_size must be a multiple of chunk_size \(32\), got 100"),
    ({"query_block_size": 2.5}, "^query_block_size must be an int >= 1, got 2.5$"),
    ({"device": "gpu"}, "device must be a torch device such as 'cpu' or 'cuda', got 'gpu'"),
]


@pytest.mark.parametrize(("params", "message"), BAD_PARAMETERS)
def test_bad_parameters_raise_one_clear_message(data, params, message):
    X, _ = data
    with pytest.raises(ValueError, match=message):
        SimilarityIndex(**params).fit(X)


@pytest.mark.parametrize(
    ("k", "message"),
    [
        (501, r"k must be <= 500 \(the database size\), got 501"),
        (0, "^k must be an int >= 1, got 0$"),
        (-3, "^k must be an int >= 1, got -3$"),
        (2.0, "^k must be an int >= 1, got 2.0$"),
        (True, "^k must be an int >= 1, got True$"),
    ],
)
def test_bad_k_raises(data, k, message):
    X, queries = data
    with pytest.raises(ValueError, match=message):
        SimilarityIndex().fit(X).search(queries, k)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["X", "queries"])
@pytest.mark.parametrize("metric", METRICS)
def test_nan_or_infinity_raises_naming_the_row(data, bad, where, metric):
    X, queries = (a.copy() for a in data)
    (X if where == "X" else queries)[3, 1] = bad
    message = f"^row 3 of {where} contains NaN or infinity: remove or impute it$"
    with pytest.raises(ValueError, match=message):
        SimilarityIndex(metric=metric).fit(X).search(queries, 2)


@pytest.mark.parametrize("big", [1e30, 1e39])  # 1e39: finite in float64, inf in float32
@pytest.mark.parametrize("where", ["X", "queries"])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_a_distance_that_overflows_float32_raises_naming_the_row(data, big, where, metric):
    """||x - m||^2 >= 1e60 has no float32. A huge row of X drags the mean m, so that every
    row overflows after centring: the message names the row that caused it."""
    X, queries = (a.copy() for a in data)
    (X if where == "X" else queries)[4, 1] = big
    message = rf"^row 4 of {where} overflows float32 \(\|\|x - m\|\|\^2 > 3e38, m the database"
    with pytest.raises(ValueError, match=message):
        SimilarityIndex(metric=metric).fit(X).search(queries, 2)


@pytest.mark.parametrize("where", ["X", "queries"])
def test_zero_vector_under_cosine_raises_naming_the_row(data, where):
    X, queries = (a.copy() for a in data)
    (X if where == "X" else queries)[5] = 0
    with pytest.raises(ValueError, match=f"row 5 of {where} is the zero vector"):
        SimilarityIndex(metric="cosine").fit(X).search(queries, 2)


def test_zero_vector_is_fine_for_distances(data):
    X, queries = (a.copy() for a in data)
    X[5] = 0
    queries[0] = 0
    _, ids = SimilarityIndex(metric="euclidean").fit(X).search(queries, 1)
    assert ids[0, 0] == np.argmin(np.linalg.norm(X, axis=1))


def test_empty_or_misshapen_inputs_raise(data):
    X, queries = data
    with pytest.raises(ValueError, match=r"^X must hold at least one vector, got shape \(0, 24\)$"):
        SimilarityIndex().fit(np.empty((0, 24)))
    with pytest.raises(  # scikit-learn's wording, which its estimator checks look for
        ValueError, match=r"^X has 0 feature\(s\) \(shape=\(3, 0\)\) while a minimum of 1 is"
    ):
        SimilarityIndex().fit(np.empty((3, 0)))
    with pytest.raises(ValueError, match=r"X must be a 2-D array .* got \(24,\)"):
        SimilarityIndex().fit(X[0])
    index = SimilarityIndex().fit(X)
    with pytest.raises(ValueError, match="queries has 23 features but the database has 24"):
        index.search(queries[:, :23], 1)
    with pytest.raises(ValueError, match="X has 25 features but the database has 24"):
        index.add(np.ones((2, 25)))
    with pytest.raises(ValueError, match="not fitted"):  # sklearn's NotFittedError
        SimilarityIndex().search(queries, 1)


@pytest.mark.parametrize("where", ["X", "queries"])
def test_complex_input_raises_instead_of_dropping_the_imaginary_part(data, where):
    """X + 1j was cast to float32, its imaginary part dropped with a warning only."""
    X, queries = data
    arrays = {"X": X, "queries": queries}
    arrays[where] = arrays[where] + 1j
    message = rf"^Complex data not supported: {where} has dtype complex128; pass real vectors"
    with pytest.raises(ValueError, match=message):
        SimilarityIndex().fit(arrays["X"]).search(arrays["queries"], 2)


@pytest.fixture(scope="module")
def sparse_data():
    """(database, queries): 500 x 24 and 40 x 24 CSR, 30% nonzeros uniform in [0, 1)."""
    X = sp.random_array((500, 24), density=0.3, format="csr", rng=np.random.default_rng(0))
    queries = sp.random_array((40, 24), density=0.3, format="csr", rng=np.random.default_rng(1))
    assert np.diff(X.indptr).min() > 0  # no zero rows (no cosine)
    assert np.diff(queries.indptr).min() > 0
    return X, queries


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("sparse_format", ["csr", "csc", "coo"])
def test_sparse_input_gives_the_answer_of_the_dense_array(sparse_data, metric, sparse_format):
    """A scipy.sparse database failed ("setting an array element with a sequence"). Its rows
    are now densified a block at a time into the same float32 store: ids and values equal
    the dense array's bit for bit, and the ids those of scikit-learn on the sparse input."""
    X, queries = (a.asformat(sparse_format) for a in sparse_data)
    values, ids = SimilarityIndex(metric=metric).fit(X).search(queries, 7)
    dense_values, dense_ids = (
        SimilarityIndex(metric=metric).fit(X.toarray()).search(queries.toarray(), 7)
    )
    np.testing.assert_array_equal(ids, dense_ids)
    np.testing.assert_array_equal(values, dense_values)
    nn = NearestNeighbors(n_neighbors=7, metric=metric, algorithm="brute").fit(X)
    distances, expected_ids = nn.kneighbors(queries)
    np.testing.assert_array_equal(ids, expected_ids)
    expected = 1 - distances if metric == "cosine" else distances
    np.testing.assert_allclose(values, expected, **TOLERANCE[metric])


def test_sparse_nan_raises_naming_its_row(sparse_data):
    X = sparse_data[0].copy()
    X.data[X.indptr[6]] = np.nan  # the first stored value of row 6
    with pytest.raises(ValueError, match=r"^row 6 of X contains NaN or infinity"):
        SimilarityIndex().fit(X)


# Expected failures of scikit-learn's checks: their data holds all-zero rows (integer casts of
# uniform [0, 3) numbers; sparse data with 60% zeros), which have no cosine (0 / 0) and which
# the cosine index refuses by design (test_zero_vector_under_cosine_raises_naming_the_row).
ZERO_ROWS = "the check's data has all-zero rows: their cosine is 0 / 0, refused by design"
COSINE_EXPECTED_FAILURES = dict.fromkeys(
    [
        "check_estimators_dtypes",
        "check_estimator_sparse_tag",
        "check_estimator_sparse_array",
        "check_estimator_sparse_matrix",
    ],
    ZERO_ROWS,
)


@parametrize_with_checks(
    [SimilarityIndex(metric=metric) for metric in METRICS],
    expected_failed_checks=lambda index: (
        COSINE_EXPECTED_FAILURES if index.metric == "cosine" else {}
    ),
)
def test_sklearn_estimator_checks(estimator, check):
    # check_array_api_input skips itself unless SCIPY_ARRAY_API=1 (we use NumPy only).
    check(estimator)


def test_knn_graph_bad_inputs(data):
    X, _ = data
    with pytest.raises(ValueError, match=r"k must be <= 499 \(the other points of X\), got 500"):
        knn_graph(X, 500)
    with pytest.raises(ValueError, match="mode must be 'connectivity' or 'distance'"):
        knn_graph(X, 3, mode="weights")
