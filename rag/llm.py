"""LLM answerers: any OpenAI-compatible chat endpoint (llama-index OpenAILike) or a local GGUF.

Both build the same messages: the system prompt (rules, no retrieved text) and the user
prompt with the retrieved text only inside numbered ``<source>`` blocks, then the question.
The reply is streamed; afterwards its ``[n]`` markers are validated against the sources sent
(others removed and counted), markers are attached if it has none, and citations are built
from the sources' metadata. Endpoint down, slow (``llm_timeout``), erroring or returning
nothing → the extractive answer with a visible notice. Only transport and protocol errors
(:data:`LLM_ERRORS`) fall back; anything else is a bug and surfaces. A question the refusal
rule refuses is refused here too, before any model is asked.

Not handled here: retrieval and refusal scoring (answering.py, refusal.py).
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path
from typing import Iterator

import httpx

from rag.answering import FALLBACK_NOTICE, Answer, Answerer, ExtractiveAnswerer, Query, _join
from rag.citations import (MARKER, Citation, answer_sentences, attach_markers, cite,
                           overlap_similarity, validate_markers)
from rag.errors import ConfigError, GenerationError
from rag.followup import is_followup, rewrite_followup
from rag.prompting import load_prompt
from rag.refusal import REFUSAL
from rag.wordseg import tokenize


def _transport_errors() -> tuple[type[BaseException], ...]:
    """What a failing endpoint raises: our timeout, sockets, HTTP, the OpenAI client's
    API errors (connection, timeout, status) and malformed payloads (JSON, missing keys)."""
    errors: list[type[BaseException]] = [GenerationError, OSError, httpx.HTTPError,
                                         ValueError, KeyError]
    try:
        import openai

        errors.append(openai.APIError)
    except ImportError:  # the openai client comes with llama-index-llms-openai-like
        pass
    return tuple(errors)


LLM_ERRORS = _transport_errors()
REMOVED_NOTICE = "已删除 {n} 个指向未提供来源的引用标记。"
_TAG = re.compile(r"<\s*/?\s*source", re.IGNORECASE)


def _material(text: str) -> str:
    """Source text made unable to close or open a <source> tag (it is material only)."""
    return _TAG.sub(lambda m: m.group(0).replace("<", "＜"), text.strip())


def build_messages(question: str, hits, max_sources: int = 5) -> list[dict]:
    """System + user messages; retrieved text appears only inside the user's source blocks."""
    sources = [{"n": i, "title": h.chunk.heading_path, "text": _material(h.text)}
               for i, h in enumerate(hits[:max_sources], start=1)]
    return [{"role": "system", "content": load_prompt("answer_system", refusal=REFUSAL)},
            {"role": "user", "content": load_prompt("answer_user", sources=sources,
                                                    question=_material(question),
                                                    refusal=REFUSAL)}]


