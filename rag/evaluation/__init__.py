"""Offline evaluation: gold datasets, retrieval and answer metrics, baselines side by side.

Retrieval is scored at section level and at chapter level: hit@k, recall@k, MRR@10 and nDCG@10
with binary relevance, ties broken by the order the retriever returned. Modes are bm25, dense,
hybrid and the ``naive`` LlamaIndex baseline.

Modules: dataset (GoldQuestion, check_dataset, load_dataset), metrics (hit_at_k … key_numbers),
baseline (NaiveRetriever), runner (evaluate, answer records, summaries), report (report.md,
results.json, per_question.csv, plots). This package re-exports their public names.

Not handled here: the ``eval`` CLI (rag/cli/evaluate.py).
"""

from rag.evaluation.baseline import NAIVE_CHUNK_SIZE, NAIVE_OVERLAP, NaiveRetriever
from rag.evaluation.dataset import (DEFAULT_DATASET, TYPES, BadRow, DatasetError, GoldQuestion,
                                    check_dataset, file_sha256, load_dataset)
from rag.evaluation.metrics import (DEFAULT_KS, DEPTH, Key, dedupe, hit_at_k, key_numbers,
                                    mean_metrics, ndcg_at_k, percentile, question_metrics,
                                    recall_at_k, reciprocal_rank)
from rag.evaluation.runner import (MODES, answer_record, answer_summary, evaluate, summarize,
                                   worst_types)

__all__ = [
    "DEFAULT_DATASET", "DEFAULT_KS", "DEPTH", "MODES", "NAIVE_CHUNK_SIZE", "NAIVE_OVERLAP", "TYPES",
    "BadRow", "DatasetError", "GoldQuestion", "Key", "NaiveRetriever", "answer_record",
    "answer_summary", "check_dataset", "dedupe", "evaluate", "file_sha256", "hit_at_k",
    "key_numbers", "load_dataset", "mean_metrics", "ndcg_at_k", "percentile", "question_metrics",
    "recall_at_k", "reciprocal_rank", "summarize", "worst_types",
]
