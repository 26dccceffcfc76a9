"""``python -m benchmarks.mutations``: does the suite catch a wrong formula?

Each mutation below is one edit a learner could really make to one line of a formula (a
sign, a missing 1/n, an off-by-one, log vs log2, a wrong axis, a dropped square root, an
epsilon in the wrong place), with the test files that should catch it. For each mutation,
one at a time, the script copies the repository's code (projects/, tests/, common/,
configs/, pyproject.toml) to a temporary directory, applies the edit there (the working
tree is never touched), runs only the named test files with
``pytest -x -q -p no:cacheprovider -m 'not slow'`` and a timeout, and prints whether a test
failed (caught, with the first failing test) or not (NOT CAUGHT), and how long it took.

    python -m benchmarks.mutations              # every mutation, two at a time
    python -m benchmarks.mutations -j 1 -k lu,w4-kl  # one at a time, ids containing either
    python -m benchmarks.mutations --list       # the mutations, nothing run

Exit status 0 when every mutation is caught, 1 otherwise. Nothing here is timed against a
threshold: the seconds column says what a mutation costs to check.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = (
    "projects",
    "tests",
    "common",
    "configs",
    "benchmarks",
    "data",
    "pyproject.toml",
    "README.md",
)
TIMEOUT_S = 600
W1, W2, W3, W4 = (
    "projects/week1_pca/",
    "projects/week2_spam/",
    "projects/week3_regression/",
    "projects/week4_tree_search/",
)
T1, T2, T3, T4 = "tests/week1/", "tests/week2/", "tests/week3/", "tests/week4/"


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str  # relative to the repository root
    original: str  # an exact fragment of one line, found exactly once in the file
    replacement: str
    tests: tuple[str, ...]  # the test files that should catch it


M = Mutation
MUTATIONS = [
    # -- week 1: linear algebra, PCA, codecs -------------------------------------------------
    M("w1-cov-biased", W1 + "pca.py", "C /= n_samples - 1", "C /= n_samples",
      (T1 + "test_pca.py",)),
    M("w1-eig-ascending", W1 + "pca.py", "eigenvalues[::-1][:k], eigenvectors[:, ::-1][:, :k]",
      "eigenvalues[:k], eigenvectors[:, :k]", (T1 + "test_pca.py",)),
    M("w1-flip-no-abs", W1 + "pca.py",
      "components[rows, np.argmax(np.abs(components), axis=1)]",
      "components[rows, np.argmax(components, axis=1)]", (T1 + "test_pca.py",)),
    M("w1-psnr-20log", W1 + "rate_distortion.py", "10 * np.log10(peak**2 / mse)",
      "20 * np.log10(peak**2 / mse)", (T1 + "test_rate_distortion.py",)),
    M("w1-bpp-bytes", W1 + "rate_distortion.py", "return 8 * n_bytes / (height * width)",
      "return n_bytes / (height * width)", (T1 + "test_rate_distortion.py",)),
    M("w1-lowrank-storage-no-s", W1 + "low_rank.py", "k * (height + width + 1) * bytes",
      "k * (height + width) * bytes", (T1 + "test_low_rank.py",)),
    M("w1-eckart-young-off-by-one", W1 + "low_rank.py", "np.linalg.norm(s[k:])",
      "np.linalg.norm(s[k + 1 :])", (T1 + "test_low_rank.py",)),
    M("w1-lu-pivot-no-abs", W1 + "lu.py", "int(np.argmax(np.abs(U[k:, k])))",
      "int(np.argmax(U[k:, k]))", (T1 + "test_lu.py",)),
    M("w1-forward-sub-no-divide", W1 + "lu.py", "y[i] = (y[i] - L[i, :i] @ y[:i]) / L[i, i]",
      "y[i] = y[i] - L[i, :i] @ y[:i]", (T1 + "test_lu.py",)),
    M("w1-permutation-sign", W1 + "lu.py", "(-1.0) ** (len(perm) - cycles)",
      "(-1.0) ** cycles", (T1 + "test_lu.py",)),
    M("w1-rate-lambda-ln2/12", W1 + "codec/quantizer.py", "np.log(2) / 6 * step**2",
      "np.log(2) / 12 * step**2", (T1 + "test_patch_codec.py",)),
    M("w1-rounding-0.45", W1 + "codec/quantizer.py", "ROUNDING = 0.4 ", "ROUNDING = 0.45 ",
      (T1 + "test_patch_codec.py",)),
    M("w1-quantize-no-sign", W1 + "codec/quantizer.py",
      "(np.sign(z) * np.floor(np.abs(z) / step + rounding))",
      "(np.floor(np.abs(z) / step + rounding))", (T1 + "test_patch_codec.py",)),
    M("w1-colour-not-orthonormal", W1 + "codec/colour.py", "np.sqrt([[3], [2], [6]])",
      "np.sqrt([[3], [2], [3]])", (T1 + "test_patch_codec.py",)),
    M("w1-drill-row-off-by-1e-3", W1 + "linalg_drills.py",
      '"W1.P1", dot(u, w), np.dot(u, w), 1e-12', '"W1.P1", dot(u, w) + 1e-3, np.dot(u, w), 1e-2',
      (T1 + "test_linalg_drills.py",)),
    M("w1-cofactor-sign", W1 + "linalg_drills.py", "sum((-1) ** j * A[0, j]",
      "sum((-1) ** (j + 1) * A[0, j]", (T1 + "test_linalg_drills.py",)),
    M("w1-centre-wrong-axis", W1 + "linear_maps.py", "return X - X.mean(axis=0)",
      "return X - X.mean(axis=1, keepdims=True)", (T1 + "test_linear_maps.py",)),
    M("w1-lagrangian-bytes-not-bits", W1 + "patch_codec.py", "rate_lambda(step) * 8 * n_bytes",
      "rate_lambda(step) * n_bytes", (T1 + "test_patch_codec.py", T1 + "test_shared_work.py")),
    M("w1-basis-grid-log-not-log2", W1 + "codec/basis.py", "np.round(np.log2(ratio))",
      "np.round(np.log(ratio))", (T1 + "test_patch_codec.py",)),
    M("w1-lu-determinant-no-sign", W1 + "lu.py", "return permutation_sign(P) * float(",
      "return float(", (T1 + "test_lu.py",)),
    M("w1-regula-falsi-wrong-end", W1 + "rate_distortion.py",
      "u0 + m0 * (u1 - u0) / (m0 - m1)", "u1 + m0 * (u1 - u0) / (m0 - m1)",
      (T1 + "test_rate_distortion.py",)),
    M("w1-illinois-no-halving", W1 + "rate_distortion.py",
      "weight = 0.5 ** max(run - 1, 0)", "weight = 1.0 ** max(run - 1, 0)",
      (T1 + "test_rate_distortion.py",)),
    M("w1-jpeg-interp-linear-bytes", W1 + "rate_distortion.py", "x = np.log(n_bytes)",
      "x = n_bytes", (T1 + "test_rate_distortion.py",)),
    # -- week 2: probability, naive Bayes, tests -------------------------------------------
    M("w2-smoothing-no-n-outcomes", W2 + "naive_bayes.py", "np.log(totals + alpha * n_outcomes)",
      "np.log(totals + alpha)", (T2 + "test_naive_bayes.py",)),
    M("w2-log-prior-unnormalized", W2 + "naive_bayes.py",
      "return np.log(class_count) - np.log(class_count.sum())", "return np.log(class_count)",
      (T2 + "test_naive_bayes.py",)),
    M("w2-variance-biased", W2 + "probability.py", "np.sum((x - mean) ** 2) / (len(x) - 1)",
      "np.sum((x - mean) ** 2) / len(x)", (T2 + "test_probability.py",)),
    M("w2-running-mean-over-n", W2 + "probability.py", "np.cumsum(x) / np.arange(1, len(x) + 1)",
      "np.cumsum(x) / len(x)", (T2 + "test_probability.py",)),
    M("w2-correlation-no-sqrt", W2 + "probability.py",
      "covariance(x, y) / np.sqrt(covariance(x, x) * covariance(y, y))",
      "covariance(x, y) / (covariance(x, x) * covariance(y, y))", (T2 + "test_probability.py",)),
    M("w2-standard-error-sqrt-n", W2 + "probability.py", "return np.sqrt(var / n), ",
      "return np.sqrt(var) / n, ", (T2 + "test_probability.py",)),
    M("w2-mcnemar-no-continuity", W2 + "hypothesis_test.py", "(abs(b - c) - 1) ** 2 / (b + c)",
      "abs(b - c) ** 2 / (b + c)", (T2 + "test_hypothesis_test.py",)),
    M("w2-exact-p-one-sided", W2 + "hypothesis_test.py",
      "min(Fraction(1), 2 * binomial_tail_half(", "min(Fraction(1), binomial_tail_half(",
      (T2 + "test_hypothesis_test.py",)),
    M("w2-beta-posterior-no-minus-k", W2 + "bayesian.py", "return a + k, b + n - k",
      "return a + k, b + n", (T2 + "test_bayesian.py",)),
    M("w2-dirichlet-wrong-axis", W2 + "bayesian.py", "counts.sum(axis=-1, keepdims=True)",
      "counts.sum(axis=0, keepdims=True)", (T2 + "test_bayesian.py",)),
    M("w2-complement-norm-wrong-axis", W2 + "naive_bayes.py",
      "w / np.abs(w).sum(axis=1, keepdims=True)", "w / np.abs(w).sum(axis=0, keepdims=True)",
      (T2 + "test_naive_bayes.py",)),
    M("w2-clt-z-no-sqrt-n", W2 + "probability.py", "(dist.std() / np.sqrt(n_per_sample))",
      "(dist.std() / n_per_sample)", (T2 + "test_probability.py",)),
    M("w2-beta-mean", W2 + "bayesian.py", "return a / (a + b)", "return a / b",
      (T2 + "test_bayesian.py",)),
    # -- week 3: calculus, losses, optimizers ----------------------------------------------
    M("w3-mse-no-half", W3 + "losses.py", "return 0.5 * (r @ r) / X.shape[0]",
      "return (r @ r) / X.shape[0]", (T3 + "test_losses.py",)),
    M("w3-l2-penalty-no-half", W3 + "losses.py", "return 0.5 * lam * (w @ w)",
      "return lam * (w @ w)", (T3 + "test_losses.py",)),
    M("w3-mse-gradient-no-1/n", W3 + "losses.py", "return X.T @ r / X.shape[0] + penalty",
      "return X.T @ r + penalty", (T3 + "test_losses.py",)),
    M("w3-logistic-hessian-no-1-p", W3 + "losses.py", "(X.T * (p * (1 - p))) @ X",
      "(X.T * p) @ X", (T3 + "test_losses.py",)),
    M("w3-rmsprop-eps-inside-sqrt", W3 + "update_rules.py", "theta - lr * g / (s**0.5 + eps)",
      "theta - lr * g / (s + eps) ** 0.5", (T3 + "test_update_rules.py",)),
    M("w3-adam-no-bias-correction-v", W3 + "update_rules.py", "v / (1 - beta2**t)",
      "v / (1 - beta2)", (T3 + "test_update_rules.py",)),
    M("w3-soft-threshold-no-abs", W3 + "reference.py", "np.maximum(np.abs(v) - kappa, 0.0)",
      "np.maximum(v - kappa, 0.0)", (T3 + "test_reference.py",)),
    M("w3-fista-dropped-square", W3 + "reference.py", "np.sqrt(1 + 4 * s**2)",
      "np.sqrt(1 + 4 * s)", (T3 + "test_reference.py",)),
    M("w3-gradient-step-ascent", W3 + "optimize.py", "return w - lr * grad", "return w + lr * grad",
      (T3 + "test_optimize.py",)),
    M("w3-momentum-dampened", W3 + "update_rules.py", "v = momentum * state.get(\"v\", 0.0) + g",
      "v = momentum * state.get(\"v\", 0.0) + (1 - momentum) * g", (T3 + "test_update_rules.py",)),
    M("w3-newton-step-sign", W3 + "optimize.py", "return theta - torch.linalg.solve(H, g)",
      "return theta + torch.linalg.solve(H, g)", (T3 + "test_optimize.py",)),
    M("w3-logistic-gradient-sign", W3 + "losses.py", "return X.T @ (p - y) / X.shape[0]",
      "return X.T @ (y - p) / X.shape[0]", (T3 + "test_losses.py",)),
    M("w3-numpy-descent-intercept-no-1/n", W3 + "optimize.py",
      "grad[:] = X.T @ r / n, r.sum() / n", "grad[:] = X.T @ r / n, r.sum()",
      (T3 + "test_fast_paths.py",)),
    # -- week 4: information, geometry, tree -----------------------------------------------
    M("w4-entropy-times-log-base", W4 + "information.py",
      "return -np.sum(xlogy(p, p)) / log_of_base(base)",
      "return -np.sum(xlogy(p, p)) * log_of_base(base)", (T4 + "test_information.py",)),
    M("w4-kl-swapped", W4 + "information.py", "np.log(p[support] / q[support])",
      "np.log(q[support] / p[support])", (T4 + "test_information.py",)),
    M("w4-conditional-entropy-axis", W4 + "information.py", "N_a = N.sum(axis=1, keepdims=True)",
      "N_a = N.sum(axis=0, keepdims=True)", (T4 + "test_information.py",)),
    M("w4-information-gain-unweighted", W4 + "information.py",
      "sum(len(y_s) / len(y) * label_entropy(y_s, base)", "sum(label_entropy(y_s, base)",
      (T4 + "test_information.py",)),
    M("w4-log-loss-sum", W4 + "information.py", "return -np.mean(np.log(p_true))",
      "return -np.sum(np.log(p_true))", (T4 + "test_information.py",)),
    M("w4-gini-over-n", W4 + "tree.py", "(counts * counts).sum(axis=0) / (n * n)",
      "(counts * counts).sum(axis=0) / n", (T4 + "test_tree.py",)),
    M("w4-tree-entropy-ln", W4 + "tree.py", "(np.log2(n) - np.log2(np.maximum(counts, 1)))",
      "(np.log(n) - np.log(np.maximum(counts, 1)))", (T4 + "test_tree.py",)),
    M("w4-euclidean-no-2", W4 + "geometry.py", "- 2 * A @ B.T", "- A @ B.T",
      (T4 + "test_geometry.py",)),
    M("w4-l2-norm-no-sqrt", W4 + "geometry.py", "return np.sqrt(np.sum(np.square(x), axis=axis))",
      "return np.sum(np.square(x), axis=axis)", (T4 + "test_geometry.py",)),
    M("w4-relative-contrast-over-max", W4 + "geometry.py", "return (D_max - D_min) / D_min",
      "return (D_max - D_min) / D_max", (T4 + "test_geometry.py",)),
    M("w4-tree-threshold-low-end", W4 + "tree.py", "middle = x_low / 2 + x_high / 2",
      "middle = x_low", (T4 + "test_tree.py",)),
    M("w4-svm-objective-no-half", W4 + "svm.py", "(X @ w + b)).sum() + 0.5 * w @ w",
      "(X @ w + b)).sum() + w @ w",
      (T4 + "test_svm.py",)),
    M("w4-unit-rows-wrong-axis", W4 + "geometry.py", "return A / l2_norm(A)[:, None]",
      "return A / l2_norm(A).max()", (T4 + "test_geometry.py",)),
    M("w4-top-k-ascending", W4 + "geometry.py", "np.argsort(-scores, axis=1",
      "np.argsort(scores, axis=1", (T4 + "test_geometry.py",)),
    M("w4-mutual-information-sign", W4 + "information.py",
      "return label_entropy(y, base) - conditional_entropy(y, x, base)",
      "return conditional_entropy(y, x, base) - label_entropy(y, base)",
      (T4 + "test_information.py",)),
    M("w4-split-gain-weight", W4 + "tree.py", "- n_left / n * impurity(counts_left)",
      "- n_left * impurity(counts_left)", (T4 + "test_tree.py",)),
]  # fmt: skip


def check(mutation: Mutation, root: Path = ROOT) -> str:
    """The line of ``mutation.file`` after the edit; raise if the fragment is not there once."""
    text = (root / mutation.file).read_text()
    if text.count(mutation.original) != 1:
        raise ValueError(
            f"{mutation.id}: {mutation.original!r} occurs {text.count(mutation.original)} "
            f"times in {mutation.file}, not once; update the mutation"
        )
    return text.replace(mutation.original, mutation.replacement)


def copy_tree(destination: Path) -> None:
    """The code the tests import, copied (never edited in place); data and venv are shared."""
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, destination / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        elif source.exists():
            shutil.copy2(source, destination / name)


def first_failure(output: str) -> str:
    """The first failing test's id in pytest's -q output, or its last line."""
    match = re.search(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", output, re.MULTILINE)
    if match:
        return match.group(1).split("/")[-1]
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def pytest(tests, arguments, edit=None, timeout=TIMEOUT_S):
    """(completed process or None on timeout, seconds) of pytest on ``tests`` in a fresh copy
    of the code with ``edit`` = (file, new text) applied to the copy."""
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        work = Path(tmp)
        copy_tree(work)
        if edit is not None:
            (work / edit[0]).write_text(edit[1])
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"}
        env.pop("PYTHONPATH", None)
        command = [sys.executable, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider"]
        command += ["-m", "not slow", *arguments]
        start = time.perf_counter()
        try:
            result = subprocess.run(
                command, cwd=work, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            result = None
        return result, time.perf_counter() - start


def baseline_failures(mutations, jobs: int, timeout: float) -> list[str]:
    """The tests that fail with no mutation: deselected below, or every mutation of their
    file would count as caught."""
    files = sorted({test for m in mutations for test in m.tests})
    result, _ = pytest(files, ["-n", str(jobs)] if jobs > 1 else [], timeout=timeout)
    if result is None:
        raise SystemExit(f"the unmutated tests took over {timeout:.0f} s: {files}")
    return re.findall(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", result.stdout, re.MULTILINE)


def run(mutation: Mutation, timeout: float = TIMEOUT_S, deselect=()) -> tuple[str, float]:
    """(outcome, seconds): 'caught: <test>', 'NOT CAUGHT' or 'TIMEOUT'."""
    arguments = ["-x", *(f"--deselect={test}" for test in deselect)]
    result, seconds = pytest(mutation.tests, arguments, (mutation.file, check(mutation)), timeout)
    if result is None:
        return "TIMEOUT", seconds
    if result.returncode == 0:
        return "NOT CAUGHT", seconds
    if result.returncode in (1, 2):  # 1: a test failed, 2: collection failed
        return f"caught: {first_failure(result.stdout)}", seconds
    return f"caught (exit {result.returncode}): {first_failure(result.stdout)}", seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-j", "--jobs", type=int, default=2, help="mutations run at once")
    parser.add_argument(
        "-k", "--only", default="", help="run the ids containing any of these (comma-separated)"
    )
    parser.add_argument("--list", action="store_true", help="print the mutations and exit")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per mutation")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if any(part in m.id for part in args.only.split(","))]
    for mutation in chosen:
        check(mutation)  # every fragment is still in its file, before anything runs
    if args.list:
        for m in chosen:
            print(
                f"{m.id:34} {m.file}: {m.original!r} -> {m.replacement!r}  [{', '.join(m.tests)}]"
            )
        return 0
    broken = baseline_failures(chosen, args.jobs, args.timeout)
    for test in broken:
        print(f"fails with no mutation, deselected: {test}", flush=True)
    width = max(len(m.id) for m in chosen)
    print(f"{'mutation':{width}}  {'seconds':>7}  outcome", flush=True)
    caught = 0
    with ThreadPoolExecutor(args.jobs) as pool:
        for m, (outcome, seconds) in zip(
            chosen, pool.map(lambda m: run(m, args.timeout, broken), chosen), strict=True
        ):
            caught += outcome.startswith("caught")
            print(f"{m.id:{width}}  {seconds:7.1f}  {outcome}", flush=True)
    print(
        f"\ncaught {caught} / {len(chosen)}"
        + (f" ({len(broken)} broken tests deselected)" if broken else "")
    )
    return 0 if caught == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
