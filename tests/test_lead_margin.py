"""The first-citation margin's cross-validation (rag.evaluation.lead_margin), on rows."""

from rag.evaluation.lead_margin import cross_validate, first_gold


def _row(lead, top_gold, best_gold, same=False):
    return {"id": "q", "lead": lead, "top_gold": top_gold, "best_gold": best_gold, "same": same}


def test_the_top_section_keeps_the_first_citation_below_the_margin():
    rows = [_row(0.01, True, False), _row(0.05, False, True), _row(None, True, True, same=True)]
    assert first_gold(rows, 0.0) == 2 / 3  # the best sentence's section leads everywhere
    assert first_gold(rows, 0.02) == 1.0  # the small lead gives way to the gold top section
    assert first_gold(rows, 9.0) == 2 / 3  # the top section always leads


def test_out_of_fold_margins_are_chosen_without_the_scored_rows():
    rows = [_row(0.01, True, False) for _ in range(10)] + [_row(0.05, False, True) for _ in range(10)]
    cv = cross_validate(rows, folds=5)
    assert len(cv["margins"]) == 5 and all(0.01 < m <= 0.05 for m in cv["margins"])
    assert cv["first_cited_gold_oof"] == 1.0 and cv["in_sample_best"] == 0.015


def test_no_answered_question_is_no_crash():
    assert cross_validate([], folds=5)["first_cited_gold_oof"] == 0.0
