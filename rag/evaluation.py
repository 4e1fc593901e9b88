"""Offline evaluation: gold datasets, retrieval and answer metrics, baselines side by side.

A dataset is JSONL, one question a line::

    {"id", "question", "gold": [{"chapter", "section"[, "doc_id"]}], "answer", "evidence", "type"}

``type`` is fact | paraphrase | concept | multi | unanswerable; gold is [] exactly for
unanswerable questions. :func:`check_dataset` validates a file against the corpus.

Retrieval is scored at section level and at chapter level (the ranked sections' chapters,
deduplicated in ranking order): hit@k, recall@k, MRR@10 and nDCG@10 with binary relevance,
ties broken by the order the retriever returned. Unanswerable questions are excluded from
retrieval metrics. Modes are the retriever's bm25, dense and hybrid, plus ``naive``: the
LlamaIndex default recipe (SentenceSplitter 1024/200 over the raw file, no heading metadata,
same embedder, cosine top-10), its nodes mapped back to sections by character overlap.

With ``answers=True`` the answering pipeline is run too: citation precision/recall, refusal
accuracy on unanswerable questions, false refusals, key-number match.

Not handled here: writing report files and plots (eval_report.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rag import __version__
from rag.config import PROJECT_ROOT, Settings
from rag.corpus import Corpus, load_corpus
from rag.errors import RagError
from rag.store import SHIPPED_CACHE_DIR

TYPES = ("fact", "paraphrase", "concept", "multi", "unanswerable")
MODES = ("bm25", "dense", "hybrid", "naive")
DEFAULT_KS = (1, 3, 5, 10)
DEPTH = 10  # retrieved sections per question; MRR and nDCG are cut here too
DEFAULT_DATASET = PROJECT_ROOT / "eval" / "datasets" / "dev.jsonl"
NAIVE_CHUNK_SIZE, NAIVE_OVERLAP = 1024, 200
Key = tuple[str, int, int]  # (doc_id, chapter, section)


class DatasetError(RagError):
    """A gold dataset cannot be read or has rows that do not fit the corpus."""


@dataclass(frozen=True)
class GoldQuestion:
    """One validated dataset row; ``gold`` holds full section keys."""

    id: str
    question: str
    gold: tuple[Key, ...]
    answer: str
    evidence: str
    type: str
    line: int

    @property
    def answerable(self) -> bool:
        return bool(self.gold)

    @property
    def gold_chapters(self) -> tuple[tuple[str, int], ...]:
        return tuple(dedupe((d, c) for d, c, _ in self.gold))


@dataclass(frozen=True)
class BadRow:
    """A dataset row that failed validation, with the reason in Chinese."""

    line: int
    id: str | None
    reason: str

    def __str__(self) -> str:
        return f"第 {self.line} 行" + (f" [{self.id}]" if self.id else "") + f"：{self.reason}"


# ------------------------------------------------------------------ metrics


def dedupe(items: Iterable) -> list:
    """Items in first-seen order, each once."""
    seen, out = set(), []
    for x in items:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def hit_at_k(ranked: Sequence, gold: set, k: int) -> float:
    """1.0 if any gold item is among the first k ranked items, else 0.0."""
    return 1.0 if any(x in gold for x in ranked[:k]) else 0.0


def recall_at_k(ranked: Sequence, gold: set, k: int) -> float:
    """Fraction of the gold items found among the first k ranked items."""
    if not gold:
        raise ValueError("recall needs at least one gold item")
    return len(gold & set(ranked[:k])) / len(gold)


def reciprocal_rank(ranked: Sequence, gold: set, k: int = DEPTH) -> float:
    """1/rank of the first gold item within the first k, 0.0 if none."""
    for i, x in enumerate(ranked[:k], start=1):
        if x in gold:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranked: Sequence, gold: set, k: int = DEPTH) -> float:
    """nDCG@k with binary relevance; the ideal ranking puts every gold item first."""
    if not gold:
        raise ValueError("nDCG needs at least one gold item")
    dcg = sum(1.0 / math.log2(i + 1) for i, x in enumerate(ranked[:k], start=1) if x in gold)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(gold), k) + 1))
    return dcg / ideal


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default); NaN for no values."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def question_metrics(ranked: Sequence[Key], gold: Iterable[Key],
                     ks: Sequence[int] = DEFAULT_KS) -> dict[str, dict[str, float]]:
    """Section- and chapter-level metrics of one ranking against one question's gold.

    Chapter level ranks the sections' chapters deduplicated in ranking order, so a chapter
    counts once, at its best position.
    """
    ranked = dedupe(ranked)
    gold = set(gold)
    levels = {"section": (ranked, gold),
              "chapter": (dedupe((d, c) for d, c, _ in ranked), {(d, c) for d, c, _ in gold})}
    out: dict[str, dict[str, float]] = {}
    for level, (r, g) in levels.items():
        m = {f"hit@{k}": hit_at_k(r, g, k) for k in ks}
        m.update({f"recall@{k}": recall_at_k(r, g, k) for k in ks})
        m[f"mrr@{DEPTH}"] = reciprocal_rank(r, g, DEPTH)
        m[f"ndcg@{DEPTH}"] = ndcg_at_k(r, g, DEPTH)
        out[level] = m
    return out


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    """Per-metric mean over questions, plus ``n``."""
    if not rows:
        return {"n": 0}
    out = {name: float(np.mean([r[name] for r in rows])) for name in rows[0]}
    out["n"] = len(rows)
    return out


_NUM = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_MARKER = re.compile(r"\[\d+\]")


def key_numbers(text: str) -> list[str]:
    """Arabic numbers in a text (``1,200`` read as 1200), in order, each once."""
    return dedupe(_NUM.findall(_THOUSANDS.sub("", text or "")))


# ------------------------------------------------------------------ dataset


def _default_doc(corpus: Corpus) -> str | None:
    return corpus.documents[0].id if len(corpus.documents) == 1 else None


def _check_row(row, line: int, corpus: Corpus,
               sections: dict) -> tuple[GoldQuestion | None, str | None]:
    """Validate one parsed row; returns (question, None) or (None, reason)."""
    if not isinstance(row, dict):
        return None, "不是 JSON 对象"
    for name in ("id", "question", "type"):
        if not isinstance(row.get(name), str) or not row[name].strip():
            return None, f"缺少非空字符串字段 \"{name}\""
    for name in ("answer", "evidence"):
        if not isinstance(row.get(name, ""), str):
            return None, f"字段 \"{name}\" 应为字符串"
    if row["type"] not in TYPES:
        return None, f"type {row['type']!r} 无效，应为 {' | '.join(TYPES)}"
    gold = row.get("gold")
    if not isinstance(gold, list):
        return None, "gold 应为列表（无答案题为 []）"
    keys: list[Key] = []
    for g in gold:
        if not isinstance(g, dict) or not all(
                isinstance(g.get(f), int) and not isinstance(g.get(f), bool)
                for f in ("chapter", "section")):
            return None, f"gold 条目 {g!r} 应为 {{\"chapter\": 整数, \"section\": 整数}}"
        doc = g.get("doc_id") or _default_doc(corpus)
        if doc is None:
            return None, "语料有多份文档，gold 条目需要 doc_id"
        key = (doc, g["chapter"], g["section"])
        if key not in sections:
            return None, f"第 {g['chapter']} 章第 {g['section']} 节在语料中不存在" + (
                f"（文档 {doc}）" if g.get("doc_id") else "")
        keys.append(key)
    if len(set(keys)) != len(keys):
        return None, "gold 中有重复的章节"
    unanswerable = row["type"] == "unanswerable"
    if unanswerable and keys:
        return None, "unanswerable 题的 gold 应为 []"
    if not unanswerable and not keys:
        return None, "gold 为 []，但 type 不是 unanswerable"
    evidence = row.get("evidence", "")
    if keys:
        if not evidence:
            return None, "evidence 为空"
        if not any(evidence in sections[k].text for k in keys):
            return None, "evidence 不是任一 gold 章节原文的子串"
    return GoldQuestion(row["id"], row["question"].strip(), tuple(keys), row.get("answer", ""),
                        evidence, row["type"], line), None


def check_dataset(path: Path | str, corpus: Corpus) -> tuple[list[GoldQuestion], list[BadRow]]:
    """Validate a dataset file against a corpus; returns (good questions, bad rows).

    Raises:
        DatasetError: the file cannot be read as UTF-8 text.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"无法读取数据集 {path}：{exc}") from None
    sections = {(s.doc_id, s.chapter, s.section): s for s in corpus.sections}
    good: list[GoldQuestion] = []
    bad: list[BadRow] = []
    seen: dict[str, int] = {}
    for no, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            bad.append(BadRow(no, None, f"不是合法的 JSON（{exc.msg}）"))
            continue
        rid = row.get("id") if isinstance(row, dict) and isinstance(row.get("id"), str) else None
        if rid is not None and rid in seen:
            bad.append(BadRow(no, rid, f"id 重复（首次出现在第 {seen[rid]} 行）"))
            continue
        if rid is not None:
            seen[rid] = no
        q, reason = _check_row(row, no, corpus, sections)
        if reason:
            bad.append(BadRow(no, rid, reason))
        else:
            good.append(q)
    if not good and not bad:
        bad.append(BadRow(0, None, "数据集为空"))
    return good, bad


