"""Word segmentation for BM25: jieba's search-mode cut, punctuation and stop words dropped.

Search mode also emits the shorter words inside long ones (高新技术企业 → 高新, 技术, 企业,
高新技术企业), so a question that uses part of a compound still matches. :func:`token_spans`
gives the default-mode token offsets (the quiz aligns its blanks to them).

Not handled here: the BM25 index itself (store.py builds it, retrieval.py queries it).
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

# Function words and question words that carry no topic (kept short on purpose).
STOPWORDS = frozenset("""
的 了 和 与 及 或 是 在 等 对 为 把 被 将 要 也 都 就 并 而 其 之 以 于 从 到 向 由 这 那 个 有 中
我 我们 你 您 他 它 该 此 各 上 下 里 吗 呢 吧 啊 么 什么 哪些 哪个 哪 多少 几 怎么 怎样 如何 为什么
是否 有没有 请问 请 一下 关于 方面 问题 情况 规划 提到 提出 山西 山西省 我省 全省
""".split())
_PUNCT = re.compile(r"^[\W_]+$", re.UNICODE)


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokenize(text: str) -> list[str]:
    """Lower-cased jieba search-mode tokens without punctuation, spaces or stop words."""
    out = []
    for tok in _jieba().lcut_for_search(text):
        tok = tok.strip().lower()
        if tok and not _PUNCT.match(tok) and tok not in STOPWORDS:
            out.append(tok)
    return out


def token_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of the jieba tokens (default mode) of ``text``, in order."""
    return [(a, b) for _, a, b in _jieba().tokenize(text)]


# jieba part-of-speech tags of words that name a topic: nouns (n, nr, ns, nt, nz, ng), verbal and
# adjectival nouns (vn, an), idioms and abbreviations (i, j, l), foreign strings (eng) and
# time nouns (t) are kept; verbs, adverbs, prepositions, pronouns, measure words are not.
_TOPIC_TAGS = ("n", "vn", "an", "i", "j", "l", "eng", "nz")
_LATIN = re.compile(r"[0-9]*[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]|[0-9]+[A-Za-z]")


@lru_cache(maxsize=4096)
def tagged_words(text: str) -> tuple[tuple[str, str], ...]:
    """jieba's (word, POS tag) pairs of a text, Latin-digit strings blanked out (one tagging
    pass per question serves content_words and verbs)."""
    import jieba.posseg as pseg

    _jieba()
    return tuple((p.word, p.flag) for p in pseg.lcut(_LATIN.sub(" ", text)))


def verbs(text: str) -> tuple[str, ...]:
    """The verbs of two or more characters in a text (jieba POS v), without stop words."""
    return tuple(dict.fromkeys(w for w, flag in tagged_words(text) if flag == "v"
                               and len(w) > 1 and w not in STOPWORDS))


@lru_cache(maxsize=4096)
def content_words(text: str) -> tuple[str, ...]:
    """The topic-bearing words of a question (jieba POS: nouns, abbreviations, idioms, Latin
    strings such as 5G), lower-cased, without stop words; in order, each once."""
    # Latin-digit strings (5G, PM2.5) whole: the tagger splits them into a number and a letter
    latin = [m.group(0).lower() for m in _LATIN.finditer(text)]
    out: list[str] = list(dict.fromkeys(latin))
    for word, flag in tagged_words(text):
        word = word.strip().lower()
        if not word or _PUNCT.match(word) or word in STOPWORDS or word in out:
            continue
        if flag.startswith(_TOPIC_TAGS):
            out.append(word)
    return tuple(out)
