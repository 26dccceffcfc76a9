"""The derivative as a limit (W3.6): f'(x) = lim_{h -> 0} (f(x + h) - f(x)) / h, and what
happens on a computer when h really gets small.

Error of a difference quotient in floating point (machine epsilon eps = 2.2e-16):

    forward  (f(x + h) - f(x)) / h          error ~ h |f''| / 2      + 2 eps |f| / h
    central  (f(x + h) - f(x - h)) / (2 h)  error ~ h^2 |f'''| / 6   + eps |f| / h

The first term (truncation, Taylor's remainder) falls as h^1 or h^2: slope 1 or 2 on a
log-log plot. The second (round-off: f(x + h) and f(x) agree in more and more digits, and
the difference keeps only the rest) grows as 1 / h. The two balance at the best step
h* ~ eps^(1/2) (forward) and h* ~ eps^(1/3) (central), up to factors of order one from
|f|, |f''| and |f'''|; below h* a smaller step gives a worse derivative.

Sources:
- J. Nocedal, S. J. Wright, "Numerical Optimization", 2nd ed. (2006), 8.1 (the error of
  forward and central differences and the best step).
- M. P. Deisenroth, A. A. Faisal, C. S. Ong, "Mathematics for Machine Learning" (2020),
  5.1 (the derivative as the limit of a difference quotient).
"""

import numpy as np
import pandas as pd
import torch

from common.exercises import exercise

EPS = float(np.finfo(np.float64).eps)  # 2.2e-16
BEST_STEP_THEORY = {"forward": EPS ** (1 / 2), "central": EPS ** (1 / 3)}
ORDER = {"forward": 1, "central": 2}  # the power of h in the truncation error


@exercise("W3.6", hint="two calls of f; the quotient is the definition of f' before the limit")
def forward_difference(f, x, h):
    """(f(x + h) - f(x)) / h: f'(x) + O(h) (truncation h |f''| / 2, round-off ~ 2 eps |f| / h).

    ``f`` maps a float to a float; ``x``, ``h``: floats (h > 0). Returns a float.
    """
    return (f(x + h) - f(x)) / h


def central_difference(f, x, h):
    """(f(x + h) - f(x - h)) / (2 h): f'(x) + O(h^2) (the odd Taylor terms cancel)."""
    return (f(x + h) - f(x - h)) / (2 * h)


def difference_errors(f, x, exact, steps):
    """|forward - f'(x)| and |central - f'(x)| at each step h: a table with columns h,
    forward, central (absolute errors). ``f`` maps a float to a float."""
    rows = [
        {
            "h": h,
            "forward": abs(forward_difference(f, x, h) - exact),
            "central": abs(central_difference(f, x, h) - exact),
        }
        for h in steps
    ]
    return pd.DataFrame(rows)


@exercise("W3.6", hint="np.polyfit(np.log10(h), np.log10(error), 1) returns (slope, intercept)")
def loglog_slope(h, error):
    """p in error ~ C h^p: the least-squares slope of log10(error) against log10(h).

    ``h``, ``error``: positive arrays (or Series) of one length m >= 2. Returns a float: about
    1 for a forward difference, 2 for a central one, where truncation dominates.
    """
    slope, _ = np.polyfit(np.log10(h), np.log10(error), 1)
    return float(slope)


def truncation_range(h, error, factor=100.0, h_max=0.1):
    """Mask of the steps where truncation dominates: factor * h_best <= h <= h_max.

    At factor = 100 the round-off term is below 1e-4 (forward, ~ (h*/h)^2) and 1e-6
    (central, ~ (h*/h)^3) of the truncation term; above h_max higher Taylor terms show.
    """
    h, error = np.asarray(h), np.asarray(error)
    return (h >= factor * h[np.argmin(error)]) & (h <= h_max)


def error_summary(table):
    """For each scheme: the best step measured (argmin of the error), the theory's
    eps^(1/2) or eps^(1/3), the smallest error, and the slope on the truncation range."""
    summary = {}
    for scheme in ORDER:
        mask = truncation_range(table["h"], table[scheme])
        summary[scheme] = {
            "best_h": float(table["h"][table[scheme].idxmin()]),
            "best_h_theory": BEST_STEP_THEORY[scheme],
            "min_error": float(table[scheme].min()),
            "slope": loglog_slope(table["h"][mask], table[scheme][mask]),
            "fitted_points": int(mask.sum()),
        }
    return summary


def along_direction(loss_fn, theta, u, X, y):
    """phi(t) = f(theta + t u) as a float function of t, f = loss_fn(w, b, X, y) with
    theta = (w, b) flattened; phi'(0) = grad f(theta) . u (the directional derivative)."""

    def phi(t):
        point = theta + t * u
        return float(loss_fn(point[:-1], point[-1], X, y))

    return phi


def random_point_and_direction(dim, seed, scale=0.3):
    """A seeded point theta ~ scale N(0, I) and a unit direction u, float64 tensors of size dim."""
    generator = torch.Generator().manual_seed(seed)
    theta = scale * torch.randn(dim, dtype=torch.float64, generator=generator)
    u = torch.randn(dim, dtype=torch.float64, generator=generator)
    return theta, u / torch.linalg.vector_norm(u)