def load_dataset(path: Path | str, corpus: Corpus) -> list[GoldQuestion]:
    """Validated questions of a dataset; any bad row is an error naming the first few."""
    good, bad = check_dataset(path, corpus)
    if bad:
        head = "；".join(str(b) for b in bad[:3])
        raise DatasetError(f"数据集 {path} 有 {len(bad)} 行不合格（{head}）："
                           f"请先运行 python -m rag eval --check {path}")
    return good


def file_sha256(path: Path | str) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------ naive baseline


class NaiveRetriever:
    """The LlamaIndex default recipe over raw text, ranked back to sections by char overlap."""

    def __init__(self, corpus: Corpus, settings: Settings, embedder, progress: bool = True):
        from llama_index.core import Document
        from llama_index.core.node_parser import SentenceSplitter

        from rag.embeddings import EmbeddingCache, embed_texts, embedder_slug

        self.embedder = embedder
        self.embedder_name = settings.embedder
        splitter = SentenceSplitter(chunk_size=NAIVE_CHUNK_SIZE, chunk_overlap=NAIVE_OVERLAP)
        self.node_sections: list[list[Key]] = []
        texts: list[str] = []
        for doc in corpus.documents:
            for node in splitter.get_nodes_from_documents([Document(text=doc.text)]):
                texts.append(node.get_content())
                self.node_sections.append(self._sections_of(doc, node.start_char_idx,
                                                            node.end_char_idx, node.get_content()))
        slug = f"naive-{embedder_slug(settings.embedder)}"
        cache = EmbeddingCache(Path(settings.data_dir) / "embed-cache" / f"{slug}.npz",
                               settings.embedder, shipped=SHIPPED_CACHE_DIR / f"{slug}.npz")
        if not all(cache.get(t) is not None for t in texts):
            # long texts embed at seconds each on a small CPU: trust the shipped vectors
            # once one sample re-embeds identically
            cache.load_shipped(embedder, sample=1)
        self.texts = texts
        vectors, self.embedded = embed_texts(embedder, texts, cache, progress=progress,
                                             desc="naive 基线嵌入")
        if cache.dirty:
            cache.save()
        self.vectors = vectors
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.matrix = vectors / np.where(norms == 0, 1.0, norms)
        self.nodes = len(texts)

    @staticmethod
    def _sections_of(doc, start: int | None, end: int | None, text: str) -> list[Key]:
        """Sections a node's span overlaps, largest overlap first (ties: document order)."""
        if start is None or end is None:  # llama-index could not place the node: find it
            start = doc.text.find(text)
            if start < 0:
                return []
            end = start + len(text)
        overlaps = []
        for i, s in enumerate(doc.sections):
            o = sum(max(0, min(end, b) - max(start, a)) for a, b in s.parts)
            if o > 0:
                overlaps.append((-o, i, (s.doc_id, s.chapter, s.section)))
        return [key for _, _, key in sorted(overlaps)]

    def export_shipped(self, directory: Path = SHIPPED_CACHE_DIR) -> Path:
        """Maintainers: write the node vectors as the shipped cache, shortest text as sample."""
        from rag.embeddings import EmbeddingCache, embedder_slug, text_key

        slug = f"naive-{embedder_slug(self.embedder_name)}"
        cache = EmbeddingCache(directory / "unused.npz", self.embedder_name)
        for text, vec in zip(self.texts, self.vectors):
            cache.put(text, vec)
        out = directory / f"{slug}.npz"
        cache.save(out, keys=[text_key(t) for t in self.texts])
        out.with_suffix(".sample.txt").write_text(min(self.texts, key=len), encoding="utf-8")
        return out

    def search(self, question: str, k: int = DEPTH) -> list[Key]:
        """Top-k sections from the top-k nodes by cosine similarity."""
        q = np.asarray(self.embedder.get_query_embedding(question), dtype=np.float32)
        q /= np.linalg.norm(q) or 1.0
        order = np.argsort(-(self.matrix @ q), kind="stable")[:k]
        return dedupe(key for i in order for key in self.node_sections[i])[:k]


