"""Export a gold dataset in the BEIR layout so other tools can score the same questions.

Writes ``corpus.jsonl`` (one line per section: ``_id`` = ``doc:chapter:section``, ``title`` =
the section's 「第X章 第Y节」 label, ``text``), ``queries.jsonl`` (``_id``, ``text``; a row with
history is exported as the follow-up rewrite the evaluation retrieves with) and
``qrels/test.tsv`` (``query-id``, ``corpus-id``, ``score`` = 1 for every gold section).
Questions with gold [] (unanswerable, instruction, chitchat) have no relevant document and are
left out, as BEIR has no notion of refusal; the count is returned.

Not handled here: scoring (any BEIR-compatible tool does that), reading BEIR back.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from rag.corpus import Corpus
from rag.evaluation.dataset import load_dataset
from rag.evaluation.runner import retrieval_query


def section_id(key) -> str:
    doc, chapter, section = key
    return f"{doc}:{chapter}:{section}"


def export_beir(dataset: Path | str, corpus: Corpus, out: Path | str) -> dict:
    """Write the BEIR files into ``out``; returns counts (sections, queries, qrels, skipped)."""
    questions = load_dataset(dataset, corpus)
    out = Path(out)
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for s in corpus.sections:
            fh.write(json.dumps({"_id": section_id(s.key), "title": s.label, "text": s.text},
                                ensure_ascii=False) + "\n")
    answerable = [q for q in questions if q.answerable]
    with (out / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for q in answerable:
            fh.write(json.dumps({"_id": q.id, "text": retrieval_query(q),
                                 "metadata": {"type": q.type}}, ensure_ascii=False) + "\n")
    n_qrels = 0
    with (out / "qrels" / "test.tsv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(["query-id", "corpus-id", "score"])
        for q in answerable:
            for key in q.gold:
                w.writerow([q.id, section_id(key), 1])
                n_qrels += 1
    return {"sections": len(corpus.sections), "queries": len(answerable), "qrels": n_qrels,
            "skipped_no_gold": len(questions) - len(answerable), "out": str(out)}
