"""Bayes' theorem made visible: why a naive Bayes model calls a message spam.

Model. For two classes the posterior is best read as log-odds. Dividing Bayes' theorem
for spam by Bayes' theorem for ham cancels the evidence P(x), and the naive (independent
tokens) likelihood splits the log-odds into one term per token. Multinomial model,
P(x | y) proportional to prod_i theta_yi^x_i:

    log P(spam | x) / P(ham | x) = log P(spam) / P(ham)                        (prior)
                                   + sum_i x_i log theta_spam,i / theta_ham,i   (contributions)

Bernoulli model, x_i = 1[token i occurs], adds the evidence of every absent token:

    ... + sum_{i : x_i = 0} log (1 - theta_spam,i) / (1 - theta_ham,i)        (absent tokens)

A token pushes towards spam by x_i times its log-likelihood ratio
log theta_spam,i / theta_ham,i, and P(spam | x) = 1 / (1 + exp(-posterior log-odds)). The
parameters theta are smoothed maximum-likelihood estimates (see ``naive_bayes``): with
alpha = 0 a token never seen in ham has theta_ham,i = 0, an infinite ratio, and a message
containing it is spam with probability 1, whatever else it says.

Sources:
- C. D. Manning, P. Raghavan, H. Schütze, "Introduction to Information Retrieval" (2008),
  sections 13.2 and 13.3 (the log forms of the multinomial and Bernoulli decision rules).
- P. Graham, "A plan for spam" (2002), https://paulgraham.com/spam.html (per-token spam
  evidence, the idea this table shows).
"""

import copy
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn import naive_bayes as sk_nb
from sklearn.pipeline import Pipeline

from common.exercises import exercise
from projects.week2_spam.data import POSITIVE
from projects.week2_spam.naive_bayes import BernoulliNaiveBayes, MultinomialNaiveBayes


class Explanation(NamedTuple):
    """table: one row per vocabulary token of the message; summary: the log-odds identity."""

    table: pd.DataFrame
    summary: pd.Series


def split_model(vectorizer, model):
    """(vectorizer, model) from the two parts, or from a fitted pipeline passed alone."""
    if model is None:
        if not isinstance(vectorizer, Pipeline):
            raise ValueError(
                "pass a fitted vectorizer and model, or a fitted pipeline as the vectorizer "
                f"with model=None; got model=None and {type(vectorizer).__name__}"
            )
        return vectorizer[:-1], vectorizer[-1]
    return vectorizer, model


def class_rows(model, positive=POSITIVE):
    """(row of the positive class, row of the other class) in the model's arrays."""
    classes = list(model.classes_)
    if len(classes) != 2 or positive not in classes:
        raise ValueError(
            f"explaining needs a binary model with the class {positive!r}, got classes {classes}"
        )
    pos = classes.index(positive)
    return pos, 1 - pos


def log_likelihood_ratio(model, positive=POSITIVE):
    """log theta_pos,i - log theta_neg,i for every token i, shape (n_features,)."""
    pos, neg = class_rows(model, positive)
    log_theta = model.feature_log_prob_
    with np.errstate(invalid="ignore"):  # -inf - -inf: a token unseen in both (alpha = 0)
        return log_theta[pos] - log_theta[neg]


def multinomial_evidence(model, counts, columns, pos, neg):
    """(x_i, absent-token log-odds) = (count_i, 0): x_i = 0 adds 0 * log ratio = 0."""
    return counts, 0.0


def bernoulli_evidence(model, counts, columns, pos, neg):
    """(x_i, sum over absent i of log (1 - theta_pos,i) / (1 - theta_neg,i)).

    x_i = 1[count_i > binarize]; a token counted but not above the threshold is absent.
    """
    x = counts if model.binarize is None else (counts > model.binarize).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):  # theta = 1 (alpha = 0): log 0
        log_not_theta = np.log1p(-np.exp(model.feature_log_prob_))  # log(1 - theta_yi)
        absent_ratio = log_not_theta[pos] - log_not_theta[neg]
    absent = np.ones(len(absent_ratio), dtype=bool)
    absent[columns[x > 0]] = False
    with np.errstate(invalid="ignore"):  # inf - inf under alpha = 0: NaN, see explain
        return x, absent_ratio[absent].sum()


