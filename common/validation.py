"""One idiom for checking a scalar parameter, in the spirit of ``sklearn.utils.check_scalar``.

The error is one line naming the parameter, what is allowed and the value given, as the
house style asks: ``ValueError("alpha must be a finite number >= 0, got -1.0")``. Unlike
``check_scalar`` a bool is not an int here (``check_scalar(True, "k", Integral, min_val=1)``
returns True), NaN is never a number in range, and every refusal is a ValueError, so a
pipeline's one-line report of a bad setting (``common.tracking``) covers them all.

An estimator validates its own parameters with these; a pipeline checks a configured one
before any work through the estimator's public ``check_params()``, with :func:`under`
naming the config group, so ``min_samples_leaf must be ...`` reads ``tree.min_samples_leaf
must be ...`` to the user and there is one place that knows each rule.
"""

import math
from contextlib import contextmanager
from numbers import Integral, Real

# include_boundaries -> (low included, high included), as in sklearn.utils.check_scalar
BOUNDARIES = {"both": (True, True), "left": (True, False), "right": (False, True)}
BOUNDARIES["neither"] = (False, False)


def is_int(value) -> bool:
    """True for a Python or NumPy integer, False for a bool: True is not a count."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """True for a real number (int, float, NumPy scalar) that is not a bool."""
    return isinstance(value, Real) and not isinstance(value, bool)


def allowed_range(low=None, high=None, include_boundaries="both") -> str:
    """What the bounds allow, as the message says it: " in [1, 5]", " >= 0", " > 0", ""."""
    low_in, high_in = BOUNDARIES[include_boundaries]
    if low is not None and high is not None:
        return f" in {'[' if low_in else '('}{low}, {high}{']' if high_in else ')'}"
    if low is not None:
        return f" {'>=' if low_in else '>'} {low}"
    if high is not None:
        return f" {'<=' if high_in else '<'} {high}"
    return ""


def in_range(value, low=None, high=None, include_boundaries="both") -> bool:
    """low <= value <= high (or < where a boundary is excluded); a None bound is no bound."""
    low_in, high_in = BOUNDARIES[include_boundaries]
    above = low is None or (value >= low if low_in else value > low)
    below = high is None or (value <= high if high_in else value < high)
    return bool(above and below)


def check_int(value, name, low=None, high=None, *, or_none=False, context=""):
    """``value`` as an int if it is an integer (not a bool) in [low, high], else ValueError:
    "{name} must be an int in [low, high]{ or None}{context}, got {value!r}".

    A None bound is no bound; ``or_none=True`` lets None through (returned as None).
    ``context`` ends the rule, e.g. " for a 427 x 640 image".
    """
    if value is None and or_none:
        return None
    if not (is_int(value) and in_range(value, low, high)):
        none = " or None" if or_none else ""
        rule = f"an int{allowed_range(low, high)}{none}{context}"
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return int(value)


def check_number(
    value, name, low=None, high=None, *, include_boundaries="both", finite=True, or_none=False
):
    """``value`` as a float if it is a real number (not a bool) in the bounds, else
    ValueError: "{name} must be a finite number > 0, got {value!r}" (the words follow the
    bounds). NaN is always refused, +-inf unless ``finite=False``; a None bound is no bound,
    ``include_boundaries`` is "both", "left", "right" or "neither" (as in check_scalar).
    """
    if value is None and or_none:
        return None
    number = is_number(value) and not math.isnan(value) and (math.isfinite(value) or not finite)
    if not (number and in_range(value, low, high, include_boundaries)):
        kind = "a finite number" if finite else "a number"
        rule = f"{kind}{allowed_range(low, high, include_boundaries)}"
        raise ValueError(f"{name} must be {rule}{' or None' if or_none else ''}, got {value!r}")
    return float(value)


@contextmanager
def under(prefix):
    """Re-raise a ValueError from the block as "{prefix}.{message}": an estimator's
    "alpha must be ..." reads "model.alpha must be ..." where ``model`` is the config group
    whose keys are the estimator's parameters, one to one."""
    try:
        yield
    except ValueError as error:
        raise ValueError(f"{prefix}.{error}") from None
