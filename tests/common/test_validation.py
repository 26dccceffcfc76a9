"""The shared parameter checks: bools are not ints, bounds as documented, one-line messages."""

import re

import numpy as np
import pytest

from common.validation import allowed_range, check_int, check_number, in_range, under


@pytest.mark.parametrize("value", [True, False, np.bool_(True)])
def test_a_bool_is_refused_where_an_int_is_asked(value):
    with pytest.raises(ValueError, match=rf"^k must be an int >= 0, got {re.escape(repr(value))}$"):
        check_int(value, "k", 0)


@pytest.mark.parametrize("value", [True, False])
def test_a_bool_is_refused_where_a_number_is_asked(value):
    with pytest.raises(ValueError, match=rf"^alpha must be a finite number >= 0, got {value}$"):
        check_number(value, "alpha", 0)


@pytest.mark.parametrize("value", [1, 5, np.int64(3), np.uint8(2)])
def test_integers_in_the_closed_range_pass_as_python_ints(value):
    checked = check_int(value, "k", 1, 5)
    assert checked == value
    assert type(checked) is int


@pytest.mark.parametrize("value", [0, 6, 2.0, "3", None, np.float64(2)])
def test_check_int_refuses_everything_else_naming_key_rule_and_value(value):
    message = rf"^k must be an int in \[1, 5\] for a 5 x 9 image, got {re.escape(repr(value))}$"
    with pytest.raises(ValueError, match=message):
        check_int(value, "k", 1, 5, context=" for a 5 x 9 image")


def test_check_int_or_none_lets_none_through_and_says_so():
    assert check_int(None, "max_depth", 1, or_none=True) is None
    with pytest.raises(ValueError, match=r"^max_depth must be an int >= 1 or None, got 0$"):
        check_int(0, "max_depth", 1, or_none=True)


@pytest.mark.parametrize(
    ("include_boundaries", "rule", "passes_low", "passes_high"),
    [
        ("both", r"in \[0, 1\]", True, True),
        ("left", r"in \[0, 1\)", True, False),
        ("right", r"in \(0, 1\]", False, True),
        ("neither", r"in \(0, 1\)", False, False),
    ],
)
def test_check_number_boundaries_are_included_or_excluded_as_asked(
    include_boundaries, rule, passes_low, passes_high
):
    for value, passes in ((0, passes_low), (1, passes_high), (0.5, True)):
        if passes:
            checked = check_number(value, "size", 0, 1, include_boundaries=include_boundaries)
            assert checked == value
            assert type(checked) is float
        else:
            with pytest.raises(ValueError, match=rf"^size must be a finite number {rule}, got"):
                check_number(value, "size", 0, 1, include_boundaries=include_boundaries)


@pytest.mark.parametrize(
    ("low", "high", "include_boundaries", "words"),
    [
        (0, None, "both", " >= 0"),
        (0, None, "neither", " > 0"),
        (None, 2, "both", " <= 2"),
        (None, 2, "left", " < 2"),
        (None, None, "both", ""),
        (1, 5, "both", " in [1, 5]"),
    ],
)
def test_one_sided_bounds_read_as_inequalities(low, high, include_boundaries, words):
    assert allowed_range(low, high, include_boundaries) == words
    edge = low if low is not None else high
    if edge is not None:
        assert in_range(edge, low, high, include_boundaries) == (include_boundaries == "both")


@pytest.mark.parametrize("value", [float("nan"), np.nan, float("inf"), -np.inf])
def test_nan_and_infinity_are_not_finite_numbers(value):
    with pytest.raises(ValueError, match=rf"^lr must be a finite number > 0, got {value!r}$"):
        check_number(value, "lr", 0, include_boundaries="neither")


def test_finite_false_lets_infinity_through_but_never_nan():
    assert check_number(np.inf, "decrease", 0, finite=False) == np.inf
    with pytest.raises(ValueError, match=r"^decrease must be a number >= 0, got nan$"):
        check_number(np.nan, "decrease", 0, finite=False)
    with pytest.raises(ValueError, match=r"^binarize must be a finite number or None, got nan$"):
        check_number(np.nan, "binarize", or_none=True)
    assert check_number(None, "binarize", or_none=True) is None


def test_under_names_the_config_group_before_the_parameter():
    message = r"^tree.min_samples_leaf must be an int >= 1, got 0$"
    with pytest.raises(ValueError, match=message), under("tree"):
        check_int(0, "min_samples_leaf", 1)
    with under("tree"):  # nothing raised: nothing changed
        assert check_int(3, "min_samples_leaf", 1) == 3
