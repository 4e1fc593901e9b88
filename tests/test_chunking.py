"""Chunker invariants on the real plan and exact boundaries on small inputs; offline tiktoken."""

from __future__ import annotations

import pytest

from rag.chunking import chunk_corpus, chunk_section, count_tokens, get_encoding, split_sentences
from rag.corpus import load_corpus
from tests.conftest import REAL_CORPUS


@pytest.fixture(scope="module")
def real():
    corpus = load_corpus(REAL_CORPUS)
    return corpus, chunk_corpus(corpus, tokens=160, overlap=1)


def test_tiktoken_offline_cl100k():
    enc = get_encoding()
    assert enc.name == "cl100k_base"
    assert enc.decode(enc.encode("到2025年,力争高新技术企业达到5000家。")) == "到2025年,力争高新技术企业达到5000家。"
    assert count_tokens("hello world") == 2


def test_split_sentences_keeps_delimiters_and_covers_text():
    text = "第一句。第二句！第三句；\n\n“引号句。”最后没有句号"
    spans = split_sentences(text)
    parts = [text[a:b] for a, b in spans]
    assert parts == ["第一句。", "第二句！", "第三句；", "\n\n", "“引号句。”", "最后没有句号"]
    assert "".join(parts) == text


def test_units_are_exact_spans_and_never_cross_sections(real):
    corpus, (sentences, chunks) = real
    doc = corpus.documents[0]
    for u in sentences + chunks:
        assert doc.text[u.start:u.end] == u.text
        sec = doc.section(u.chapter, u.section)
        assert any(a <= u.start and u.end <= b for a, b in sec.parts), u.id


def test_chunks_respect_budget_and_cover_every_section(real):
    corpus, (sentences, chunks) = real
    assert all(count_tokens(c.text) <= 160 for c in chunks)
    covered = {c.key for c in chunks}
    assert covered == {s.key for s in corpus.documents[0].sections}
    # every non-blank character of the body lies in some chunk
    doc = corpus.documents[0]
    mark = bytearray(len(doc.text))
    for c in chunks:
        mark[c.start:c.end] = b"\x01" * (c.end - c.start)
    for s in doc.sections:
        for a, b in s.parts:
            assert all(mark[i] or doc.text[i].isspace() for i in range(a, b))


def test_ids_stable_and_unique(real):
    corpus, (sentences, chunks) = real
    ids = [u.id for u in sentences + chunks]
    assert len(ids) == len(set(ids))
    again = chunk_corpus(corpus, tokens=160, overlap=1)
    assert [u.id for u in again[0] + again[1]] == ids
    assert chunks[0].id == "shanxi-14th-fyp:0:0:c0"


def test_heading_path_metadata(real):
    _, (_, chunks) = real
    c = next(c for c in chunks if (c.chapter, c.section) == (2, 3))
    assert c.heading_path == "第二章 实施创新驱动发展、科教兴省、人才强省战略,打造核心竞争力 > 第三节 培育一流创新主体"
    assert c.index_text(True).startswith(c.heading_path + "\n")
    assert c.index_text(False) == c.text.strip()


def test_overlap_one_sentence(tiny_corpus):
    doc = load_corpus(tiny_corpus).documents[0]
    sec = doc.section(1, 1)
    sents, chunks = chunk_section(doc.text, sec, tokens=50, overlap=1)
    assert len(chunks) >= 2
    # the last sentence of a chunk starts the next one
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end
        assert doc.text[b.start:a.end].strip()


def test_long_sentence_split_at_commas_then_length(tiny_corpus):
    doc = load_corpus(tiny_corpus).documents[0]
    sec = doc.section(2, 2)
    _, chunks = chunk_section(doc.text, sec, tokens=12, overlap=0)
    assert all(count_tokens(c.text) <= 12 for c in chunks)
    assert "".join(c.text for c in chunks) == sec.text
    # the first cut of the long sentence falls right after a comma
    assert any(c.text.endswith(",") for c in chunks)


def test_preamble_chunks_do_not_span_the_toc(real):
    corpus, (_, chunks) = real
    pre = corpus.documents[0].sections[0]
    for c in (c for c in chunks if c.chapter == 0):
        assert any(a <= c.start and c.end <= b for a, b in pre.parts)
        assert "目 录" not in c.text