@exercise(
    "W2.P4",
    hint="x_i times the difference of the two log thetas; np.where keeps x_i = 0 at exactly 0",
)
def token_contributions(x, log_theta_spam, log_theta_ham):
    """contribution_i = x_i log(theta_spam,i / theta_ham,i), and 0 where x_i = 0.

    x, log_theta_spam, log_theta_ham: shape (n_tokens,), the message's evidence x_i (a
    count, or 0/1 for the Bernoulli model) and the log P(token i | class) of each class.
    Summed with the prior log-odds they give the posterior log-odds of Bayes' theorem:
    log P(spam | x) / P(ham | x). A token with x_i = 0 adds exactly 0, even where alpha = 0
    made its ratio infinite (0 * inf = 0 here, not NaN). Returns shape (n_tokens,).
    """
    with np.errstate(invalid="ignore"):  # alpha = 0: inf - inf when a token is unseen in both
        return np.where(x > 0, x * (log_theta_spam - log_theta_ham), 0.0)


EVIDENCE = {  # model class -> (x_i of the present tokens, absent-token log-odds)
    MultinomialNaiveBayes: multinomial_evidence,
    sk_nb.MultinomialNB: multinomial_evidence,
    BernoulliNaiveBayes: bernoulli_evidence,
    sk_nb.BernoulliNB: bernoulli_evidence,
}


def token_table(tokens, counts, log_p_pos, log_p_neg, contribution, labels) -> pd.DataFrame:
    """One row per token present: its count, log P(token | each class of ``labels``) and
    its contribution to the log-odds; most indicative of ``labels[0]`` first."""
    positive, negative = labels
    table = pd.DataFrame(
        {
            "token": tokens,
            "count": counts.astype(np.int64),
            f"log_p_token_given_{positive}": log_p_pos,
            f"log_p_token_given_{negative}": log_p_neg,
            "contribution": contribution,
        }
    )
    return table.sort_values(["contribution", "token"], ascending=[False, True])


def explain(text, vectorizer, model=None, positive=POSITIVE):
    """Per-token evidence for one message: contribution_i = x_i log theta_spam,i / theta_ham,i.

    Returns Explanation(table, summary). The table has one row per vocabulary token present
    in ``text`` (token, count, log P(token | spam), log P(token | ham), contribution),
    most spam-indicative first. The summary holds the prior log-odds, the sum of the
    contributions, the log-odds of the absent tokens (0 for the multinomial model), the
    posterior log-odds from ``model.predict_log_proba`` and P(spam | x), with

        posterior_log_odds = prior_log_odds + sum_of_contributions + absent_log_odds.

    With alpha = 0 a contribution can be +-inf; when the evidence points at +inf and -inf
    at once (P(x) = 0) the sum is NaN and the posterior is the prior (see ``naive_bayes``).
    ``vectorizer`` may be a fitted ``make_pipeline(vectorizer, model)`` with model=None.
    Multinomial and Bernoulli models (ours or scikit-learn's) are supported; complement NB
    scores are not log-probabilities and have no such decomposition.
    """
    vectorizer, model = split_model(vectorizer, model)
    if type(model) not in EVIDENCE:
        supported = sorted(cls.__name__ for cls in EVIDENCE)
        raise ValueError(f"explain supports {supported}, got {type(model).__name__}")
    pos, neg = class_rows(model, positive)
    negative = model.classes_[neg]
    x = sp.csr_matrix(vectorizer.transform([text]))  # shape (1, n_features)
    columns, counts = x.indices, x.data
    model_x, absent_log_odds = EVIDENCE[type(model)](model, counts, columns, pos, neg)
    log_theta = model.feature_log_prob_[:, columns]  # shape (2, tokens present)
    contribution = token_contributions(model_x, log_theta[pos], log_theta[neg])
    with np.errstate(invalid="ignore"):
        sum_of_contributions = contribution.sum()  # NaN if tokens point at +inf and -inf
    tokens = vectorizer.get_feature_names_out()[columns]
    table = token_table(tokens, counts, log_theta[pos], log_theta[neg], contribution,
                        (positive, negative))  # fmt: skip
    summary = log_odds_summary(model, x, (pos, neg), sum_of_contributions, absent_log_odds)
    return Explanation(table.reset_index(drop=True), summary.rename({"p": f"p_{positive}"}))


