"""Web-page plans (.html) through BeautifulSoup/lxml: the main content as lines of text.

The main content is the first <article>, <main> or element whose id/class names the
content (content, article, zoom, TRS_Editor, …), else <body>. Dropped: scripts, styles,
forms, <nav>/<header>/<footer>/<aside>, elements whose id/class names navigation or page
furniture (nav, menu, breadcrumb, share, footer, …) and lines such as 扫一扫在手机打开当前页,
打印本页, 关闭窗口, 【字体：大 中 小】. Block elements and <br> end a line; whitespace inside a
line is collapsed the way a browser does; blank lines are not kept.

Not handled here: pages built by JavaScript (their text is not in the file), frames.
"""

from __future__ import annotations

import re

from rag.errors import CorpusError

_DROP_TAGS = ["script", "style", "noscript", "template", "form", "button", "select", "input",
              "nav", "header", "footer", "aside", "iframe", "svg", "head"]
_FURNITURE_ATTR = re.compile(r"(^|[-_ ])(nav|navbar|menu|breadcrumb|crumbs?|share|footer|header|"
                             r"sidebar|toolbar|print|search|login|topbar|bottom|links?)($|[-_ ])",
                             re.I)
_CONTENT_ATTR = re.compile(r"(^|[-_ ])(content|article|zoom|trs_editor|main|detail|text|pages?_?con)"
                           r"($|[-_ ])", re.I)
_FURNITURE_LINE = re.compile(
    r"^[【\[]?(扫一扫|打印本页|打印此页|关闭窗口|关闭本页|收藏本页|分享到|字体[:：]|字号[:：]|返回顶部"
    r"|上一篇[:：]|下一篇[:：]|相关链接|责任编辑[:：])[^。]{0,30}$")
_BLOCKS = {"p", "div", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6",
           "section", "article", "main", "blockquote", "pre", "dd", "dt", "dl", "td", "th",
           "center", "body"}
_WS = re.compile(r"[ \t\r\n\f]+")


def _attrs(tag) -> str:
    return " ".join([tag.get("id") or ""] + list(tag.get("class") or []))


def html_text(data: bytes, path: str) -> str:
    """The page's main text; CorpusError when there is no body text."""
    from bs4 import BeautifulSoup, NavigableString
    from bs4.element import Comment, Tag

    soup = BeautifulSoup(data, "lxml")
    body = soup.body
    if body is None or not body.get_text(strip=True):
        raise CorpusError("HTML 中没有正文（<body> 缺失或为空）", file=path)
    for tag in body.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in body.find_all(lambda t: isinstance(t, Tag) and _FURNITURE_ATTR.search(_attrs(t))):
        if not tag.decomposed and len(tag.get_text(strip=True)) < 400:  # never a whole page body
            tag.decompose()
    main = body.find(["article", "main"]) or body.find(
        lambda t: isinstance(t, Tag) and _CONTENT_ATTR.search(_attrs(t))
        and len(t.get_text(strip=True)) > 200) or body

    parts: list[str] = []

    def walk(node) -> None:
        for child in node.children:
            if isinstance(child, Comment):
                continue
            if isinstance(child, NavigableString):
                parts.append(_WS.sub(" ", str(child)))
            elif isinstance(child, Tag):
                if child.name == "br":
                    parts.append("\n")
                    continue
                block = child.name in _BLOCKS
                if block:
                    parts.append("\n")
                walk(child)
                if block:
                    parts.append("\n")

    walk(main)
    lines = [line.strip(" ") for line in "".join(parts).split("\n")]
    lines = [line for line in lines if line.strip() and not _FURNITURE_LINE.match(line.strip())]
    if not lines:
        raise CorpusError("HTML 中没有正文（去掉导航和页面装饰后为空）", file=path)
    return "\n".join(lines) + "\n"
