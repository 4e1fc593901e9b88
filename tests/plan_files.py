"""Write a plan's text as .docx, .pdf or .html the way publishers do (for the reader tests).

Headings become Word heading styles / <h2>-<h4>; the PDF wraps long lines at the page
width and carries a running header and a page number on every page; the HTML page has
navigation, a breadcrumb and 扫一扫/打印本页 furniture around the content. Used only by tests.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

_LEVEL = re.compile(r"^[ \u3000\u00a0\u2002]*(第[一二三四五六七八九十百]+([篇章节])|[一二三四五六七八九十]+、"
                    r"|[（(][一二三四五六七八九十]+[）)])")
_RANK = {"篇": 1, "章": 2, "节": 3}


def _level(line: str) -> int:
    """1/2/3 for a 篇/章/节 heading line (一、 = 2, （一） = 3), 0 otherwise."""
    m = _LEVEL.match(line)
    if not m or len(line.strip()) > 45 or "。" in line:
        return 0
    if m.group(2):
        return _RANK[m.group(2)]
    return 2 if "、" in m.group(1) else 3


def write_docx(text: str, path: Path, styles: bool = True) -> Path:
    import docx

    document = docx.Document()
    for line in text.split("\n"):
        level = _level(line) if styles else 0
        if level:
            document.add_heading(line, level=level)
        else:
            document.add_paragraph(line)
    document.save(str(path))
    return path


def write_pdf(text: str, path: Path, header: str = "示例市人民政府文件", size: float = 10.5) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    width, height = A4
    left, right, top, bottom, lead = 72, width - 72, height - 90, 80, size * 1.6
    pdf = canvas.Canvas(str(path), pagesize=A4)
    state = {"y": top, "page": 1}

    def furniture():
        pdf.setFont(font, 9)
        pdf.drawString(left, height - 50, header)
        pdf.drawCentredString(width / 2, 40, f"— {state['page']} —")
        pdf.setFont(font, size)

    def emit(piece: str):
        if state["y"] < bottom:
            pdf.showPage()
            state["page"] += 1
            state["y"] = top
            furniture()
        pdf.drawString(left, state["y"], piece)
        state["y"] -= lead

    furniture()
    for line in text.split("\n"):
        line = line.strip(" \u3000")
        if not line:
            state["y"] -= lead / 2
            continue
        piece = ""
        for ch in line:
            if pdfmetrics.stringWidth(piece + ch, font, size) > right - left:
                emit(piece)
                piece = ""
            piece += ch
        emit(piece)
    pdf.save()
    return path


def write_html(text: str, path: Path, title: str = "示例规划") -> Path:
    body = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        level = _level(line)
        tag = f"h{level + 1}" if level else "p"
        body.append(f"<{tag}>{html.escape(line.strip())}</{tag}>")
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>p {{ text-indent: 2em; }}</style><script>var x = "第一章 不是正文";</script></head>
<body>
<div class="top-nav"><a href="/">首页</a> <a href="/zwgk">政务公开</a> <a href="/zcwj">政策文件</a></div>
<div class="breadcrumb">当前位置：首页 &gt; 政务公开 &gt; 规划计划</div>
<div class="article">
<h1>{html.escape(title)}</h1>
<div class="share">扫一扫在手机打开当前页</div>
<div id="zoom">
{chr(10).join(body)}
</div>
<p>【打印本页】【关闭窗口】</p>
</div>
<footer>主办单位：示例市人民政府办公室 网站标识码：1400000000</footer>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def city_plan() -> str:
    """A 示例市 plan with 篇/章/节, a TOC and chapters numbered through the 篇."""
    parts = [("总体要求", [("发展基础", ["发展成就", "发展环境"]), ("总体思路", ["指导思想", "主要目标"])]),
             ("创新驱动", [("科技创新", ["创新平台", "创新人才", "创新制度"])]),
             ("绿色发展", [("生态保护", ["黄河流域保护"]), ("低碳转型", ["能源革命", "碳达峰行动"])])]
    toc, body, ch = ["目  录", ""], [], 0
    for p, (ptitle, chapters) in enumerate(parts, start=1):
        toc.append(f"第{_cn(p)}篇　{ptitle}")
        body += [f"第{_cn(p)}篇　{ptitle}", "", f"　　本篇阐明示例市{ptitle}的总体部署。", ""]
        for ctitle, sections in chapters:
            ch += 1
            toc.append(f"  第{_cn(ch)}章 {ctitle}")
            body += [f"第{_cn(ch)}章　{ctitle}", "", f"　　示例市围绕{ctitle}，统筹推进各项工作。", ""]
            for s, stitle in enumerate(sections, start=1):
                toc.append(f"    第{_cn(s)}节 {stitle}")
                body += [f"第{_cn(s)}节　{stitle}", "",
                         f"　　示例市{stitle}：到2025年，{ctitle}领域完成投资{ch * 10 + s}亿元，"
                         f"建成{stitle}示范项目{s + 2}个。", ""]
    head = ["示例市国民经济和社会发展第十四个五年规划和二〇三五年远景目标纲要", "",
            "　　本纲要根据《中共示例市委关于制定国民经济和社会发展第十四个五年规划的建议》编制。", ""]
    return "\n".join(head + toc + [""] + body)


def special_plan() -> str:
    """A special plan numbered 一、/（一）, some （一） headings running into their paragraph."""
    return "\n".join([
        "示例市“十四五”生态环境保护规划", "",
        "为加强生态环境保护，制定本规划。", "",
        "一、总体要求", "",
        "（一）指导思想。坚持绿水青山就是金山银山理念，统筹山水林田湖草沙系统治理。", "",
        "（二）基本原则", "", "坚持保护优先，坚持系统治理，坚持改革创新。", "",
        "二、主要任务", "", "围绕大气、水、土壤三大领域开展攻坚。", "",
        "（一）深入打好蓝天保卫战。到2025年，细颗粒物浓度下降百分之十五。", "",
        "（二）深入打好碧水保卫战。汾河流域国考断面全部退出劣五类。", "",
        "三、保障措施", "",
        "（一）加强组织领导。各县区政府对本行政区域生态环境质量负责。", ""])


def _cn(n: int) -> str:
    from rag.corpus import int_to_cn

    return int_to_cn(n)