class LLMAnswerer(Answerer):
    """Base of the LLM backends: prompt, stream, validate, cite, fall back."""

    def __init__(self, settings, retriever):
        super().__init__(settings, retriever)
        self.extractive = ExtractiveAnswerer(settings, retriever)
        self.timeout = float(settings.llm_timeout)
        self.max_tokens = settings.llm_max_tokens  # per answer; lower it for small local models
        self.max_sources = settings.llm_max_sources

    # backends implement these two --------------------------------------------------
    def _chat_stream(self, messages: list[dict]) -> Iterator[str]:
        raise NotImplementedError

    def _chat(self, messages: list[dict]) -> str:
        return "".join(self._chat_stream(messages))

    # ------------------------------------------------------------------------------
    def rewrite(self, question: str, history):
        """Condense a follow-up with the LLM; the rule keeps the chapter/section focus."""
        rule = rewrite_followup(question, history)
        if not is_followup(question, history) or rule.more:
            return rule
        turns = [t for t in history if isinstance(t, dict) and t.get("role") in
                 ("user", "assistant")][-2 * self.settings.history_turns:]
        try:
            prompt = load_prompt("condense", history=turns, question=question)
            text = self._chat([{"role": "user", "content": prompt}]).strip().splitlines()
        except LLM_ERRORS:  # the endpoint failed: the rule-based rewrite still works
            return rule
        out = text[0].strip() if text else ""
        if 2 <= len(out) <= self.settings.max_question_chars:
            return dataclasses.replace(rule, standalone=out)
        return rule

    def _stream(self, query: Query) -> Iterator[str | Answer]:
        if query.refused or not query.hits:  # the same refusal rule as the extractive answerer
            yield self.refusal(query)
            return
        messages = build_messages(query.standalone, list(query.hits), self.max_sources)
        parts: list[str] = []
        start = time.monotonic()
        try:
            for delta in self._chat_stream(messages):
                if time.monotonic() - start > self.timeout:
                    raise GenerationError(f"超过 {self.timeout:g} 秒未完成")
                if delta:
                    parts.append(delta)
                    yield delta
        except LLM_ERRORS as exc:  # down, slow, HTTP error, malformed chunk: all fall back
            yield self._fallback(query, _reason(exc))
            return
        text = "".join(parts).strip()
        if not text:
            yield self._fallback(query, "模型返回内容为空")
            return
        yield self.finish(query, text)

    def _fallback(self, query: Query, reason: str) -> Answer:
        return self.extractive.compose(query, notice=FALLBACK_NOTICE.format(reason=reason))

    def finish(self, query: Query, text: str) -> Answer:
        """Validate markers, attach missing ones, build citations and the sources list."""
        if text.startswith(REFUSAL) or text.strip("。 \n") == REFUSAL.strip("。"):
            return self.refusal(query, name=self.name)
        sent_hits = list(query.hits[:self.max_sources])
        text, removed, used = validate_markers(text, range(1, len(sent_hits) + 1))
        if not used:
            sim = overlap_similarity(tokenize)
            text = attach_markers(text, [h.text for h in sent_hits], sim, min_sim=0.2)
            text, _, used = validate_markers(text, range(1, len(sent_hits) + 1))
        citations = [self._cite(n, sent_hits[n - 1], text) for n in used]
        body = text.rstrip()
        if citations:
            body += "\n\n来源：\n" + "\n".join(f"[{c.n}] 「{c.label}」" for c in citations)
        notice = _join(query.notice, REMOVED_NOTICE.format(n=removed) if removed else None)
        first = next((line.strip() for line in text.splitlines() if line.strip()), None)
        return Answer(query.question, query.standalone, body, False, self.name,
                      tuple(citations), query.hits, notice, removed, query.support,
                      query.timings, direct=first)

    def _cite(self, n: int, hit, text: str) -> Citation:
        """Citation of source n: its sentence most similar to what the answer says with [n]."""
        claims = " ".join(text[a:b] for a, b in answer_sentences(text) if f"[{n}]" in text[a:b])
        claims = MARKER.sub("", claims) or text
        sim = overlap_similarity(tokenize)
        units = self.scorer.sentences.get(hit.key) or [hit.chunk]
        best = max(units, key=lambda u: sim(claims, u.text))
        return cite(n, self.retriever.index.section(*hit.key), best)


def _reason(exc: Exception) -> str:
    name = type(exc).__name__
    if "Timeout" in name or "timed out" in str(exc).lower():
        return f"请求超时（{name}）"
    if "Connection" in name or "connect" in str(exc).lower():
        return f"无法连接（{name}）"
    msg = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"{name}: {msg}" if msg else name


class OpenAICompatibleAnswerer(LLMAnswerer):
    """Any OpenAI-compatible chat endpoint through llama-index's OpenAILike."""

    name = "openai-compatible"

    def __init__(self, settings, retriever):
        super().__init__(settings, retriever)
        if not settings.llm_base_url or not settings.llm_model:
            raise ConfigError("openai-compatible 需要接口地址和模型名：请设置 RAG_LLM_BASE_URL 与 "
                              "RAG_LLM_MODEL（或 --llm-base-url / --llm-model）")
        from llama_index.llms.openai_like import OpenAILike

        self.llm = OpenAILike(model=settings.llm_model, api_base=settings.llm_base_url,
                              api_key=settings.llm_api_key or "not-needed", is_chat_model=True,
                              timeout=self.timeout, max_retries=0,
                              temperature=settings.llm_temperature, max_tokens=self.max_tokens,
                              context_window=settings.llm_context_window)

    @property
    def display_name(self) -> str:
        return self.settings.llm_model or self.name

    @staticmethod
    def _messages(messages):
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]

    def _chat_stream(self, messages):
        for chunk in self.llm.stream_chat(self._messages(messages), max_tokens=self.max_tokens):
            yield chunk.delta or ""

    def _chat(self, messages):
        return self.llm.chat(self._messages(messages)).message.content or ""


class LlamaCppAnswerer(LLMAnswerer):
    """A local GGUF model through llama-cpp-python (the ``llm`` extra)."""

    name = "llama-cpp"

    def __init__(self, settings, retriever):
        super().__init__(settings, retriever)
        try:
            import llama_cpp
        except ImportError:
            raise ConfigError("llama-cpp 需要 llama-cpp-python：请运行 pip install -e '.[llm]'") from None
        path = settings.llm_gguf
        if path is None or not Path(path).is_file():
            raise ConfigError(f"找不到 GGUF 模型文件 {path}：请设置 RAG_LLM_GGUF 为本地 .gguf 路径")
        self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=settings.llm_n_ctx, verbose=False)
        self.path = Path(path)

    @property
    def display_name(self) -> str:
        return self.path.stem

    def _chat_stream(self, messages):
        for chunk in self.llm.create_chat_completion(messages=messages, stream=True,
                                                     max_tokens=self.max_tokens,
                                                     temperature=self.settings.llm_temperature):
            yield chunk["choices"][0].get("delta", {}).get("content") or ""

