"""The refusal rule's threshold choice and decision (rag.refusal), on hand-made scores."""

from __future__ import annotations

from rag.cli.ask import _out_of_fold
from rag.refusal import HARD_REFUSAL, decide, pick_threshold


def test_threshold_maximises_refusals_within_the_false_refusal_budget():
    t, refused, false = pick_threshold([-1, 0.5, 0.9, 1.5, 1.6], [-1, 0.2, 0.3], max_false=0.3)
    assert 0.3 < t < 0.5 and refused == 1.0 and false == 0.2


def test_hard_refusals_count_and_alone_set_the_floor():
    # two of four answerable questions are refused by a hard check: over a 10% budget already
    t, refused, false = pick_threshold([-1, -1, 0.5, 0.9], [-1, 0.2], max_false=0.1)
    assert HARD_REFUSAL < t < 0.2 and (refused, false) == (0.5, 0.5)
    assert decide(HARD_REFUSAL, t, contentless=False, has_evidence=True, focused=False)
    assert not decide(0.2, t, contentless=False, has_evidence=True, focused=False)


def test_decide_hard_checks_and_focus():
    assert decide(1.0, 0.5, contentless=True, has_evidence=True, focused=False)
    assert decide(1.0, 0.5, contentless=False, has_evidence=False, focused=False)
    assert not decide(0.1, 0.5, contentless=False, has_evidence=True, focused=True)  # 这一节


def test_out_of_fold_rates_use_thresholds_chosen_without_the_held_out_rows():
    support = [0.1, 0.2, 0.3, 0.4, 0.5] * 4 + [0.8, 0.9, 1.0, 1.1, 1.2] * 4
    unanswerable = [True] * 20 + [False] * 20
    oof = _out_of_fold(support, unanswerable, max_false=0.0, folds=5)
    assert len(oof["thresholds"]) == 5 and oof["refused_unanswerable"] == 1.0
    assert oof["false_refusal"] == 0.0