def log_odds_summary(model, x, rows, sum_of_contributions, absent_log_odds) -> pd.Series:
    """prior log-odds + sum of contributions + absent log-odds beside the model's posterior
    log-odds of the message x and its P(positive | x) (``p``); ``rows``: (positive, negative)."""
    pos, neg = rows
    log_posterior = model.predict_log_proba(x)[0]
    prior = model.class_log_prior_
    return pd.Series(
        {
            "prior_log_odds": prior[pos] - prior[neg],
            "sum_of_contributions": sum_of_contributions,
            "absent_log_odds": absent_log_odds,
            "posterior_log_odds": log_posterior[pos] - log_posterior[neg],
            "p": np.exp(log_posterior[pos]),
        }
    )


def indicative_tokens(vectorizer, model=None, n=15, positive=POSITIVE):
    """The n most spam- and n most ham-indicative tokens by log theta_spam,i / theta_ham,i.

    Columns: indicates (the class), token, log_ratio = log theta_spam,i / theta_ham,i and
    the raw counts N_yi in each class. Ties (such as the infinite ratios of alpha = 0) go
    to the token seen more often in the class it indicates, then to the first in
    vocabulary order.
    """
    vectorizer, model = split_model(vectorizer, model)
    pos, neg = class_rows(model, positive)
    llr = log_likelihood_ratio(model, positive)
    names = vectorizer.get_feature_names_out()
    N_pos, N_neg = model.feature_count_[pos], model.feature_count_[neg]
    informative = np.flatnonzero(~np.isnan(llr))  # NaN: unseen in both classes (alpha = 0)
    rows = []
    for label, sign, N_own in ((positive, 1.0, N_pos), (model.classes_[neg], -1.0, N_neg)):
        # by sign * llr descending, then by the count in the indicated class descending
        ranked = np.lexsort((-N_own[informative], -sign * llr[informative]))
        order = informative[ranked[:n]]
        rows.append(
            pd.DataFrame(
                {
                    "indicates": label,
                    "token": names[order],
                    "log_ratio": llr[order],
                    f"count_{positive}": N_pos[order].astype(np.int64),
                    f"count_{model.classes_[neg]}": N_neg[order].astype(np.int64),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def with_alpha(model, alpha):
    """A copy of a fitted naive Bayes model re-estimated with another alpha.

    The counts N_yi and N_y are sufficient statistics: no refit on the data is needed.
    """
    return copy.deepcopy(model).set_params(alpha=alpha).estimate_from_counts()


def unseen_token(vectorizer, model, in_class=POSITIVE):
    """The token seen most often in ``in_class`` and never in the other class."""
    pos, neg = class_rows(model, in_class)
    N_pos, N_neg = model.feature_count_[pos], model.feature_count_[neg]
    candidates = np.flatnonzero((N_neg == 0) & (N_pos > 0))
    if not len(candidates):
        raise ValueError(f"every token seen in {in_class!r} is also seen in the other class")
    return vectorizer.get_feature_names_out()[candidates[np.argmax(N_pos[candidates])]]


def smoothing_effect(
    vectorizer,
    model=None,
    token=None,
    message=None,
    alphas=(0.0, 0.01, 0.1, 1.0),
    positive=POSITIVE,
):
    """theta_yi = (N_yi + alpha) / (N_y + alpha n) of one token, and P(spam | message), by alpha.

    One row per alpha, for one of our fitted models re-estimated from its counts
    (``with_alpha``; Bernoulli: theta_yi = (D_yi + alpha) / (D_y + 2 alpha)). token
    defaults to the most frequent spam token never seen in ham, message to the token
    alone. With alpha = 0 its theta_ham is 0 and, in the multinomial model, P(spam |
    message) = 1 for any message containing it; every alpha > 0 leaves a finite
    log-likelihood ratio.
    """
    vectorizer, model = split_model(vectorizer, model)
    pos, neg = class_rows(model, positive)
    token = unseen_token(vectorizer, model, positive) if token is None else token
    column = np.flatnonzero(vectorizer.get_feature_names_out() == token)
    if not len(column):
        raise ValueError(f"token must be in the vocabulary, got {token!r}")
    x = vectorizer.transform([token if message is None else message])
    rows = []
    for alpha in alphas:
        smoothed = with_alpha(model, alpha)
        theta = np.exp(smoothed.feature_log_prob_[:, column[0]])
        rows.append(
            {
                "token": token,
                "alpha": alpha,
                f"theta_{model.classes_[pos]}": theta[pos],
                f"theta_{model.classes_[neg]}": theta[neg],
                "log_ratio": log_likelihood_ratio(smoothed, positive)[column[0]],
                f"p_{model.classes_[pos]}_given_message": smoothed.predict_proba(x)[0, pos],
            }
        )
    return pd.DataFrame(rows)