# ------------------------------------------------------------------ runner


def _rank(mode: str, question: str, retriever, naive, depth: int) -> tuple[list[Key], float]:
    t = time.perf_counter()
    if mode == "naive":
        keys = naive.search(question, depth)
    else:
        keys = [h.key for h in retriever.search(question, k=depth, mode=mode)]
    return keys, time.perf_counter() - t


def answer_record(q: GoldQuestion, answer) -> dict:
    """Per-question answer metrics for one rag.answering.Answer."""
    cited = dedupe((c.doc_id, c.chapter, c.section) for c in answer.citations)
    rec = {"refused": bool(answer.refused), "cited": [list(c) for c in cited],
           "text": answer.text}
    if not q.answerable:
        return rec
    gold = set(q.gold)
    rec["precision"] = (sum(c in gold for c in cited) / len(cited)) if cited else None
    rec["recall"] = 0.0 if answer.refused else len(gold & set(cited)) / len(gold)
    nums = key_numbers(q.answer)
    if nums:
        # [n] citation markers are not numbers the answer states
        found = set(key_numbers(_MARKER.sub("", answer.text))) if not answer.refused else set()
        rec["numbers"] = sum(n in found for n in nums) / len(nums)
    return rec


def answer_summary(questions: list[GoldQuestion], records: list[dict],
                   seconds: list[float]) -> dict:
    """Aggregate answer metrics; precision over answers that cite, recall over answerable."""
    ans = [(q, r) for q, r in zip(questions, records) if q.answerable]
    una = [r for q, r in zip(questions, records) if not q.answerable]
    prec = [r["precision"] for _, r in ans if r.get("precision") is not None]
    nums = [r["numbers"] for _, r in ans if "numbers" in r]

    def avg(xs):
        return float(np.mean(xs)) if xs else None

    return {
        "citation_precision": avg(prec), "citation_recall": avg([r["recall"] for _, r in ans]),
        "refusal_accuracy": avg([float(r["refused"]) for r in una]),
        "false_refusal_rate": avg([float(r["refused"]) for _, r in ans]),
        "key_number_match": avg(nums), "key_number_all": avg([float(x == 1.0) for x in nums]),
        "n_answerable": len(ans), "n_unanswerable": len(una), "n_cited": len(prec),
        "n_with_numbers": len(nums),
        "latency_ms": {"p50": percentile(seconds, 50) * 1000,
                       "p95": percentile(seconds, 95) * 1000},
    }


