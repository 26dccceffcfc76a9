"""Principal component analysis from scratch, with the scikit-learn estimator contract.

Model. Centre the data, X_c = X - 1 mu^T with mu = mean of the rows of X (n x p). The
principal axes are the top-k eigenvectors of the sample covariance

    C = X_c^T X_c / (n - 1) = V diag(lambda) V^T,

equivalently the top-k right singular vectors of X_c = U diag(s) V^T, with
lambda_i = s_i^2 / (n - 1). The projection z = V_k^T (x - mu) keeps the k directions of
largest variance and mu + V_k z is the best rank-k reconstruction in squared error
(Eckart-Young). Three solvers compute V_k:

- ``covariance_eigh``: eigendecomposition of the p x p covariance matrix (cheap when n >> p).
- ``svd``: thin SVD of the centred data (the accurate reference; no squared condition number).
- ``randomized``: randomized range finder and SVD of a small matrix (Halko et al. 2011).

Sources:
- I. T. Jolliffe, J. Cadima, "Principal component analysis: a review and recent
  developments", Phil. Trans. R. Soc. A 374 (2016), doi:10.1098/rsta.2015.0202.
- C. M. Bishop, "Pattern Recognition and Machine Learning" (2006), section 12.1.
- N. Halko, P.-G. Martinsson, J. A. Tropp, "Finding structure with randomness:
  probabilistic algorithms for constructing approximate matrix decompositions",
  SIAM Review 53(2) (2011), algorithms 4.3/4.4 and 5.1.
- G. H. Golub, C. F. Van Loan, "Matrix Computations", 4th ed. (2013), section 8.6
  (R-SVD: QR first, then the SVD of the small triangular factor).
- scikit-learn's ``sklearn.decomposition.PCA`` for the attribute names and sign convention.
"""

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from common.exercises import exercise
from common.validation import check_int


@exercise(
    "W1.P3",
    hint="np.argmax(np.abs(V), axis=1) finds each row's largest entry",
)
def flip_signs(components):
    """Make the largest-|.| entry of each row positive: V_i <- sign(V_i[argmax |V_i|]) V_i.

    Eigenvectors and singular vectors are defined only up to sign; fixing it makes the
    result reproducible across solvers and runs (same rule as sklearn's ``svd_flip``).
    """
    rows = np.arange(components.shape[0])
    signs = np.sign(components[rows, np.argmax(np.abs(components), axis=1)])
    components *= signs[:, np.newaxis]
    return components


@exercise("W1.4", hint="X.T @ X is the Gram matrix; subtract n mu mu^T, divide by n - 1")
def covariance_matrix(X, mean):
    """C = (X^T X - n mu mu^T) / (n - 1), the p x p sample covariance of X (n x p).

    ``mean`` is mu = X.mean(axis=0), shape (p,). Equal to (X - 1 mu^T)^T (X - 1 mu^T) / (n - 1)
    without forming the centred copy of X.
    """
    n_samples = X.shape[0]
    # The Gram matrix of the raw data (one BLAS syrk call) corrected by a rank-one term.
    C = X.T @ X
    C -= n_samples * np.outer(mean, mean)
    C /= n_samples - 1
    return C


@exercise("W1.P2", hint="np.linalg.eigh returns increasing eigenvalues: take the last k, reversed")
def top_eigenpairs(C, k):
    """The k largest eigenvalues of a symmetric C (p x p), decreasing, and their eigenvectors.

    Returns (eigenvalues of shape (k,), eigenvectors V_k of shape (p, k), unit columns) with
    C V_k = V_k diag(eigenvalues).
    """
    n_features = C.shape[0]
    # Computing only the top k (LAPACK syevr) beats the full divide-and-conquer syevd when
    # k <= p / 8 (measured on p = 64..640).
    top_k = (n_features - k, n_features - 1)
    eigenvalues, eigenvectors = (
        linalg.eigh(C, subset_by_index=top_k, check_finite=False)
        if 8 * k <= n_features
        else np.linalg.eigh(C)
    )
    return eigenvalues[::-1][:k], eigenvectors[:, ::-1][:, :k]


def covariance_eigh(X, mean, n_components, **_randomized_options):
    """Top-k eigenpairs of C = (X^T X - n mu mu^T) / (n - 1) = V diag(lambda) V^T.

    Returns (explained_variance, components, total_variance) with explained_variance the
    k largest lambda in decreasing order, components V_k^T of shape (k, p) and
    total_variance = trace(C) = sum of all lambda. Forming C squares the condition number
    and the rank-one correction cancels digits when |mu| >> the spread of X; ``svd`` is the
    accurate reference.
    """
    C = covariance_matrix(X, mean)
    total_variance = np.trace(C)
    eigenvalues, eigenvectors = top_eigenpairs(C, n_components)
    explained_variance = np.maximum(eigenvalues, 0.0)  # clip round-off below zero
    components = np.ascontiguousarray(eigenvectors.T)
    return explained_variance, components, total_variance


