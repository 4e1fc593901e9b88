"""Offline evaluation: gold datasets, retrieval and answer metrics, baselines side by side.

Retrieval is scored at section level and at chapter level: hit@k, recall@k, MRR@10 and nDCG@10
with binary relevance, ties broken by the order the retriever returned. Modes are bm25, dense,
hybrid and the ``naive`` LlamaIndex baseline.

Modules: dataset (GoldQuestion, check_dataset, load_dataset), metrics (hit_at_k … ndcg_at_k),
answers (answer records: citations, refusals, quantities, keys, character F1), baseline
(NaiveRetriever), stats (bootstrap intervals, McNemar, paired bootstrap), failures (every
failure, weakest groups), runner (evaluate, summaries), report (report.md, results.json,
per_question.csv), plots (PNG figures, CJK font), compare (two runs side by side), beir (BEIR
export). This package re-exports their public names.

Not handled here: the ``eval`` CLI (rag/cli/evaluate.py).
"""

from rag.evaluation.answers import (Quantity, answer_record, answer_summary, char_f1, coverage,
                                    key_numbers, quantities)
from rag.evaluation.baseline import NAIVE_CHUNK_SIZE, NAIVE_OVERLAP, NaiveRetriever
from rag.evaluation.dataset import (DEFAULT_DATASET, NO_ANSWER_TYPES, TYPES, BadRow, DatasetError,
                                    GoldQuestion, check_dataset, file_sha256, load_dataset)
from rag.evaluation.metrics import (DEFAULT_KS, DEPTH, Key, dedupe, hit_at_k, mean_metrics,
                                    ndcg_at_k, percentile, question_metrics, recall_at_k,
                                    reciprocal_rank)
from rag.evaluation.runner import MODES, evaluate, summarize
from rag.evaluation.stats import bootstrap_ci, mcnemar, paired_bootstrap

__all__ = [
    "DEFAULT_DATASET", "DEFAULT_KS", "DEPTH", "MODES", "NAIVE_CHUNK_SIZE", "NAIVE_OVERLAP",
    "NO_ANSWER_TYPES", "TYPES", "BadRow", "DatasetError", "GoldQuestion", "Key", "NaiveRetriever",
    "Quantity", "answer_record", "answer_summary", "bootstrap_ci", "char_f1", "check_dataset",
    "coverage", "dedupe", "evaluate", "file_sha256", "hit_at_k", "key_numbers", "load_dataset",
    "mcnemar", "mean_metrics", "ndcg_at_k", "paired_bootstrap", "percentile", "quantities",
    "question_metrics", "recall_at_k", "reciprocal_rank", "summarize",
]