def summarize(questions: list[GoldQuestion], per_q: list[dict], modes: Sequence[str]) -> dict:
    """Mode → level → overall / by_type / by_chapter means, plus latency."""
    out = {}
    for mode in modes:
        secs = [r["modes"][mode]["seconds"] for r in per_q]
        entry = {"latency_ms": {"p50": percentile(secs, 50) * 1000,
                                "p95": percentile(secs, 95) * 1000,
                                "mean": float(np.mean(secs)) * 1000 if secs else float("nan")}}
        for level in ("section", "chapter"):
            rows = [(q, r["modes"][mode]["metrics"][level])
                    for q, r in zip(questions, per_q) if q.answerable]
            by_type = {t: mean_metrics([m for q, m in rows if q.type == t])
                       for t in TYPES if any(q.type == t for q, _ in rows)}
            chapters = sorted({c for q, _ in rows for _, c in q.gold_chapters})
            by_chapter = {str(c): mean_metrics([m for q, m in rows
                                                if c in {cc for _, cc in q.gold_chapters}])
                          for c in chapters}
            entry[level] = {"overall": mean_metrics([m for _, m in rows]),
                            "by_type": by_type, "by_chapter": by_chapter}
        out[mode] = entry
    return out


def worst_types(questions, per_q, summary, mode: str, n: int = 3) -> list[dict]:
    """The n question types with the lowest section hit@5 (MRR breaks ties), each with a miss."""
    by_type = summary[mode]["section"]["by_type"]
    metric = "hit@5" if "hit@5" in next(iter(by_type.values()), {}) else f"mrr@{DEPTH}"
    ranked = sorted(by_type, key=lambda t: (by_type[t][metric], by_type[t][f"mrr@{DEPTH}"]))
    out = []
    for t in ranked[:n]:
        rows = [(q, r) for q, r in zip(questions, per_q) if q.type == t]
        q, r = min(rows, key=lambda qr: qr[1]["modes"][mode]["metrics"]["section"][f"mrr@{DEPTH}"])
        out.append({"type": t, "metric": metric, "value": by_type[t][metric],
                    "mrr": by_type[t][f"mrr@{DEPTH}"], "n": by_type[t]["n"],
                    "example": {"id": q.id, "question": q.question, "gold": r["gold_labels"],
                                "top3": r["modes"][mode]["labels"][:3]}})
    return out


