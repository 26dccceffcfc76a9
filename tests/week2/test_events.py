"""Events as Boolean masks: the probability rules hold exactly, independence against scipy.

References: direct counts of the combined masks (exact equality of fractions), the
definition of the events by a Python loop over the texts, and
scipy.stats.chi2_contingency(correction=False) for the chi-squared test (rtol 1e-12).
"""

import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.feature_extraction.text import CountVectorizer

from common.grading import grades
from projects.week2_spam import events
from projects.week2_spam.hypothesis_test import mcnemar
from projects.week2_spam.naive_bayes import MultinomialNaiveBayes
from tests.week2.test_vectorizer import sms_messages

masks = st.integers(1, 60).flatmap(
    lambda n: st.tuples(*(st.lists(st.booleans(), min_size=n, max_size=n) for _ in range(2)))
)


@pytest.fixture(scope="module")
def sms_events():
    texts, labels = sms_messages()
    table = events.event_masks(texts)
    return texts, labels == "spam", table["free"].to_numpy(), table["url"].to_numpy(), table


@grades(events.union_by_inclusion_exclusion, events.intersection_by_multiplication)
@settings(max_examples=200, deadline=None)
@given(pair=masks)
def test_inclusion_exclusion_and_multiplication_rules_hold_exactly_on_any_masks(pair):
    a, b = (np.array(m, dtype=bool) for m in pair)
    n = len(a)
    assert events.union_by_inclusion_exclusion(a, b) == Fraction(int(np.sum(a | b)), n)
    assert events.intersection_by_multiplication(a, b) == Fraction(int(np.sum(a & b)), n)
    assert events.probability(~a & ~b) == 1 - events.probability(a | b)  # De Morgan


@grades(events.union_by_inclusion_exclusion, events.intersection_by_multiplication)
def test_rules_on_free_and_url_messages_equal_the_direct_counts(sms_events):
    texts, _, free, url, _ = sms_events
    n = len(texts)
    both = sum(bool(re.search(r"\bfree\b", t, re.I)) and bool(re.search(events.URL, t, re.I))
               for t in texts)  # fmt: skip
    assert events.intersection_by_multiplication(free, url) == Fraction(both, n)
    assert events.union_by_inclusion_exclusion(free, url) == Fraction(int((free | url).sum()), n)
    assert events.conditional(url, free) == Fraction(both, int(free.sum()))
    table = events.event_table(free, url, ("free", "url"))
    np.testing.assert_array_equal(table["p_counted"], table["p_by_rule"])
    assert list(table["count"]) == [
        free.sum(),
        url.sum(),
        both,
        (free | url).sum(),
        n - (free | url).sum(),
    ]


def test_event_masks_match_a_loop_over_the_texts():
    texts = ["FREE entry", "a freezer", "see www.x.com", "txt STOP to 80086", "£5", "hi"]
    table = events.event_masks(texts)
    for name, pattern in events.KEYWORDS.items():
        expected = [bool(re.search(pattern, t, re.IGNORECASE)) for t in texts]
        assert table[name].tolist() == expected, name
    assert table["free"].tolist() == [True, False, False, False, False, False]
    assert events.any_of(table).tolist() == [True, False, True, True, True, False]


def test_independence_statistic_matches_scipy_chi2_contingency(sms_events):
    _, is_spam, free, url, _ = sms_events
    for rows in (slice(None), is_spam):
        a, b = free[rows], url[rows]
        observed = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
        reference = stats.chi2_contingency(observed, correction=False)
        test = events.independence_test(a, b)
        assert test.statistic == pytest.approx(reference.statistic, rel=1e-12)
        assert test.p_value == pytest.approx(reference.pvalue, rel=1e-12)
        assert test.lift == pytest.approx(a[b].mean() / a.mean(), rel=1e-12)  # P(A|B) / P(A)


def test_independent_events_have_lift_one_and_a_large_p_value():
    a = np.repeat([True, False], 40)  # P(A) = 1/2
    b = np.tile([True, False, False, False], 20)  # P(B) = 1/4, a quarter of A and of not-A
    test = events.independence_test(a, b)
    assert (test.statistic, test.lift, test.p_value) == (0.0, 1.0, 1.0)


def test_dependent_events_are_detected():
    a = np.repeat([True, False], 50)
    test = events.independence_test(a, a.copy())  # B = A: as dependent as can be
    assert test.statistic == pytest.approx(100.0, rel=1e-12)  # n phi^2 with phi = 1
    assert test.p_value < 1e-20
    assert test.lift == 2.0


def test_keyword_rule_loses_to_naive_bayes_by_mcnemar_on_held_out_messages(sms_events):
    texts, is_spam, _, _, table = sms_events
    rule = events.any_of(table)
    assert rule.tolist() == table.any(axis=1).tolist()
    assert 0.85 < rule[is_spam].mean() < 1  # recall
    assert rule[~is_spam].mean() < 0.05  # false-positive rate
    vectorizer = CountVectorizer().fit(texts[:4000])  # train on 4000, score the other 1574
    model = MultinomialNaiveBayes(alpha=0.1).fit(vectorizer.transform(texts[:4000]), is_spam[:4000])
    predicted = model.predict(vectorizer.transform(texts[4000:]))
    truth, rule = is_spam[4000:], rule[4000:]
    result = mcnemar(truth, predicted, rule)
    assert result.b == np.sum((predicted == truth) & (rule != truth))  # only the filter right
    assert result.c == np.sum((predicted != truth) & (rule == truth))
    assert result.b > 2 * result.c
    assert result.p_value < 0.01  # significant at the 1% level


def test_invalid_events_are_refused():
    with pytest.raises(ValueError, match="needs P\\(A\\) > 0"):
        events.conditional([True], [False])
    with pytest.raises(ValueError, match="non-empty sample space"):
        events.probability([])
    with pytest.raises(ValueError, match="complement must be non-empty"):
        events.independence_test([True, True], [True, False])