def svd(X, mean, n_components, **_randomized_options):
    """Top-k right singular vectors of X_c = X - 1 mu^T = U diag(s) V^T; lambda = s^2 / (n - 1).

    Returns (explained_variance, components, total_variance) with
    total_variance = sum over all s_i^2 / (n - 1).
    """
    n_samples, n_features = X.shape
    # X_c is the one copy of the data; it is built in Fortran order (column-major, as
    # LAPACK wants it) and the factorisation overwrites it in place.
    if n_samples >= n_features:
        # R-SVD: X_c = Q R and R = U_R diag(s) V^T share s and V with X_c; U is never
        # formed, which PCA does not need (Golub & Van Loan 8.6).
        X_c = np.subtract(X, mean, order="F")
        R = linalg.qr(X_c, mode="r", overwrite_a=True, check_finite=False)[0]
        _, s, Vt = linalg.svd(R[:n_features], full_matrices=False, check_finite=False)
    else:
        X_c_t = (X - mean).T  # X_c^T = V diag(s) U^T, shape (n_features, n_samples)
        V, s, _ = linalg.svd(X_c_t, full_matrices=False, overwrite_a=True, check_finite=False)
        Vt = V.T
    variances = s**2 / (n_samples - 1)
    components = np.ascontiguousarray(Vt[:n_components])
    return variances[:n_components].copy(), components, variances.sum()


def lu_basis(Y):
    """P L from the pivoted factorisation Y = P L U: a well-conditioned basis of range(Y).

    U is invertible when Y has full column rank, so span(P L) = span(Y); partial pivoting
    keeps |L_ij| <= 1. Cheaper than QR for re-normalising power iterations.
    """
    m, size = Y.shape
    (getrf,) = linalg.get_lapack_funcs(("getrf",), (Y,))
    LU, pivots, _ = getrf(Y, overwrite_a=True)  # LU packed in place, L unit lower
    L = LU[:, :size]
    L[np.triu_indices(size)] = 0.0
    L[np.diag_indices(size)] = 1.0
    # LAPACK returns row swaps (row i <-> row pivots[i], in order); the loop composes
    # these `size` swaps into the row permutation perm with Y[perm] = L U.
    perm = np.arange(m)
    for i, j in enumerate(pivots):
        perm[i], perm[j] = perm[j], perm[i]
    PL = np.empty_like(L)
    PL[perm] = L
    return PL


def randomized_range(apply_A, apply_At, n_columns, size, n_power_iterations, random_state, dtype):
    """Orthonormal Q (m x size) with range(Q) ~ range(A): Q = qr((A A^T)^q A Omega).

    Omega is an n_columns x size Gaussian sketch; each power iteration re-normalises with
    an LU factorisation (cheaper than QR, same span) and the last step with QR (Halko et
    al. 2011, algorithm 4.4; LU as in Li et al.'s fbpca and scikit-learn).
    """
    Y = apply_A(random_state.normal(size=(n_columns, size)).astype(dtype, copy=False))
    for _ in range(n_power_iterations):
        Y = apply_A(lu_basis(apply_At(lu_basis(Y))))
    return linalg.qr(Y, mode="economic", overwrite_a=True, check_finite=False)[0]


def implicitly_centred(X, mean):
    """W -> X_c W and W -> X_c^T W for X_c = X - 1 mu^T, without forming X_c:
    X_c W = X W - 1 (mu^T W) and X_c^T W = X^T W - mu (1^T W), so X is never copied.
    Products are formed as (W^T X^T)^T: Fortran-ordered results LAPACK factorises in place."""

    def centred(W):
        XW = (W.T @ X.T).T
        XW -= mean @ W
        return XW

    def centred_t(W):
        XtW = (W.T @ X).T
        XtW -= np.outer(mean, W.sum(axis=0))
        return XtW

    return centred, centred_t


def randomized(X, mean, n_components, *, n_oversamples, n_power_iterations, random_state):
    """Approximate top-k right singular vectors of X_c from B = Q^T A = U_B diag(s) V_B^T.

    A = X_c (or X_c^T when n < p: the sketch lives in the smaller dimension), Q from
    ``randomized_range`` with k + n_oversamples columns. Returns (explained_variance,
    components, total_variance), total_variance = (||X||_F^2 - n ||mu||^2) / (n - 1).
    """
    n_samples, n_features = X.shape
    centred, centred_t = implicitly_centred(X, mean)
    transpose = n_samples < n_features
    apply_A, apply_At = (centred_t, centred) if transpose else (centred, centred_t)
    Q = randomized_range(
        apply_A,
        apply_At,
        n_columns=min(n_samples, n_features),
        size=min(n_components + n_oversamples, n_samples, n_features),  # l <= rank bound
        n_power_iterations=n_power_iterations,
        random_state=check_random_state(random_state),  # seeded only when it is used
        dtype=X.dtype,
    )
    B = apply_At(Q).T  # Q^T A, shape (k + n_oversamples, columns of A)
    U_B, s, Vt_B = linalg.svd(B, full_matrices=False, overwrite_a=True, check_finite=False)
    # A = X_c: V = V_B.  A = X_c^T = Q U_B S V_B^T, so X_c = V_B S (Q U_B)^T and V = Q U_B.
    components = (Q @ U_B[:, :n_components]).T if transpose else Vt_B[:n_components]
    x = X.reshape(-1)
    total_variance = (x @ x - n_samples * (mean @ mean)) / (n_samples - 1)
    explained_variance = s[:n_components] ** 2 / (n_samples - 1)
    return explained_variance, np.ascontiguousarray(components), total_variance


