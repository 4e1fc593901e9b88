"""Quantitative statements of the plan (规划目标一览): every number with a unit → one row.

Run with the index build (``rag.store`` calls :func:`write_targets`), the rows are stored as
``targets.jsonl`` next to the other build files and read back with :func:`load_targets`.
Each row holds 指标 (what is measured, in the plan's words), 数值, 单位, 修饰 (以上/左右/力争…),
时间 (2020 / 十三五 / 十四五 / 2025 / 十四五末 / 2035 …), 性质 (目标 / 实绩 / 现状), the verbatim
sentence, its file span and its section.

The rules are general, not a list of this plan's targets: a number (Arabic digits, a range
such as 5000—6000, a bare 百/千 before a count word, or 翻番/倍增) followed by a unit from a
table of Chinese measure words; years, dates, ordinals, quoted names (“1331”工程) and codes
(5G, PM2.5, 2号线) are not quantities. 时间 comes from time markers in the sentence (到2025年,
“十四五”末, 2020年 but not 较2015年), from a lead-in paragraph ending in a colon, from an earlier
sentence of the paragraph naming a past period (“十三五”期间…), else from the kind; 性质 from the section (a 十三五/成就 section reports results), 现有/依托/围绕 (facts) and
verbs. 指标 is the clause before the number, trimmed with jieba part-of-speech tags, or the
noun phrase after it when the number counts a noun (58个贫困县). The 指标 and 数值 strings are
always verbatim substrings of the sentence (asserted).

Not handled here: Chinese-numeral quantities other than 百/千 (三大攻坚战 is a name, 十五年 a
phrase), quantities inside quotation marks, tables; matching a question to rows (rag.target_match).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.chunking import split_sentences
from rag.corpus import Corpus, Section, SectionRef
from rag.errors import IndexError_
from rag.wordseg import _jieba

TARGETS_FILE = "targets.jsonl"
KINDS = {"target": "目标", "result": "实绩", "fact": "现状"}

_NUM = r"\d+(?:\.\d+)?"
_DASH = "—–－\\-~～至到"
# Longest first: a unit is a magnitude (万/亿/千…) and/or one of these measure words.
_UNITS = sorted("""% 个百分点 百分点 平方公里 平方米 公里 千米 立方米 方 吨 千瓦时 千瓦 公斤 千克 亩 公顷 元 美元
人次 人 户 家 个 项 座 所 条 张 床 岁 年 倍 辆 架 套 台 处 次 名 位 部 件 标准箱 只 头 棵 株 册 种 支 艘 班
""".split(), key=len, reverse=True)
_UNIT = "(?:" + "|".join(re.escape(u) for u in _UNITS) + ")"
_QTY = re.compile(
    rf"(?P<num>{_NUM}(?:[{_DASH}]{_NUM})?)(?P<unit>[万亿千百]*{_UNIT}|[万亿]+)"
    rf"|(?P<cn>(?<![一二两三四五六七八九十百千万第])[百千])(?P<cunit>项|个|家|座|所|条)"
    rf"|(?P<dbl>双?翻番|翻一番|倍增)")
_YEAR_UNIT = re.compile(r"(?:19|20)\d\d")
_POST_MODS = ("以上", "以下", "以内", "左右", "多", "余")
_ADJ_MODS = ("突破", "超过", "不低于", "不少于", "不超过", "约", "近")
_CLAUSE_MODS = ("预计", "累计")
_SENT_MODS = ("力争", "争取")
_CLAUSE_SEP = re.compile(r"[,，;；:：。!?！？、]")
_TIME = re.compile(r"(?<![较比与])(?:到|至|在)?(?P<y>(?:19|20)\d\d)年(?![\d—\-])"
                   r"|“?十(?P<p>[三四五])五”?(?P<end>末|期末)?")
_RETRO = re.compile(r"十三五|成就|回顾")
_FACT_CUES = ("现有", "已有", "依托", "围绕", "依靠")
_TARGET_CUES = re.compile(r"到(?:19|20)\d\d年|力争|争取|达到|达|突破|实现|建设|建成|培育|打造|形成|实施|"
                          r"推进|推动|新增|攻克|保持|稳定在|控制在|提高|增加|降低|减少|遴选|支持|延长|翻番|"
                          r"倍增|确保|完成|成为|增长|提升")
_LEAD = re.compile(r"^(?:(?:到|至)?(?:19|20)\d\d年(?:底|末)?|到?“?十[三四五]五”?(?:时期)?末?|力争|争取|"
                   r"推动|推进|促进|确保|实现|努力|积极|着力|大力|扎实|深入|加快|攻克|突破|全省|我省|全市|"
                   r"其中|同时)+")
_LEVEL_TAIL = re.compile(r"(?:达到|达|突破|超过|稳定在|保持在|控制在|提高到|增至|为|至|约|近|预计|"
                         r"累计|双|力争)+$")
# Words that start the predicate after a counted noun (58个贫困县「全部摘帽」): general Chinese
# predicate verbs and adverbs, not words of this plan's targets.
_PREDICATES = set("""全部 全面 初步 成功 加速 基本 总体 进一步 达到 达 突破 实现 创 完成 建成 投运 布局 成为
支持 进行 列入 推进 推动 摘帽 脱贫 形成 覆盖 实施 开展 提升 增长 稳定 保持 取得 进入 位居 居 获得 落地""".split())
_NOISE_BEFORE = re.compile(r"[A-Za-z.]$")
_NOISE_AFTER = re.compile(r"^(?:[A-Za-z+]|号|强|级|代|\.\d)")


@dataclass(frozen=True)
class Target:
    """One quantitative statement; offsets in ``span``/``value_span`` are file offsets."""

    指标: str
    数值: str
    单位: str
    修饰: str
    时间: str
    性质: str
    sentence: str
    span: tuple[int, int]
    value_span: tuple[int, int]
    ref: SectionRef

    @property
    def label(self) -> str:
        return self.ref.label

    @property
    def kind(self) -> str:
        return {v: k for k, v in KINDS.items()}[self.性质]

    def to_json(self) -> dict:
        d = asdict(self)
        d["span"], d["value_span"] = list(self.span), list(self.value_span)
        d["ref"], d["label"] = self.ref.to_json(), self.label
        return d

    @classmethod
    def from_json(cls, row: dict) -> "Target":
        row = {k: v for k, v in row.items() if k != "label"}
        return cls(**{**row, "span": tuple(row["span"]), "value_span": tuple(row["value_span"]),
                      "ref": SectionRef(**row["ref"])})


def _file_offset(section: Section, pos: int) -> int:
    acc = 0
    for start, end in section.parts:
        if pos <= acc + end - start:
            return start + pos - acc
        acc += end - start
    return section.parts[-1][1]


def _inside_quotes(text: str, pos: int) -> bool:
    before = text[:pos]
    return before.count("“") > before.count("”") or before.count("\"") % 2 == 1


def _pos(text: str) -> list[tuple[str, str]]:
    import jieba.posseg as pseg

    _jieba()
    return [(w.word, w.flag) for w in pseg.cut(text)]


def _noun_after(text: str) -> str:
    """The noun phrase at the start of ``text`` (58个「贫困县」全部摘帽), '' if it starts otherwise."""
    copula = re.match(r"(?:正是|就是|是|为)", text)
    if copula:
        text = text[copula.end():]
    quoted = re.match(r"“[^”]{1,12}”", text)
    head, text = (quoted.group(), text[quoted.end():]) if quoted else ("", text)
    toks = _pos(text)
    if not toks or (not head and (toks[0][1][0] in "xwmpcudqr" or toks[0][0] in _PREDICATES)):
        return head
    out, noun, rel = [], bool(head), toks[0][1].startswith("v") and not head
    for i, (w, f) in enumerate(toks):
        nxt = toks[i + 1][0] if i + 1 < len(toks) else ""
        if f[0] in "xwc" or w in "和与及":
            break
        if noun and (w in _PREDICATES or f[0] in "pfdr" or (w == "的" and not rel)
                     or (f == "a" and nxt != "的")):
            break
        out.append(w)
        noun = noun or f[0] in "nbjl" or f == "vn"
    return head + "".join(out) if noun else head


def _trim_before(clause: str) -> str:
    """The measured thing in the clause before a number: lead-ins and level verbs removed."""
    core = _LEVEL_TAIL.sub("", _LEAD.sub("", clause))
    toks = _pos(core)
    while toks and (toks[-1][1][0] in "dmqrtu" or toks[-1][1] == "a"):
        toks.pop()
    core = "".join(w for w, _ in toks)
    return _LEVEL_TAIL.sub("", core)


def _content(text: str) -> bool:
    return any(f[0] in "nbjl" for _, f in _pos(text))


def _first_noun_phrase(clause: str) -> str:
    """Subject of an earlier clause (粮食总产量「创历史新高」,达…): up to its first verb."""
    clause = _LEAD.sub("", clause)
    out = []
    for w, f in _pos(clause):
        if out and ((f.startswith("v") and f != "vn") or w in _PREDICATES):
            break
        out.append(w)
    return "".join(out)


def _time_of(sentence: str, upto: int, inherited: str) -> str:
    found = ""
    for m in _TIME.finditer(sentence, 0, upto):
        if m.group("y"):
            found = m.group("y")
        else:
            found = f"十{m.group('p')}五" + ("末" if m.group("end") else "")
    return found or inherited


def _is_past(time: str) -> bool:
    return time == "十三五" or (time.isdigit() and int(time) <= 2020)


def _kind(section: Section, sentence: str, start: int, clause: str) -> str:
    if _RETRO.search(section.section_title or ""):
        return "实绩"
    if any(c in clause for c in _FACT_CUES):
        return "现状"
    window = sentence[:start]
    tail = sentence[start:]
    if _TARGET_CUES.search(window[-40:]) or _TARGET_CUES.search(tail[:20].split("，")[0].split(",")[0]):
        return "目标"
    return "现状"


def _modifiers(sentence: str, start: int, end: int, clause_start: int) -> tuple[str, int]:
    mods = [m for m in _SENT_MODS if m in sentence[:start]]
    mods += [m for m in _CLAUSE_MODS if m in sentence[clause_start:start]]
    mods += [m for m in _ADJ_MODS if sentence[:start].endswith(m)
             or re.search(rf"{m}(?:达到|达)?$", sentence[:start])]
    after = end
    for m in _POST_MODS:
        if sentence.startswith(m, end):
            mods.append(m)
            after = end + len(m)
            break
    seen = []
    for m in mods:
        if m not in seen:
            seen.append(m)
    return "、".join(seen), after


def _skip(sentence: str, m: re.Match) -> bool:
    start, end = m.start(), m.end()
    if m.group("num"):
        unit = m.group("unit")
        first = re.match(_NUM, m.group("num")).group()
        if unit.startswith("年") and _YEAR_UNIT.fullmatch(first.split(".")[0]):
            return True  # a year, not a duration
        if re.match(r"[月日]", sentence[end:end + 1]) or sentence[start - 1:start] in ("第", "-", "—"):
            return True
        if _NOISE_BEFORE.search(sentence[:start]) or _NOISE_AFTER.match(sentence[end:]):
            return True
        if unit in ("年",) and sentence[end:end + 2] in ("以来", "之前"):
            return True
        mods_after = sentence[end:end + 2]
        if mods_after in ("以下", "以上") and re.match(r"[\u4e00-\u9fff]", sentence[end + 2:end + 3]):
            return True  # 3岁以下婴幼儿: an attribute of a noun, not a stated quantity
    if m.group("dbl") and re.match(r"[\u4e00-\u9fff]", sentence[end:end + 1]):
        return True  # 倍增计划, 倍增效应: a programme's name, not a doubling target
    return _inside_quotes(sentence, start)


def _rows_for_match(section: Section, sentence: str, s0: int, m: re.Match,
                    inherited: str, prev_end: int) -> list[Target]:
    start, end = m.start(), m.end()
    if m.group("dbl"):
        value, unit, vstart = m.group("dbl").lstrip("双"), "", m.start("dbl") + (
            1 if m.group("dbl").startswith("双") else 0)
    elif m.group("cn"):
        value, unit, vstart = m.group("cn"), m.group("cunit"), start
    else:
        value, unit, vstart = m.group("num"), m.group("unit"), start
    vend = vstart + len(value)
    seps = [x.end() for x in _CLAUSE_SEP.finditer(sentence, 0, start)]
    if m.group("dbl"):  # a doubling names its subjects as a 、-list: only , ; : end the clause
        seps = [x.end() for x in re.finditer(r"[,，;；:：。]", sentence[:start])]
    clause_start = max([0, prev_end, *seps])
    clause = sentence[clause_start:start]
    mods, after = _modifiers(sentence, start, end, clause_start)
    names: list[str] = []
    post = _noun_after(sentence[after:after + 30]) if not m.group("dbl") else ""
    pre = _trim_before(clause)
    if post and (not _content(pre) or unit in ("个", "项", "条", "家", "座", "所", "万")
                 or clause.endswith("等")):
        names = [post]
    elif m.group("dbl") and m.group("dbl").startswith("双"):
        names = [n for n in re.split(r"和|与|及|、", pre) if n]
    elif _content(pre):
        names = [pre]
    else:
        prev = sentence[max([0, *[x.end() for x in _CLAUSE_SEP.finditer(sentence, 0, max(0, clause_start - 1))]]):
                        max(0, clause_start - 1)]
        names = [post or _first_noun_phrase(prev) or pre]
    kind = _kind(section, sentence, start, clause)
    time = _time_of(sentence, start, inherited)
    if _is_past(time) and kind == "目标":
        kind = "实绩"  # “十三五”期间…达到60%: a result, however it is worded
    if not time:
        time = "十三五" if kind == "实绩" else ("十四五" if kind == "目标" else "")
    rows = []
    lead = len(sentence) - len(sentence.lstrip())
    text = sentence.strip()
    for name in names:
        assert name in sentence and sentence[vstart:vend] == value, (name, value, sentence)
        rows.append(Target(name, value, unit, mods, time, kind, text,
                           (_file_offset(section, s0 + lead),
                            _file_offset(section, s0 + lead + len(text))),
                           (_file_offset(section, s0 + vstart), _file_offset(section, s0 + vend)),
                           section.ref))
    return rows


def extract_section(section: Section) -> list[Target]:
    """The quantitative statements of one section, in reading order."""
    rows: list[Target] = []
    text = section.text
    inherited, carry, past = "", "", ""
    for a, b in split_sentences(text):
        sentence = text[a:b]
        if not sentence.strip():
            continue
        if sentence.startswith("\n") or text[a - 1:a] == "\n":
            inherited, carry, past = carry, "", ""
        prev_end = 0
        for m in _QTY.finditer(sentence):
            if _skip(sentence, m):
                continue
            rows.extend(_rows_for_match(section, sentence, a, m, inherited or past, prev_end))
            prev_end = m.end()
        own = _time_of(sentence, len(sentence), "")
        if _is_past(own):  # a paragraph opened with “十三五”期间 reports results throughout
            past = own
        if sentence.rstrip().endswith((":", "：")):
            carry = own
    return rows


def extract_targets(corpus: Corpus) -> list[Target]:
    """Every quantitative statement of every document (the notice and preamble skipped)."""
    return [t for s in corpus.sections if s.chapter > 0 for t in extract_section(s)]


def write_targets(build_dir: Path, corpus: Corpus) -> int:
    """Extract and write ``targets.jsonl`` into a build folder; returns the row count."""
    rows = extract_targets(corpus)
    with (Path(build_dir) / TARGETS_FILE).open("w", encoding="utf-8") as fh:
        for t in rows:
            fh.write(json.dumps(t.to_json(), ensure_ascii=False) + "\n")
    return len(rows)


def targets_of(index) -> list[Target]:
    """The rows of an opened :class:`rag.store.Index`; a build from before this stage existed
    has no targets.jsonl, so its rows are extracted from the index's sections instead."""
    # the Index's own build folder, not the live link: a served build stays itself after a switch
    root = Path(getattr(index, "root", None) or index.settings.index_dir)
    if (root / TARGETS_FILE).exists():
        return load_targets(root)
    return [t for s in index.sections if s.chapter > 0 for t in extract_section(s)]


def current_targets(settings) -> list[Target]:
    """The live build's rows, or (no build yet) rows extracted from the corpus folder."""
    from rag.corpus import load_corpus

    if (Path(settings.index_dir) / TARGETS_FILE).exists():
        return load_targets(settings.index_dir)
    return extract_targets(load_corpus(settings.corpus_dir))


def load_targets(index_dir: Path) -> list[Target]:
    """The rows stored with a build (``settings.index_dir``)."""
    path = Path(index_dir) / TARGETS_FILE
    try:
        with path.open(encoding="utf-8") as fh:
            return [Target.from_json(json.loads(line)) for line in fh if line.strip()]
    except FileNotFoundError:
        raise IndexError_("索引中没有目标一览（targets.jsonl）：请运行 "
                          "`python -m rag ingest --rebuild`") from None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise IndexError_(f"目标一览文件损坏（{type(exc).__name__}）：请运行 "
                          "`python -m rag ingest --rebuild`") from None
