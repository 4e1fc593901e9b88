"""Rule-based rewriting of follow-up questions into standalone ones (no LLM needed).

A question is a follow-up when history holds an earlier user question and the new one is
elliptical: it starts with 那/还有/具体/这… or refers to 这一节/这一章, and names at most a
couple of topic words of its own. Then:

- 那2035年呢？ → the earlier question in the new time frame (its year or 十四五/十四五末, or a
  run of frames, replaced, or the frame put in front when it named none); a past year
  (那2020年呢) asks for the record, without the earlier question's 到/目标/要;
- 那X呢？ naming a topic of its own → the earlier question asked of X: its time frame, X, its
  asking part (那中高级以上持证技能人才呢 → 到“十四五”末中高级以上持证技能人才达到多少？);
- 具体有哪些措施？/ 还有哪些？/ 这一节还说了什么？ → "more": the sections cited in the last
  answer (这一节: the first one) are the focus, and what that answer already quoted is
  passed on so that only the sections' other points are given (具体…: the quoted
  paragraph's other sentences first); 这一章还讲了什么 → every section of the cited chapter;
- 它/这个/该… → the pronoun replaced by the earlier question's topic, and the sections the
  last answer cited ranked first;
- otherwise the earlier question's topic terms are put in front: 关于汾河治理：具体有哪些措施？
A question with no earlier turn is always standalone.

With an LLM configured, answering.py uses the condense prompt instead and falls back here.

Not handled here: retrieval; the LLM rewrite itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.corpus import cn_to_int
from rag.evidence import PLAN_YEARS
from rag.refusal import topic_words
from rag.wordseg import token_spans, tokenize

_ELLIPTICAL = re.compile(r"^(那么?|那个|还有|另外|其中|具体|这|该|此|上述|它|其|再|又|同时|以及|和|与)")
_SECTION_REF = re.compile(r"这一?节|本节|该节|这一?部分|这部分|上面|上述|刚才")
_CHAPTER_REF = re.compile(r"这一?章|本章|该章")
_YEAR = re.compile(r"(?:19|20)\d\d年?")
# a time frame: a year (到2035年, 2020年底) or a plan period (“十四五”时期, 十四五末)
_FRAME = re.compile(r"(?:到|至)?(?:(?:19|20)\d\d年?(?:底|末)?|“?十[一二三四五六七八九]五”?(?:时期|期间|末)?)")
_MORE = re.compile(r"具体(有|是|包括)?(哪些|什么|啥)?(措施|举措|做法|内容|安排|部署|任务|要求)|"
                   r"还有(哪些|什么|啥|别的|其他)|还(说|讲|提|写)了?(什么|哪些|啥)|其他(内容|方面|措施)|"
                   r"详细(说说|讲讲|介绍)|展开(说|讲)|(有哪些|什么)(措施|举措)|"
                   r"具体(要)?(怎么|如何|怎样)(做|办|干|推进|落实|实施|搞)|"
                   r"^(那么?)?(还有|然后|其他的?|别的)(呢|吗|没有)?[？?。！!]*$")
# words that make a question ask for a target; dropped when it is asked of a past year
_TARGET_WORDS = re.compile(r"目标|(?:要|将|力争)(?=达到|实现|建成|突破|增长|提高|降低|控制|稳定)|(?:要|将)$")


def _is_past(frame: str) -> bool:
    """Whether a time frame lies before the plan period: a year up to 2020, or 十三五 and earlier."""
    year = re.search(r"(?:19|20)\d\d", frame)
    if year:
        return int(year.group(0)) < min(PLAN_YEARS)
    return bool(re.search(r"十[一二三]五", frame))


_DEEP = re.compile(r"具体|详细|展开")
_QUOTED = re.compile(r"“[^”]+”")  # a named term (“五个一批”) is a topic whatever its words
WHOLE_CHAPTER = -1  # Rewrite.more's section number for "every section of the chapter"
_ASKING = re.compile(r"多少|几|哪|什么|何时|如何|怎么|怎样|啥")
_PRONOUN = re.compile(r"^(那么?)?(它们|它|这个|这项|这些|该项|该|其|此)")
# a source label in an earlier answer: 「第十三章 第五节 …」 as this assistant writes it, or bare
# (来源：第十三章 第五节 …) as a pasted or hand-written history may
_N = "[零〇一二两三四五六七八九十百]+"
_LABEL = re.compile(rf"「(第({_N})章(?:\s*第({_N})节)?[^」]*)」|"
                    rf"(?:(?m:^)|来源[:：]|[；;])\s*(?:\[\d+\]\s*)?(第({_N})章(?:\s*第({_N})节)?[^」\n；;，,。]*)")
# a question about a named chapter or section as a whole (第十章的主要内容 / 概括第三章)
_NAMED = re.compile(rf"第({_N})章(?:\s*第({_N})节)?")
# what asks for a chapter's or section's content as a whole (这一章还讲了什么 / 概括第十章)
_SUMMARY = re.compile(r"主要内容|(说|讲|提|写|包括|包含)了?(什么|哪些|啥|哪几)|(哪些|什么)(内容|方面)|"
                      r"概括|总结|概述|梗概|要点")
_FRAMING = re.compile(r"请|帮我|简要|简单|一下|用?[一二三四五六七八九十两几\d]+(句|段|点|条)话?")
# the question points back at what the assistant said (你说的那七大工程 / 刚才提到的…)
_BACKREF = re.compile(r"你(?:刚才|刚刚|前面|上面)?(?:说|讲|提)(?:的|到的|过的)|"
                      r"(?:刚才|刚刚|前面)(?:说|讲|提)(?:的|到的|过的)")
_QUESTION_WORDS = frozenset("哪些 什么 多少 怎么 怎样 如何 要求 措施 举措 方面 哪些方面 其他 别的 做法 内容 目标 达到 提到 "
                            "还有 具体 呢 哪里 哪儿 哪个 哪家 谁 何时 什么样".split())
# a run of time frames (“十五五”“十六五” / 2025年和2035年): swapped as one
FRAMES = re.compile(rf"{_FRAME.pattern}(?:[、和与及]?{_FRAME.pattern})*")
# 那养老呢？ / 中高级以上持证技能人才呢？: the same question asked of another topic
_SWAP = re.compile(r"^(?:那么?|那个|还有|另外)?(?P<topic>[^，,。？?！!呢]+?)呢[？?。！!]*$")
# where the earlier question's asking part begins, after its topic (要达到多少 / 是怎么说的)
# (the old topic's own verbs, 增长/提高…, are not carried over: 失业率 does not 增长)
_ASK_START = frozenset("是 要 将 有 会 能 应 应该 需要 如何 怎么 怎样 什么 多少 哪些 几 达到 提出 计划 "
                       "打算 准备 建 建设 建成 占 指 是指".split())


@dataclass(frozen=True)
class Rewrite:
    """A follow-up rewritten: the standalone question and what it inherits."""

    standalone: str
    chapter: int | None = None  # chapter filter inherited from 这一章/这一节
    section: tuple[int, int] | None = None  # (chapter, section) to focus on, from 这一节
    rewritten: bool = False
    # "more" follow-up: sections whose other points to give; (chapter, WHOLE_CHAPTER) stands
    # for every section of the chapter (这一章还讲了什么)
    more: tuple[tuple[int, int], ...] = ()
    prefer: tuple[tuple[int, int], ...] = ()  # sections of the last answer, ranked first (它…)
    shown: str = ""  # the last answer's text (what was already quoted), for a "more" follow-up
    deep: bool = False  # 具体…: the quoted paragraph's other sentences first (not 还有/其他)


def _user_turns(history) -> list[str]:
    return [t.get("content", "") for t in history or []
            if isinstance(t, dict) and t.get("role") == "user" and isinstance(t.get("content"), str)]


def _last_answer(history) -> str:
    for turn in reversed(history or []):
        if isinstance(turn, dict) and turn.get("role") == "assistant":
            return str(turn.get("content", ""))
    return ""


def _cited(history) -> list[tuple[int, int, str]]:
    """(chapter, section, label) of every source listed in the last assistant answer, in order."""
    out = []
    for m in _LABEL.finditer(_last_answer(history)):
        label, ch, sec = m.group(1, 2, 3) if m.group(1) else m.group(4, 5, 6)
        try:
            key = (cn_to_int(ch), cn_to_int(sec) if sec else 0, label.strip())
        except ValueError:
            continue
        if key[:2] not in [k[:2] for k in out]:
            out.append(key)
    return out


def _last_cited(history) -> tuple[int, int, str] | None:
    """(chapter, section, label) of the first source listed in the last assistant answer."""
    cited = _cited(history)
    return cited[0] if cited else None


def topic_terms(question: str) -> list[str]:
    """Topic words of a question: tokens minus question words, longest forms only."""
    toks = [t for t in dict.fromkeys(tokenize(question))
            if len(t) >= 2 and t not in _QUESTION_WORDS and not _YEAR.fullmatch(t)
            and not t.isdigit()]
    return [t for t in toks if not any(t != o and t in o for o in toks)]


def is_followup(question: str, history) -> bool:
    """Whether ``question`` leans on an earlier turn (and there is one)."""
    if not _user_turns(history):
        return False
    q = question.strip()
    if _SECTION_REF.search(q) or _CHAPTER_REF.search(q) or _BACKREF.search(q):
        return True
    own = topic_terms(q)
    if _PRONOUN.match(q):
        return True  # 它要归集哪些方面的信息？ names the earlier topic by a pronoun
    if _MORE.search(q) and len(topic_terms(_MORE.sub("", q))) <= 1:
        return True  # 有哪些具体举措？/ 还有其他哪些方面的举措？ name no topic of their own
    if _SWAP.match(q) and not _ASKING.search(q):
        return True  # 那中高级以上持证技能人才呢？ asks the earlier question of another topic
    if _FRAME.search(q) and _frame_only(_FRAME.sub("", q)):
        return True  # 2035年有没有目标？ names a time frame, no topic and no asking word
    # 那“十四五”年均增长目标是多少？ starts elliptically and names no topic of its own
    return (bool(_ELLIPTICAL.match(q)) and (len(own) <= 2 or not topic_words(q))) or len(q) <= 6


def _frame_only(rest: str) -> bool:
    """Whether what a question says besides its time frame names no topic and asks nothing
    of its own (这个比重呢 / 有没有目标, not 要达到什么水平): it asks the earlier question anew."""
    return not topic_words(rest) and not _ASKING.search(rest)


def summary_request(question: str) -> Rewrite | None:
    """A question about a named chapter (section) as a whole (请概括第十章的主要内容 / 第三章
    第二节讲了什么): a point from each of its sections (from the section), by section."""
    m = _NAMED.search(question)
    rest = _FRAMING.sub("", _NAMED.sub("", _SUMMARY.sub("", question)))
    if not m or not _SUMMARY.search(question) or topic_words(rest):
        return None
    try:
        chapter = cn_to_int(m.group(1))
        section = cn_to_int(m.group(2)) if m.group(2) else WHOLE_CHAPTER
    except ValueError:
        return None
    return Rewrite(question.strip(), chapter=chapter, more=((chapter, section),))


def rewrite_followup(question: str, history) -> Rewrite:
    """Standalone form of a follow-up question by rule; unchanged if it is not one."""
    q = question.strip()
    named = summary_request(q)
    if named is not None:
        return named
    if not is_followup(q, history):
        return Rewrite(q)
    turns = _user_turns(history)
    # the earlier question may itself have been a follow-up: rewrite it first
    prev = rewrite_followup(turns[-1], _history_before_last_user(history)).standalone
    cited = _last_cited(history)
    topic = "".join(topic_terms(prev)[:4])
    if _CHAPTER_REF.search(q) and (_MORE.search(q) or _SUMMARY.search(q)) and cited is not None:
        # 这一章还讲了哪些内容: every section of the cited chapter, a point from each
        body = _CHAPTER_REF.sub("", q).lstrip("还又那")
        return Rewrite(f"第{cited[2].split('章')[0][1:]}章：{body}", chapter=cited[0],
                       rewritten=True, more=((cited[0], WHOLE_CHAPTER),),
                       shown=_last_answer(history))
    if _MORE.search(q) and cited is not None:
        sections = (cited[:2],) if _SECTION_REF.search(q) else tuple(c[:2] for c in _cited(history))
        # the standalone names the section the points come from (the earlier question's topic
        # terms strung together read 「优做哪三大旅游品牌：有呢」)
        label = cited[2]
        body = _SECTION_REF.sub("", q).lstrip("那") or q
        return Rewrite(f"{label}：{body}", chapter=cited[0] if len(sections) == 1 else None,
                       rewritten=True, more=sections, shown=_last_answer(history),
                       deep=bool(_DEEP.search(q)))
    if _BACKREF.search(q) and cited is not None:  # what the last answer said: its sections first
        body = re.sub(r"^(?:那|这)(?:个|些)?", "", _BACKREF.sub("", q, count=1))
        if not topic_words(body) and topic:  # 刚才提到的有哪些: the earlier topic
            body = f"关于{topic}：{body}"
        return Rewrite(body, rewritten=True, prefer=tuple(c[:2] for c in _cited(history)))
    if _SECTION_REF.search(q) and cited is not None:
        body = _SECTION_REF.sub("", q).lstrip("还又")
        return Rewrite(f"{cited[2]}{body}", chapter=cited[0], section=cited[:2], rewritten=True)
    if _CHAPTER_REF.search(q) and cited is not None:
        body = _CHAPTER_REF.sub("", q)
        return Rewrite(f"第{cited[2].split('章')[0][1:]}章中关于{topic}{body}", chapter=cited[0],
                       rewritten=True)
    new_frame = _FRAME.search(q)
    rest = re.sub(r"^(那么?|那个|还有|另外)", "", _FRAME.sub("", q))
    # a time swap: the rest names at most one term, or only frame words (这个比重呢 / 有没有目标),
    # or no topic noun (年均增长目标是多少)
    if new_frame and (len(topic_terms(rest)) <= 1 or _frame_only(rest) or not topic_words(rest)):
        frame = new_frame.group(0)
        if frame[0].isdigit() and not frame.endswith(("年", "底", "末")):
            frame += "年"
        old = FRAMES.search(prev)
        if _is_past(frame):  # 那2020年呢 after a target: a record, asked without 到/目标/要达到
            frame = frame.lstrip("到至")
            asked = _TARGET_WORDS.sub("", FRAMES.sub(frame, prev, count=1) if old else f"{frame}{prev}")
            return Rewrite(asked, rewritten=True)
        if old and old.group(0)[0] in "到至" and frame[0] not in "到至":
            frame = old.group(0)[0] + frame  # 到2025年 → 到2035年
        return Rewrite(FRAMES.sub(frame, prev, count=1) if old else f"{frame}{prev}",
                       rewritten=True)
    swapped = _topic_swap(q, prev)
    if swapped:
        return Rewrite(swapped, rewritten=True)
    body = re.sub(r"^(那么?|还有|另外|那个)", "", q).strip()
    if _PRONOUN.match(body) and topic:
        return Rewrite(_PRONOUN.sub(topic, body, count=1), rewritten=True,
                       prefer=tuple(c[:2] for c in _cited(history)))
    return Rewrite(f"关于{topic}：{body}" if topic else f"{prev}；{body}", rewritten=True)


def _topic_swap(q: str, prev: str) -> str | None:
    """「那X呢？」 naming a topic of its own (and no pronoun, no asking word): the earlier
    question asked of X — its time frame, then X, then its asking part (到“十四五”末从业人员持证率
    要达到多少 + 那中高级以上持证技能人才呢 → 到“十四五”末中高级以上持证技能人才要达到多少？)."""
    m = _SWAP.match(q)
    if not m or _PRONOUN.match(m.group("topic")) or _ASKING.search(m.group("topic")) \
            or not (topic_words(m.group("topic")) or _QUOTED.search(m.group("topic"))):
        return None
    frame = FRAMES.match(prev.lstrip())
    rest = prev.lstrip()[frame.end():] if frame else prev
    topic, seen_topic = set(topic_words(rest)), False
    for a, b in token_spans(rest):
        if seen_topic and rest[a:b] in _ASK_START:
            return f"{frame.group(0) if frame else ''}{m.group('topic').strip()}{rest[a:]}"
        seen_topic = seen_topic or rest[a:b].lower() in topic
    return None


def _history_before_last_user(history) -> list:
    """History up to (not including) the last user turn."""
    hist = list(history or [])
    for i in range(len(hist) - 1, -1, -1):
        if isinstance(hist[i], dict) and hist[i].get("role") == "user":
            return hist[:i]
    return []
