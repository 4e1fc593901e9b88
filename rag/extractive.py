"""The extractive answerer: a direct-answer line and verbatim quotes, no LLM needed.

From a prepared :class:`rag.answering.Query` it picks sentences (the best in-scope one, taken
from retrieval's top section unless another section's scores clearly higher, then near-best
ones from at most two sections; for a broad question the best of up to four sections; for a
"more" follow-up the focused sections' points not yet shown), quotes them with ``[n]``
(rag.citations.cite), and opens the answer with the direct-answer line (rag.direct; for a 多少
question that matches a row of 规划目标一览, that row's value). A multi-part question is
answered part by part. Nothing is invented: every piece of the line is asserted to stand in a
cited quote.

Not handled here: retrieval, scoring, the refusal rule (rag.answering.prepare, rag.refusal).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Iterator

from rag import refusal as refusal_rule
from rag.answering import Answer, Answerer, Query, _join
from rag.citations import Citation, cite
from rag.direct import (BROAD, MAX_POINT, OTHER, VALUE, DirectAnswer, Piece, fits_kind,
                        question_kind, states_count, verbatim)
from rag.evidence import Scored, is_announcement, is_heading, periods
from rag.target_match import match_targets, time_text, value_text
from rag.targets import targets_of

MORE_POINTS = 6  # points given for 具体有哪些措施 / 这一节还说了什么
BROAD_PARAGRAPH = 3  # sentences of the paragraph a broad answer's heading leads (judgement)
VALUE_SEARCH = 30  # scored sentences searched for a value about the topic (set by judgement)
# score lead another section's sentence needs over the top section's to be cited first;
# chosen by 5-fold CV on dev.jsonl (python -m rag.evaluation.lead_margin): fold choices
# 0.015-0.02, first cited section gold of the answered questions 0.848 out-of-fold vs 0.833 with
# no margin (in-sample 0.851); see ExtractiveAnswerer.lead
LEAD_MARGIN = 0.015
PART_ABSENT = "规划原文中未找到这一问的内容。"
MARKER_RE = re.compile(r"\[(\d+)\]")


class ExtractiveAnswerer(Answerer):
    """Quotes the best sentences of the retrieved sections; invents nothing."""

    name = "extractive"
    _targets = None  # the plan's target rows, loaded on first use

    @property
    def display_name(self) -> str:
        return "抽取式"

    def _stream(self, query: Query) -> Iterator[str | Answer]:
        answer = self.compose_parts(query) if query.parts else self.compose(query)
        yield answer.text
        yield answer

    def compose_parts(self, query: Query) -> Answer:
        """A multi-part question: each part (prepared by Answerer.prepare) answered on its
        own, with its own citations; a part the plan does not state is said to be absent for
        that part alone."""
        answers = [(part.question.rstrip("？?。"), self.compose(part)) for part in query.parts]
        if query.refused:
            return self.refusal(query)
        citations: list[Citation] = []
        directs, quotes = [], []
        by_source: dict = {}  # (section, span) -> number: a source two parts quote is listed once
        for i, (part, a) in enumerate(answers, start=1):
            if a.refused:
                directs.append(f"（{i}）{part}：{PART_ABSENT}")
                continue
            number = {}
            for c in a.citations:
                source = (c.key, c.span)
                if source not in by_source:
                    by_source[source] = len(citations) + 1
                    citations.append(replace(c, n=by_source[source]))
                    quotes.append(_with_marker(c.quote, by_source[source]))
                number[c.n] = by_source[source]
            line = MARKER_RE.sub(lambda m: f"[{number.get(int(m.group(1)), m.group(1))}]",
                                 a.direct or "")
            directs.append(f"（{i}）{part}：{line}")
        lines = directs + ["", "根据规划原文："] + quotes + ["", "来源："]
        lines += [f"[{c.n}] 「{c.label}」" for c in citations]
        return Answer(query.question, query.standalone, "\n".join(lines), False, self.name,
                      tuple(citations), query.hits, query.notice, 0, query.support,
                      query.timings, direct="\n".join(directs))

    @staticmethod
    def candidates(query: Query) -> list[Scored]:
        """The scored sentences minus announcing ones (…要努力实现以下主要目标:), which say
        nothing on their own: the sentences they introduce compete on their own scores."""
        return [x for x in query.scored
                if not is_announcement(x.unit.text) and not is_heading(x.unit)]

    def select(self, query: Query, kind: str = OTHER) -> list[Scored]:
        """1–4 sentences: the best one, plus near-best ones from at most two sections (a
        broad question: the best sentence of each of up to four close sections)."""
        scored = self.candidates(query)
        if not scored:
            return []
        s = self.settings
        # the best in-scope sentence is cited first; the in-scope sentence within a small margin
        # that names the question's topic words best (if another) joins as the second, and the
        # direct-answer line is cut from it (on dev, letting it lead cost first-cited accuracy)
        typed = [x for x in scored[:s.scope_top] if x.in_scope]
        best = self.lead(query, scored, typed[0] if typed else scored[0])
        topic = refusal_rule.topic_words(query.standalone)
        close = [x for x in typed if x.score >= best.score - s.answer_topic_margin]
        topical = max(close, key=lambda x: (states_count(query.standalone, x.unit.text),
                                            self._cover(topic, x), fits_kind(kind, x.unit.text),
                                            x.score), default=best)
        asked = periods(query.standalone)
        if asked and topic:  # a time frame asked: the content framed by it may lie further down
            framed = [x for x in scored if self.scorer.inherits_frame(x.unit, asked)]
            cand = max(framed, key=lambda x: (self._cover(topic, x), x.score), default=None)
            if cand is not None and self._cover(topic, cand) >= max(self._cover(topic, topical), 0.25) \
                    and self.in_scope(query.standalone, cand):
                topical = cand
                if kind == BROAD:  # the framed content leads the points
                    rest = [x for x in self._broad(scored, best, topic) if x is not cand]
                    return [cand] + rest[:s.answer_broad_sections - 1]
        if kind == BROAD:
            return self._broad(scored, best, topic)
        picked = [best]
        if topical is not best and self._fit(query.standalone, kind, topic, topical) \
                > self._fit(query.standalone, kind, topic, best):
            picked.append(topical)
        if kind == VALUE and topic and not any(self.states_value(query.standalone, topic, x)
                                               for x in picked):
            # no picked sentence states a value about the topic: the best-scored in-scope one
            # that does joins (「原煤产量稳定在10亿吨左右」 for 山西一年挖多少煤)
            valued = next((x for x in scored[:VALUE_SEARCH]
                           if self.in_scope(query.standalone, x)
                           and self.states_value(query.standalone, topic, x)), None)
            if valued is not None:
                picked.append(valued)
        sections = list(dict.fromkeys(x.hit.key for x in picked))
        seen = {" ".join(x.unit.text.split()) for x in picked}  # the notice header repeats lines
        for x in scored:
            if len(picked) >= s.answer_max_sentences:
                break
            if x in picked or x.score < best.score - s.answer_near_best:
                continue
            text = " ".join(x.unit.text.split())
            if text in seen:
                continue
            seen.add(text)
            if x.hit.key not in sections:
                if len(sections) >= s.answer_max_sections \
                        or x.score < best.score - s.answer_near_best_other:
                    continue
                sections.append(x.hit.key)
            picked.append(x)
        return picked

    def in_scope(self, question: str, x: Scored) -> bool:
        """Whether a sentence can answer: the asked value type, time frame and years."""
        return x.in_scope or self.scorer.in_scope(question, x.unit, x.hit)

    def states_value(self, question: str, topic: list[str], x: Scored,
                     cut: str | None = None) -> bool:
        """Whether a sentence has a clause holding the asked value that names the topic (a
        short sentence read with the one before it); ``cut``: its value clause, if known."""
        if cut is None:
            cut = DirectAnswer(self.scorer.idf).cut(question, VALUE, x.unit.text)
        if not cut:
            return False
        text = self.scorer.with_context(x.unit) if cut == x.unit.text.strip() else cut
        return self.scorer.text_coverage(topic, text) > 0

    def lead(self, query: Query, scored: list[Scored], best: Scored) -> Scored:
        """The sentence cited first: the best in-scope one of retrieval's top section, unless
        the best sentence of another section scores LEAD_MARGIN or more above it (sentence
        scores alone moved the first citation off a gold top section as often as onto one)."""
        if not query.hits or best.hit.key == query.hits[0].key:
            return best
        top = query.hits[0].key
        for x in scored:
            if best.score - x.score >= LEAD_MARGIN:
                break
            if x.hit.key == top and self.in_scope(query.standalone, x):
                return x
        return best

    def more_points(self, query: Query) -> list[Scored]:
        """A "more" follow-up (具体有哪些措施/这一节还说了什么): the focused sections' points
        that the previous answer did not quote, in the order they stand, up to MORE_POINTS.
        A section written as headed paragraphs (「创优环境引才。…」) gives one point per
        paragraph: its heading with the sentence after it; otherwise its statements."""
        shown = "".join(MARKER_RE.sub("", query.shown).split())
        by_id = {x.unit.id: x for x in query.scored}

        def fresh(u) -> bool:
            return "".join(u.text.split()).rstrip("。；;！？") not in shown

        sections = []
        for hit in query.hits:
            units = self.scorer.sentences.get(hit.key, [])
            leads = [u for u in units if self.scorer.is_lead(u)]
            if len(leads) >= 2:
                # a paragraph's point: its heading with its first sentence the last answer did
                # not quote (the heading with the quoted sentence repeated what was shown)
                # (具体…: the paragraph the last answer quoted goes on first, a point per sentence)
                points = []
                for u in sorted(leads, key=lambda u: not (query.deep and self._quoted(u, fresh))):
                    rest = [v for v in self.scorer.paragraph(u)[1:] if fresh(v)]
                    if query.deep and self._quoted(u, fresh):
                        points += [[v] for v in rest]
                    elif fresh(u):
                        points.append([u] + rest[:1])
            else:
                points = [[u] for u in units if fresh(u) and not is_announcement(u.text)
                          and not is_heading(u)
                          and len(u.text.strip()) > 8]
            sections.append([[by_id.get(u.id) or Scored(u, hit, 0.0, 0.0, 0.0) for u in point]
                             for point in points])
        limit = max(MORE_POINTS, len(sections)) if query.by_section else MORE_POINTS
        per = max(1, limit // max(1, len(sections)))
        points = [point for section in sections for point in section[:per]][:limit]
        return [x for point in points for x in point]

    def _quoted(self, lead, fresh) -> bool:
        """Whether the last answer quoted a sentence of the paragraph this heading leads."""
        return not all(map(fresh, self.scorer.paragraph(lead)))

    def _with_content(self, picked: list[Scored], kind: str = OTHER) -> list[Scored]:
        """A picked paragraph heading (「创优环境引才。」) says little alone: the sentence
        under it joins it. A broad question answered from one section and led by a heading
        (规划对数字乡村建设是怎么说的 → 「开展数字乡村建设。」) is about that paragraph: up to
        BROAD_PARAGRAPH of its sentences join."""
        out, ids = [], {x.unit.id for x in picked}
        one_section = len({x.hit.key for x in picked}) == 1
        for i, x in enumerate(picked):
            out.append(x)
            if self.scorer.is_lead(x.unit):
                n = BROAD_PARAGRAPH if kind == BROAD and i == 0 and one_section else 1
                for content in self.scorer.paragraph(x.unit)[1:1 + n]:
                    if content.id not in ids:
                        out.append(Scored(content, x.hit, 0.0, 0.0, 0.0))
                        ids.add(content.id)
        return out

    def _fit(self, question: str, kind: str, topic: list[str], x: Scored) -> tuple:
        """How well a sentence answers: states the asked count (哪两大 → 两大…), names the topic,
        has the answer's shape."""
        return (states_count(question, x.unit.text), self._cover(topic, x),
                fits_kind(kind, x.unit.text))

    def _cover(self, topic: list[str], x: Scored) -> float:
        """Share of the topic words a sentence names, in quarters (small differences are noise)."""
        text = self.scorer.with_context(x.unit)
        return round(self.scorer.text_coverage(topic, text) * 4) / 4 if topic else 0.0

    def _broad(self, scored: list[Scored], best: Scored, topic: list[str] = ()) -> list[Scored]:
        """The best sentence of each section scoring close to the best one, up to four points;
        points left over go to the best section's other close sentences that name the topic
        (住房: its 租赁住房 and 保障性住房 sentences before another chapter's 住房消费)."""
        s = self.settings
        picked, sections = [best], {best.hit.key}
        for x in scored:
            if len(sections) >= s.answer_broad_sections:
                break
            if x.hit.key in sections or x.score < best.score - s.answer_broad_margin:
                continue
            sections.add(x.hit.key)
            picked.append(x)
        own = [x for x in scored if x.hit.key == best.hit.key and x not in picked
               and x.score >= best.score - s.answer_broad_margin and topic
               and self._cover(topic, x) >= 0.5]
        return picked[:1] + own[:max(0, s.answer_broad_sections - len(picked))] + picked[1:]

    def compose(self, query: Query, notice: str | None = None) -> Answer:
        """The extractive answer (or refusal) for a prepared query: the direct-answer line,
        then the quoted sentences with [n], then the numbered sources."""
        if query.refused:
            return self.refusal(query, notice)
        kind = BROAD if query.more else question_kind(query.standalone)
        picked = self.more_points(query) if query.more else self._with_content(
            self.select(query, kind), kind)
        if not picked:
            return self.refusal(query, notice)
        order = []  # section keys in order of first pick (the best section first)
        for x in picked:
            if x.hit.key not in order:
                order.append(x.hit.key)
        citations: list[Citation] = []
        number: dict[str, int] = {}  # sentence id -> the citation that quotes it
        quotes = []
        for key in order:
            section = self.retriever.index.section(*key)
            units = sorted((x.unit for x in picked if x.hit.key == key), key=lambda u: u.ordinal)
            runs: list[list] = []  # adjacent sentences are quoted together as one source
            for u in units:
                if runs and u.ordinal == runs[-1][-1].ordinal + 1:
                    runs[-1].append(u)
                else:
                    runs.append([u])
            for run in runs:
                citations.append(cite(len(citations) + 1, section, run[0], run[-1]))
                number.update({u.id: citations[-1].n for u in run})
                quotes.append(_with_marker(citations[-1].quote, citations[-1].n))
        direct = None
        if kind == VALUE:  # a row of 规划目标一览 that the question asks about gives the value
            direct = self.target_line(query, citations, quotes)
        direct = direct or self.direct_line(query.standalone, kind, picked, number, citations)
        if direct and query.by_section:  # a chapter summary: each point under its section
            label = {c.n: c.label for c in citations}
            direct = re.sub(r"^(\d+\. )(.*?\[(\d+)\])", lambda m: f"{m.group(1)}{label[int(m.group(3))]}："
                            f"{m.group(2)}", direct, flags=re.M)
        lines = ([direct, ""] if direct else []) + ["根据规划原文："] + quotes
        lines.append("")
        lines.append("来源：")
        lines += [f"[{c.n}] 「{c.label}」" for c in citations]
        return Answer(query.question, query.standalone, "\n".join(lines), False, self.name,
                      tuple(citations), query.hits, _join(query.notice, notice), 0,
                      query.support, query.timings, direct=direct)

    def target_line(self, query: Query, citations: list[Citation], quotes: list[str]) -> str | None:
        """The direct answer from the plan's target rows (rag.targets) matching a 多少/目标
        question: each row's 指标, value, unit and time frame, cited to its sentence. Only rows
        from a retrieved section and of the asked time frame count; a row's sentence not yet
        quoted is added as a source."""
        if self._targets is None:
            self._targets = targets_of(self.retriever.index)
        retrieved = {h.key for h in query.hits}
        rows = [t for t in match_targets(self._targets, query.standalone, limit=4)
                if t.ref.key in retrieved]
        asked = periods(query.standalone)
        rows = [t for t in rows if not asked or not periods(t.时间) or asked & periods(t.时间)]
        # the same row stated in two sections (a target in 主要目标 and in its chapter) is given once
        rows = [t for i, t in enumerate(rows) if (t.指标, value_text(t), time_text(t)) not in
                {(u.指标, value_text(u), time_text(u)) for u in rows[:i]}][:2]
        if not rows:
            return None
        parts = []
        for t in rows:
            c = next((c for c in citations if c.key == t.ref.key and c.span[0] <= t.span[0]
                      and t.span[1] <= c.span[1]), None)
            if c is None:
                section = self.retriever.index.section(*t.ref.key)
                quote, span = section.slice(*t.span).strip(), t.span
                c = Citation(len(citations) + 1, section.ref, quote, span)
                citations.append(c)
                quotes.append(_with_marker(c.quote, c.n))
            assert t.指标 in c.quote and t.数值 in c.quote, (t, c.quote)
            parts.append(f"{t.指标}：{value_text(t)}（{time_text(t)}）[{c.n}]")
        return "；".join(parts) + "。"

    def direct_line(self, question: str, kind: str, picked: list[Scored],
                    number: dict[str, int], citations: list[Citation]) -> str | None:
        """The direct-answer line (rag.direct), each piece checked to be verbatim plan text."""
        maker = DirectAnswer(self.scorer.idf)
        if kind == BROAD:  # one point per picked statement; a heading's point carries its content
            pieces, joined = [], set()
            ids = {x.unit.id for x in picked}
            for x in picked:
                if x.unit.id in joined:
                    continue
                lead = self.scorer.lead_of(x.unit)
                if lead is not None and lead.id != x.unit.id and lead.id in ids \
                        and lead.id not in joined:  # its heading, picked later, labels it here
                    x = next(y for y in picked if y.unit.id == lead.id)
                text = maker.cut(question, OTHER, x.unit.text)
                n = number[x.unit.id]
                joined.add(x.unit.id)
                if self.scorer.is_lead(x.unit):  # the heading labels its first picked sentence
                    content = next((y.unit for y in picked if y.unit.id not in joined
                                    and getattr(self.scorer.lead_of(y.unit), "id", None) == x.unit.id),
                                   None)
                    more = maker.cut(question, OTHER, content.text) if content else ""
                    if more:
                        text = f"{text.rstrip('。；;')}：{more}"
                        joined.add(content.id)
                        n = number[content.id]  # the content's source (the heading's, if quoted with it)
                pieces.append(Piece(_short(text), n))
        else:
            pieces = []
            topic = refusal_rule.topic_words(question)
            lead = max(picked[:2], key=lambda x: self._fit(question, kind, topic, x))  # the topical one
            for x in [lead] + [y for y in picked if y is not lead]:
                if kind == VALUE and not self.in_scope(question, x):
                    continue  # a value of another time frame (a 十三五 result for a target) is no answer
                text = maker.cut(question, kind, x.unit.text)
                if text and self.scorer.is_lead(x.unit) and kind != VALUE:
                    # a paragraph heading: its content (the sentence under it) answers
                    content = self.scorer.paragraph(x.unit)[1]
                    more = maker.cut(question, kind, content.text)
                    if more and number.get(content.id) == number[x.unit.id]:
                        text = f"{text.rstrip('。；;')}：{more}"
                # a value that names none of the topic (「3条特高压通道」 for 挖多少煤) is no
                # answer: a later sentence's value that does (「原煤产量稳定在10亿吨左右」) is
                if text and (kind != VALUE or not topic or self.states_value(question, topic, x, text)):
                    pieces = [Piece(text, number[x.unit.id])]
                    break
            if not pieces:  # no sentence holds the asked value: the best one says what there is
                x = picked[0]
                pieces = [Piece(maker.cut(question, OTHER, x.unit.text), number[x.unit.id])]
        quotes = {c.n: c.quote for c in citations}
        everything = "".join(quotes.values())  # a broad point's heading may stand in another quote
        for p in pieces:
            source = everything if kind == BROAD else quotes[p.n]
            assert verbatim(p.text, source), (p.text, source)
        return maker.line(question, pieces)


def _short(text: str) -> str:
    """A broad point cut at the last clause end within MAX_POINT characters."""
    if len(text) <= MAX_POINT:
        return text
    cut = max(text.rfind(ch, 0, MAX_POINT) for ch in "，,；;")
    return text[:cut] if cut > 10 else text[:MAX_POINT]


def _with_marker(quote: str, n: int) -> str:
    """A quoted sentence with its marker before the closing punctuation."""
    flat = " ".join(quote.split())
    m = re.search(r"[。！？；!?;]+$", flat)
    return (flat[:m.start()] + f"[{n}]" + flat[m.start():]) if m else f"{flat}[{n}]"