# Each solver maps (X, mu, k, **randomized options) to
# (explained_variance, components, total_variance).
SOLVERS = {"covariance_eigh": covariance_eigh, "svd": svd, "randomized": randomized}
# the same solver in scikit-learn (PCA(svd_solver=...)), our reference
SKLEARN_SOLVER = {"covariance_eigh": "covariance_eigh", "svd": "full", "randomized": "randomized"}


class PCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis: z = V_k^T (x - mu), x_hat = mu + V_k z.

    Parameters
    ----------
    n_components : int or None, default=None
        Number of components k in [1, min(n_samples, n_features)]; None keeps them all.
    solver : {"covariance_eigh", "svd", "randomized"}, default="covariance_eigh"
        How V_k is computed; see the module docstring.
    n_oversamples : int, default=10
        Extra sketch columns for ``randomized`` (sketch size k + n_oversamples).
    n_power_iterations : int, default=4
        Power iterations q for ``randomized``: the sketch is (X_c X_c^T)^q X_c Omega.
    random_state : int, RandomState instance or None, default=None
        Seed of the Gaussian sketch for ``randomized``.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Orthonormal principal axes V_k^T, by decreasing variance; the largest-|.| entry
        of each row is positive.
    explained_variance_ : ndarray of shape (n_components,)
        lambda_i = s_i^2 / (n_samples - 1), the variance along each axis.
    explained_variance_ratio_ : ndarray of shape (n_components,)
        lambda_i / trace(C): the share of the total variance (over all features).
    singular_values_ : ndarray of shape (n_components,)
        s_i = sqrt((n_samples - 1) lambda_i), singular values of the centred data.
    mean_ : ndarray of shape (n_features,)
        mu, the per-feature mean of the training data.
    n_components_ : int
        k actually used.
    n_features_in_ : int
        p, the number of features seen in ``fit``.
    n_samples_ : int
        n, the number of samples seen in ``fit``.
    """

    def __init__(
        self,
        n_components=None,
        solver="covariance_eigh",
        n_oversamples=10,
        n_power_iterations=4,
        random_state=None,
    ):
        self.n_components = n_components
        self.solver = solver
        self.n_oversamples = n_oversamples
        self.n_power_iterations = n_power_iterations
        self.random_state = random_state

    def _check_params(self, n_samples, n_features):
        """Return k, validated against the data shape; raise ValueError on bad options."""
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {sorted(SOLVERS)}, got {self.solver!r}")
        check_int(self.n_oversamples, "n_oversamples", 0)
        check_int(self.n_power_iterations, "n_power_iterations", 0)
        max_components = min(n_samples, n_features)
        if self.n_components is None:
            return max_components
        return check_int(self.n_components, "n_components", 1, max_components)

    def fit(self, X, y=None):
        """Fit mu and V_k on X of shape (n_samples, n_features); return self."""
        self._fit(X)
        return self

    def _fit(self, X):
        """Validate X, set every fitted attribute and return the validated X."""
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        n_samples, n_features = X.shape
        n_components = self._check_params(n_samples, n_features)
        mean = X.mean(axis=0)  # mu, shape (n_features,)
        explained_variance, components, total_variance = SOLVERS[self.solver](
            X,
            mean,
            n_components,
            n_oversamples=self.n_oversamples,
            n_power_iterations=self.n_power_iterations,
            random_state=self.random_state,
        )
        self.mean_ = mean
        self.components_ = flip_signs(components)
        self.explained_variance_ = explained_variance
        # lambda_i / trace(C); constant data has no variance to explain: ratios 0, not 0 / 0
        self.explained_variance_ratio_ = (
            explained_variance / total_variance if total_variance > 0 else explained_variance * 0.0
        )
        self.singular_values_ = np.sqrt(explained_variance * (n_samples - 1))
        self.n_components_ = n_components
        self.n_samples_ = n_samples
        return X

    def transform(self, X):
        """Project onto the principal axes: Z = (X - 1 mu^T) V_k, shape (n_samples, k)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self._transform(X)

    def _transform(self, X):
        # (X - 1 mu^T) V_k = X V_k - 1 (mu^T V_k): centre after projecting, no copy of X.
        Z = X @ self.components_.T
        Z -= self.mean_ @ self.components_.T
        return Z

    def fit_transform(self, X, y=None):
        """Fit on X, then return Z = (X - 1 mu^T) V_k."""
        return self._transform(self._fit(X))

    def inverse_transform(self, Z):
        """Map scores back to feature space: X_hat = Z V_k^T + 1 mu^T."""
        check_is_fitted(self)
        Z = check_array(Z, dtype=[np.float64, np.float32])
        return Z @ self.components_ + self.mean_

    @property
    def _n_features_out(self):
        """Number of output features, for ``get_feature_names_out`` (pca0, pca1, ...)."""
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