def _settings_snapshot(settings: Settings) -> dict:
    snap = settings.model_dump(mode="json")
    for secret in ("llm_api_key", "app_password"):
        if snap.get(secret):
            snap[secret] = "***"
    return snap


def evaluate(dataset: Path | str, settings: Settings, *, modes: Sequence[str] = MODES,
             ks: Sequence[int] = DEFAULT_KS, answers: bool = False,
             out_dir: Path | str | None = None, progress: bool = True,
             limit: int | None = None) -> dict:
    """Run the suite on one dataset and (if ``out_dir``) write the report files.

    Args:
        dataset: a JSONL gold file.
        settings: the index to evaluate (its data_dir also holds the naive baseline's cache).
        modes: any of bm25, dense, hybrid, naive.
        ks: cut-offs for hit@k and recall@k.
        answers: also run the answering pipeline and score answers.
        out_dir: where report.md, results.json, per_question.csv and the plots go.
        progress: show progress bars.
        limit: only the first N questions (quick looks).

    Raises:
        DatasetError: unreadable or invalid dataset; RagError from the index or answerer.
    """
    from tqdm.auto import tqdm

    from rag.retrieval import Retriever

    bad_modes = [m for m in modes if m not in MODES]
    if bad_modes or not modes:
        raise DatasetError(f"未知评测模式 {', '.join(bad_modes) or '（空）'}；"
                           f"可用：{', '.join(MODES)}")
    if not ks or any(k < 1 for k in ks):
        raise DatasetError("--k 应为正整数列表，如 1,3,5,10")
    ks = sorted(set(ks))
    depth = max(DEPTH, ks[-1])
    retriever = Retriever.from_settings(settings)
    corpus = load_corpus(settings.corpus_dir)
    if corpus.content_hash != retriever.index.manifest.corpus_hash:
        raise DatasetError("索引与当前语料不一致：请先运行 python -m rag ingest")
    questions = load_dataset(dataset, corpus)[:limit]
    naive = NaiveRetriever(corpus, settings, retriever.embedder, progress) \
        if "naive" in modes else None
    labels = {(s.doc_id, s.chapter, s.section): s.label for s in corpus.sections}
    curve_ks = sorted(set(range(1, DEPTH + 1)) | set(ks))

    pipeline = None
    if answers:
        from rag.answering import Pipeline

        pipeline = Pipeline.from_settings(settings)
    for mode in modes:  # first calls load jieba, Chroma segments, ONNX sessions: not latency
        _rank(mode, questions[0].question if questions else "规划", retriever, naive, depth)
    per_q, ans_records, ans_secs = [], [], []
    for q in tqdm(questions, desc="评测", unit="题", disable=not progress, file=sys.stderr):
        rec = {"id": q.id, "question": q.question, "type": q.type,
               "gold": [list(k) for k in q.gold], "gold_labels": [labels[k] for k in q.gold],
               "modes": {}}
        for mode in modes:
            keys, secs = _rank(mode, q.question, retriever, naive, depth)
            m = question_metrics(keys, q.gold, curve_ks) if q.answerable else {}
            rec["modes"][mode] = {"ranked": [list(k) for k in keys], "seconds": secs,
                                  "labels": [labels.get(k, str(k)) for k in keys], "metrics": m}
        if pipeline is not None:
            t = time.perf_counter()
            answer = pipeline.ask(q.question)
            ans_secs.append(time.perf_counter() - t)
            rec["answer"] = answer_record(q, answer)
            rec["answer"]["answerer"] = answer.answerer
            ans_records.append(rec["answer"])
        per_q.append(rec)

    summary = summarize(questions, per_q, modes)
    focus = "hybrid" if "hybrid" in modes else modes[0]
    types = {t: sum(q.type == t for q in questions) for t in TYPES}
    results = {
        "package_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "dataset": {"path": str(dataset), "sha256": file_sha256(dataset), "rows": len(questions),
                    "answerable": sum(q.answerable for q in questions), "types": types},
        "settings": _settings_snapshot(settings),
        "index": {"build_id": retriever.index.manifest.build_id,
                  "embedder": retriever.index.manifest.embedder,
                  "corpus_hash": retriever.index.manifest.corpus_hash,
                  "counts": retriever.index.manifest.counts},
        "modes": list(modes), "ks": ks, "curve_ks": curve_ks, "depth": depth,
        "naive": ({"nodes": naive.nodes, "chunk_size": NAIVE_CHUNK_SIZE,
                   "chunk_overlap": NAIVE_OVERLAP, "embedded_now": naive.embedded}
                  if naive else None),
        "retrieval": summary,
        "worst_types": {"mode": focus, "types": worst_types(questions, per_q, summary, focus)}
        if any(q.answerable for q in questions) else None,
        "answers": (answer_summary(questions, ans_records, ans_secs)
                    | {"answerer": pipeline.answerer.name,
                       "refusal_threshold": getattr(pipeline.answerer, "threshold", None)})
        if pipeline else None,
        "chapter_titles": {str(c): t for d in corpus.documents for c, t in d.chapters().items()},
    }
    if out_dir is not None:
        from rag.eval_report import write_report

        write_report(results, per_q, Path(out_dir))
    return results


