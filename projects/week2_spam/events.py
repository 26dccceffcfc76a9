"""Events as sets of messages: Boolean masks, the addition and multiplication rules, independence.

Model. The sample space Omega is the set of messages, each equally likely to be drawn. An
event is a subset A of Omega, held as a Boolean mask (one True/False per message), and set
algebra is Boolean algebra on masks:

    A ∩ B = a & b,    A ∪ B = a | b,    complement A^c = ~a,    De Morgan: (A ∪ B)^c = A^c ∩ B^c.

With P(A) = |A| / |Omega| (counting):

- addition rule (inclusion-exclusion): P(A ∪ B) = P(A) + P(B) - P(A ∩ B), the overlap
  being counted twice by P(A) + P(B);
- conditional probability and the multiplication rule: P(B | A) = |A ∩ B| / |A| and
  P(A ∩ B) = P(A) P(B | A);
- independence: A and B are independent when P(A ∩ B) = P(A) P(B), i.e. when the lift
  P(A ∩ B) / (P(A) P(B)) is 1. Pearson's chi-squared test on the 2 x 2 table of counts
  asks whether the observed cells O_ij are further from the independence expectations
  E_ij = n P(row i) P(column j) than chance allows:

      chi^2 = sum_ij (O_ij - E_ij)^2 / E_ij,    p = P(chi^2_1 >= chi^2).

Probabilities are returned as exact fractions (``fractions.Fraction``): the identities
above then hold exactly, not to rounding.

A keyword rule is a Boolean formula over events: "spam if it contains 'free' OR a URL OR
'txt' OR ...", the disjunction A_1 ∪ A_2 ∪ ... of its keyword events.

Sources:
- J. K. Blitzstein, J. Hwang, "Introduction to Probability", 2nd ed. (2019), chapters 1-2
  (events as sets, inclusion-exclusion, conditional probability, independence).
- A. Agresti, "Categorical Data Analysis", 3rd ed. (2013), section 3.2 (the chi-squared
  test of independence in a 2 x 2 table).
"""

from fractions import Fraction
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from common.exercises import exercise
from projects.week2_spam.probability import CURRENCY_SYMBOLS, URL

# name -> regular expression (case-insensitive); the events a keyword rule is built from
KEYWORDS = {
    "free": r"\bfree\b",
    "url": URL,
    "txt": r"\btxt\b",
    "claim": r"\bclaim\b",
    "prize": r"\bprize\b",
    "currency": f"[{CURRENCY_SYMBOLS}]",
    "long_number": r"\d{5,}",  # a phone number or a short code: 5 digits or more
}


class Independence(NamedTuple):
    """Pearson's chi-squared test of independence of two events, and their lift."""

    statistic: float
    p_value: float
    lift: float  # P(A ∩ B) / (P(A) P(B)); 1 under independence


def event_masks(texts, patterns=KEYWORDS):
    """One Boolean column per event: message i is in event A when its text matches A's pattern."""
    text = pd.Series(list(texts), dtype="str")
    return pd.DataFrame(
        {
            name: text.str.contains(pattern, case=False, regex=True)
            for name, pattern in patterns.items()
        }
    )


def probability(a):
    """P(A) = |A| / |Omega| of the event with mask a, as an exact fraction."""
    a = np.asarray(a, dtype=bool)
    if a.ndim != 1 or not len(a):
        raise ValueError(f"an event mask must be 1-D over a non-empty sample space, got {a.shape}")
    return Fraction(int(a.sum()), len(a))


def conditional(b, a):
    """P(B | A) = |A ∩ B| / |A|; undefined (ValueError) when A is empty."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if not a.any():
        raise ValueError("P(B | A) needs P(A) > 0, got an empty event A")
    return Fraction(int((a & b).sum()), int(a.sum()))


@exercise("W2.5", hint="probability(mask) gives each term as a Fraction; a & b is A ∩ B")
def union_by_inclusion_exclusion(a, b):
    """P(A ∪ B) = P(A) + P(B) - P(A ∩ B), from the masks of A and B.

    a, b: Boolean masks of shape (n,) over one sample space; returns an exact
    ``fractions.Fraction`` (the module's ``probability`` counts |A| / n exactly).
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    return probability(a) + probability(b) - probability(a & b)


@exercise("W2.5", hint="probability(a) times conditional(b, a); guard an empty A first")
def intersection_by_multiplication(a, b):
    """P(A ∩ B) = P(A) P(B | A), from the masks of A and B (0 when A is empty).

    a, b: Boolean masks of shape (n,); returns an exact ``fractions.Fraction``
    (``probability`` and ``conditional`` of this module are exact).
    """
    a = np.asarray(a, dtype=bool)
    return probability(a) * conditional(b, a) if a.any() else Fraction(0)


def any_of(masks):
    """The disjunction A_1 ∪ A_2 ∪ ... (logical OR across the columns of ``masks``)."""
    return np.logical_or.reduce(np.asarray(masks, dtype=bool), axis=1)


def independence_test(a, b):
    """chi^2 = sum_ij (O_ij - E_ij)^2 / E_ij over the 2 x 2 table of A and B, 1 degree of freedom.

    E_ij = row_i column_j / n, no continuity correction; needs every margin non-zero.
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    O = np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]], float)
    rows, columns, n = O.sum(axis=1), O.sum(axis=0), O.sum()
    if not (rows.all() and columns.all()):
        raise ValueError(
            f"each event and its complement must be non-empty, got counts {O.tolist()}"
        )
    E = np.outer(rows, columns) / n  # the counts expected under independence
    statistic = float(np.sum((O - E) ** 2 / E))
    lift = probability(a & b) / (probability(a) * probability(b))
    return Independence(statistic, float(stats.chi2.sf(statistic, df=1)), float(lift))


def event_table(a, b, names=("A", "B")):
    """Counts and probabilities of A, B and the events built from them, one row each.

    p_counted = |event| / n from the mask; p_by_rule from the rule named in ``by_rule``:
    "A and B" by the multiplication rule, "A or B" by inclusion-exclusion, "neither" as the
    complement of "A or B" while its mask is ~a & ~b (De Morgan). The two columns agree.
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    A, B = names
    rows = [
        (A, "A", a, probability(a)),
        (B, "B", b, probability(b)),
        (f"{A} and {B}", "P(A) P(B | A)", a & b, intersection_by_multiplication(a, b)),
        (f"{A} or {B}", "P(A) + P(B) - P(A and B)", a | b, union_by_inclusion_exclusion(a, b)),
        (f"neither {A} nor {B}", "1 - P(A or B)", ~a & ~b, 1 - union_by_inclusion_exclusion(a, b)),
    ]
    return pd.DataFrame(
        [
            {
                "event": event,
                "by_rule": rule,
                "count": int(mask.sum()),
                "p_counted": float(probability(mask)),
                "p_by_rule": float(p),
            }
            for event, rule, mask, p in rows
        ]
    )
