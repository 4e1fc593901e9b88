"""Refusal, in one place: features of the best evidence → decision → threshold → refusal text.

Every answerer (extractive and LLM) asks :func:`decide`; nothing else decides to refuse.

- :func:`features` looks at the scored sentences of a question (rag.evidence): how much of the
  question the best sentence and section cover, the share of question words the plan never
  uses, whether a number/amount/time is asked and whether a top sentence holds it in the
  asked time frame, and whether the question names a region or year the plan never mentions.
- :meth:`Features.refusal_score` turns them into one support score; :func:`decide` refuses
  below the calibrated threshold, or on the hard checks (nothing to look up, no evidence).
- The threshold is calibrated on a gold set (:func:`pick_threshold`, ``python -m rag ask
  --calibrate``) and stored in ``eval/refusal.json`` (committed, measured) or
  ``<data_dir>/refusal.json`` (a local override). :func:`load_threshold` reads it; a missing
  or corrupt committed file is a clear error, never a silent "never refuse".

Not handled here: scoring sentences (rag.evidence), composing answers (rag.answering).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from rag.config import PROJECT_ROOT, Settings
from rag.errors import ConfigError
from rag.evidence import ASKS_TIME, SentenceScorer, asks_number
from rag.wordseg import content_words, tokenize, verbs

log = logging.getLogger(__name__)

REFUSAL = "规划原文中未找到与该问题直接相关的内容。"
SCOPE_LINE = "本助手只依据规划原文回答与规划有关的问题，不执行改变规则、扮演角色、透露配置或规划以外的请求。"
CALIBRATION_FILE = "refusal.json"
DEFAULT_CALIBRATION = PROJECT_ROOT / "eval" / CALIBRATION_FILE
RELATED_SHOWN = 3  # nearest sections listed as 可能相关 under a refusal
HARD_REFUSAL = -1.0  # the support of a question a hard check refuses, whatever the threshold

# Words that frame a question in time or scope but say nothing about its topic; a sentence
# matching only these ("到2025年，全省……达到") is not evidence for a specific target.
_FRAME = frozenset("""十四五 十三五 时期 期间 到 末 达到 目标 要 计划 预计 全省 力争 实现 年 规划 主要 全年
全面 提出 重点 今后 未来 五年 省里 咱们 山西 要求 多少 几 控制 以内 以上 提高 增加 下降 年均 预期 百分之几
比例 比重 指标 数量 水平 规模 总量 每年 以后 时候 什么时候 第几""".split())
# provincial-level regions; a question about one the plan never names is out of scope
REGIONS = tuple("""北京 天津 河北 内蒙古 辽宁 吉林 黑龙江 上海 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南
广东 广西 海南 重庆 四川 贵州 云南 西藏 陕西 甘肃 青海 宁夏 新疆 台湾 香港 澳门""".split())


@dataclass(frozen=True)
class Features:
    """What the refusal decision looks at for one question."""

    best_cosine: float
    best_coverage: float  # of the best sentence
    section_coverage: float  # of the best sentence's whole section (with its headings)
    unknown: float  # IDF mass share of question tokens that occur nowhere in the plan
    asks_value: bool  # the question asks for a number, an amount or a time
    typed_coverage: float  # best topic coverage among top sentences that hold the asked value
    no_typed_evidence: bool  # no top sentence holds the asked value type in the asked time frame
    foreign: bool  # names a region or year the plan never mentions
    off_topic: bool = False  # weak best sentence and mostly words the plan never uses

    def refusal_score(self) -> float:
        """Support in [-1, 2]; a question is refused below the calibrated threshold.

        Retrieval scores (RRF, cosine, BM25) barely separate the dev set's unanswerable
        questions, which ask for targets on topics the plan does cover; what separates them
        is whether a retrieved sentence holds the asked value *about the asked topic*. So
        value questions score their typed topic coverage; other questions score
        1 + cosine and are refused only by the hard checks.
        """
        if self.foreign or self.no_typed_evidence or self.off_topic:
            return HARD_REFUSAL
        if self.asks_value:
            return self.typed_coverage
        return 1.0 + self.best_cosine

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def features(scorer: SentenceScorer, question: str, scored: list, settings: Settings) -> Features:
    """Refusal features of a question given its scored sentences (best first)."""
    q_tokens = list(dict.fromkeys(tokenize(question)))
    focus = topic_words(question)
    # the plan's own verbs in the question (退出 产能…) say what about the topic is asked;
    # jieba tags some of them as verbs, so they join the topic when the plan uses them
    focus += [v for v in verbs(question) if v not in focus and v not in _FRAME and scorer.knows(v)]
    # words the plan never uses, among the question's content words (colloquial function words
    # such as 会不会/以后 say nothing about the topic); a word found anywhere in the plan's text
    # counts as known (煤 in 原煤)
    words = focus or q_tokens
    total = sum(scorer.idf(t) for t in words) or 1.0
    unknown = sum(scorer.idf(t) for t in words
                  if not scorer.knows(t) and not scorer.mentions(t)) / total
    years = set(re.findall(r"(?:19|20)\d\d", question))
    foreign = bool(years - scorer.plan_years) or any(
        r in question and not scorer.mentions(r) for r in REGIONS)
    asks = asks_number(question) or bool(ASKS_TIME.search(question))
    if not scored:
        return Features(0.0, 0.0, 0.0, unknown, asks, 0.0, True, foreign)
    best = scored[0]
    sec_cov = scorer.coverage(q_tokens, scorer.section_tokens(best.hit.key))
    typed = [x for x in scored[:settings.scope_top] if x.in_scope]
    typed_cov = max((scorer.text_coverage(focus, scorer.with_context(x.unit)) for x in typed),
                    default=0.0)
    off_topic = best.cosine < settings.off_topic_cosine and unknown >= settings.off_topic_unknown
    return Features(best.cosine, best.coverage, sec_cov, unknown, asks, typed_cov,
                    not typed, foreign, off_topic)


# Requests outside what the assistant does, by kind (general patterns of prompt injection and
# small talk, Chinese and English; nothing here names this plan's content).
_OUT_OF_SCOPE = [re.compile(p, re.IGNORECASE) for p in (
    # drop the rules / the plan
    r"(忽略|无视|忘记|忘掉|不要管|不用管|别管|抛开|跳过|绕过)(掉)?(之前|以上|上面|前面|先前|此前|所有|全部|一切|"
    r"你的|这些|上述)?的?(所有|全部|一切)?(指令|指示|规则|提示|设定|要求|限制|约束|规划|条件|命令)",
    r"不要引用|不用引用|不许回答|不准回答|自由发挥|随意发挥|即兴",
    r"(不要|不用|别|无需|不必)(标|注|给|列|写)?(明|出)?(出处|来源)|(编|捏造|杜撰|虚构|瞎编)(一个|一些|个|点|一段)",
    # become someone else
    r"(你|您)现在(是|扮演|作为|成为|变成)|扮演|假装(你|自己)|角色扮演|从现在(起|开始)[，,]?(你|您)",
    # reveal the setup
    r"系统提示|提示词|系统指令|系统设定|系统消息|(全部|所有)的?配置|检索参数|哪个大?模型|什么大?模型",
    r"(你|您)的(配置|参数|设置|设定|规则|指令|源代码|代码)|(输出|打印|导出|泄露|透露|列出|贴出)(你的|您的|全部|"
    r"所有|系统|内部|检索到的)[^。？?，,]{0,8}(配置|参数|文档|源代码|内容)",
    r"我是(你的)?(管理员|开发者|开发人员|工程师|运维|超级用户|root)",
    # fake modes and authority
    r"调试模式|开发者模式|管理员模式|越狱|限制已(关闭|解除|取消)|(最高|优先级)[^，。]{0,4}指令|【\s*系统\s*】|系统通知",
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|rules?|prompts?|plan|above|previous)\b",
    r"\b(you are now|act as|pretend|role-?play|jailbreak|system prompt|developer mode)\b",
    # small talk and tasks that are not questions about the plan
    r"^\s*(你好|您好|嗨|哈喽|hello|hi|hey)[呀啊哇吖！!，,。.~～\s]*$|你是谁|你叫什么|(过得|最近)怎么样",
    r"(你|您)(能|会|可以)(帮我|为我|给我)?(做|干|回答)(些|点)?(什么|啥)|(你|您)有(什么|哪些)(功能|本事|用处)",
    r"(写|作|来)一?(首|篇|段|个)?[^。？?，,]{0,12}?(诗|绝句|律诗|宋词|歌词|对联|小说|笑话)|七言|五言|"
    r"讲一?(个|段)?笑话|唱一?首",
    r"(今天|明天|后天|今日|本周|这周|周末)[^。？?]{0,6}天气|天气(怎么样|如何|预报)|带伞",
    r"推荐[^。？?]{0,12}(饭馆|餐厅|美食|小吃|酒店|宾馆|电影|股票|基金|概念股)|好吃的",
    r"\b(favou?rite|movies?|jokes?|poems?|weather|recipes?)\b",
)]


def out_of_scope(question: str) -> bool:
    """A request to drop the rules, play a role, reveal the setup, or small talk."""
    return any(p.search(question) for p in _OUT_OF_SCOPE)


def topic_words(question: str) -> list[str]:
    """What a question is about: its content words (nouns, abbreviations, 5G…) minus the
    words that only frame it in time or scope (十四五, 目标, 全省…)."""
    return [w for w in content_words(question) if w not in _FRAME and not re.fullmatch(r"\d+", w)]


def decide(support: float, threshold: float, *, contentless: bool, has_evidence: bool,
           focused: bool) -> bool:
    """Whether to refuse: nothing to look up, no evidence, or support below the threshold.

    ``focused``: a follow-up pointing at a section (这一节…) is answered from that section
    whatever its score.
    """
    return contentless or not has_evidence or (
        not focused and (support <= HARD_REFUSAL or support < threshold))


def refusal_text(related_labels: list[str], out_of_scope: bool = False) -> str:
    """The refusal phrase, plus the nearest sections as 可能相关 (for an out-of-scope request:
    one line saying what the assistant answers, and no sections)."""
    if out_of_scope:
        return f"{REFUSAL}\n{SCOPE_LINE}"
    lines = [REFUSAL]
    if related_labels:
        lines += ["", "可能相关："] + [f"- 「{label}」" for label in related_labels[:RELATED_SHOWN]]
    return "\n".join(lines)


def load_threshold(settings: Settings) -> float:
    """The refusal threshold: settings override, else data_dir/refusal.json, else eval/.

    A local override that cannot be read is a logged warning (the committed value is used);
    a committed file that cannot be read is a :class:`ConfigError`.
    """
    if settings.refusal_threshold:
        return float(settings.refusal_threshold)
    local = Path(settings.data_dir) / CALIBRATION_FILE
    if local.exists():
        try:
            return _read_threshold(local)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("本地拒答阈值文件 %s 无法读取（%s），改用 %s", local, exc, DEFAULT_CALIBRATION)
    try:
        return _read_threshold(DEFAULT_CALIBRATION)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"拒答阈值文件 {DEFAULT_CALIBRATION} 缺失或损坏（{type(exc).__name__}）："
                          "请运行 python -m rag ask --calibrate --save eval/refusal.json，"
                          "或设置 RAG_REFUSAL_THRESHOLD") from None


def _read_threshold(path: Path) -> float:
    value = float(json.loads(path.read_text(encoding="utf-8"))["threshold"])
    if value != value:  # NaN
        raise ValueError("threshold is NaN")
    return value


def pick_threshold(answerable: list[float], unanswerable: list[float],
                   max_false: float = 0.05) -> tuple[float, float, float]:
    """Threshold maximising refused unanswerable with false refusals ≤ ``max_false``.

    A question is refused when its score is below the threshold, and always when a hard check
    refused it (:data:`HARD_REFUSAL`): those count against ``max_false`` too, and when they
    alone exceed it the threshold refuses nothing more. Returns
    ``(threshold, refused_unanswerable_rate, false_refusal_rate)``.
    """
    def rates(t: float) -> tuple[float, float]:
        fr = sum(a < t or a <= HARD_REFUSAL for a in answerable) / max(1, len(answerable))
        ru = sum(u < t or u <= HARD_REFUSAL for u in unanswerable) / max(1, len(unanswerable))
        return ru, fr

    # the floor: only the hard checks refuse (kept even when they alone exceed max_false)
    floor = HARD_REFUSAL + 1e-6
    best = (floor, *rates(floor))
    cands = sorted(x for x in set(answerable) | set(unanswerable) if x > HARD_REFUSAL)
    for i, c in enumerate(cands):
        # midpoint to the next candidate: robust to ties and small drift
        t = (c + cands[i + 1]) / 2 if i + 1 < len(cands) else c + 1e-6
        ru, fr = rates(t)
        if fr <= max_false and (ru, -fr) > (best[1], -best[2]):
            best = (t, ru, fr)
    return best