# ------------------------------------------------------------------ CLI


def _csv_ints(text: str, what: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise DatasetError(f"{what} 应为逗号分隔的整数，如 1,3,5,10：{text!r}") from None


def run_cli(args, settings: Settings) -> int:
    """``python -m rag eval``: --check FILE, or run the suite on one or more datasets."""
    if args.check:
        corpus = load_corpus(settings.corpus_dir)
        good, bad = check_dataset(args.check, corpus)
        for b in bad:
            print(b)
        print(f"{args.check}：{len(good)} 行合格，{len(bad)} 行不合格",
              file=sys.stderr if bad else sys.stdout)
        return 1 if bad else 0
    datasets = [Path(d) for d in (args.dataset or [DEFAULT_DATASET])]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    ks = _csv_ints(args.k, "--k")
    base = Path(args.out) if args.out else PROJECT_ROOT / "eval" / "reports"
    for path in datasets:
        out = base if (args.out and len(datasets) == 1) else base / path.stem
        res = evaluate(path, settings, modes=modes, ks=ks, answers=args.answers, out_dir=out,
                       progress=not args.quiet, limit=args.limit)
        print(f"{path}：{res['dataset']['rows']} 题 → {out / 'report.md'}")
        for mode in modes:
            o = res["retrieval"][mode]["section"]["overall"]
            cells = "  ".join(f"{k}={o[k]:.3f}" for k in (f"hit@{ks[0]}", f"hit@{ks[-1]}",
                                                           f"mrr@{DEPTH}") if k in o)
            print(f"  {mode:<7} {cells}")
    return 0
