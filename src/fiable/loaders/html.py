"""HTML through selectolax (lexbor): the main content as blocks, navigation dropped."""

from __future__ import annotations

import re
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser, LexborNode

from fiable.documents import Block, LoadedDocument
from fiable.loaders._common import (
    HeadingTracker,
    clean_code,
    clean_inline,
    clean_lines,
    decode_text,
    finish_blocks,
    make_block,
    stem_title,
)

__all__ = ["load_html"]

_DROP_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "svg",
        "iframe", "button", "select", "canvas", "object", "embed", "dialog", "head", "title", "meta", "link",
    }
)  # fmt: skip
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_LAYOUT_MARKERS = "table, h1, h2, h3, h4, h5, h6, pre"
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_DISPLAY_NONE = re.compile(r"display\s*:\s*none", re.IGNORECASE)


def load_html(path: Path, data: bytes) -> LoadedDocument:
    declared = _META_CHARSET.search(data[:4096])
    text, encoding = decode_text(data, path, declared=declared.group(1).decode("ascii") if declared else None)
    tree = LexborHTMLParser(text)
    title_node = tree.css_first("title")
    html_title = clean_inline(title_node.text()) if title_node is not None else ""

    walker = _Walker()
    for root in _content_roots(tree):
        walker.walk(root, in_content=root.tag in ("main", "article"))
        walker.flush()
    blocks = finish_blocks(walker.blocks)
    title = walker.first_h1 or html_title or stem_title(path)
    return LoadedDocument(source=str(path), title=title, format="html", blocks=blocks, metadata={"encoding": encoding})


def _dropped(node: LexborNode, *, in_content: bool) -> bool:
    """Whether an element is navigation, chrome or hidden and must not be read."""
    tag = node.tag
    if tag in _DROP_TAGS:
        # A <header> inside <main>/<article> holds the article's own title: keep it.
        return not (tag == "header" and in_content)
    attrs = node.attributes
    if not attrs:
        return False
    if (attrs.get("role") or "").strip().lower() in _DROP_ROLES:
        return True
    if (attrs.get("aria-hidden") or "").strip().lower() == "true" or "hidden" in attrs:
        return True
    return bool(_DISPLAY_NONE.search(attrs.get("style") or ""))


def _has_dropped_ancestor(node: LexborNode) -> bool:
    parent = node.parent
    while parent is not None and parent.tag not in ("body", "html", "-document"):
        if _dropped(parent, in_content=False):
            return True
        parent = parent.parent
    return False


def _content_roots(tree: LexborHTMLParser) -> list[LexborNode]:
    """<main>, else the outermost <article>s, else [role=main], else <body>."""
    for selector in ("main", "article", '[role="main"]'):
        found = [n for n in tree.css(selector) if not _dropped(n, in_content=False) and not _has_dropped_ancestor(n)]
        if selector == "article":
            found = [n for n in found if not _inside(n, "article")]
        if found:
            return found if selector == "article" else found[:1]
    if tree.body is not None:
        return [tree.body]
    return [tree.root] if tree.root is not None else []


def _inside(node: LexborNode, tag: str) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag == tag:
            return True
        parent = parent.parent
    return False


def _is_layout_table(table: LexborNode) -> bool:
    """A table holding headings, code or other tables lays out a page; it is not data."""
    return any(n.mem_id != table.mem_id for n in table.css(_LAYOUT_MARKERS))


def _element_children(node: LexborNode):
    return node.iter(include_text=True)


def _inline_text(node: LexborNode, in_content: bool) -> str:
    """Text below ``node`` with HTML whitespace rules: runs collapse, <br> breaks lines."""
    parts: list[str] = []
    _gather(node, parts, in_content)
    return clean_lines("".join(parts))


def _gather(node: LexborNode, parts: list[str], in_content: bool) -> None:
    for child in _element_children(node):
        if child.is_text_node:
            parts.append(_SPACES.sub(" ", child.text_content or ""))
        elif child.tag == "br":
            parts.append("\n")
        elif child.is_element_node and not _dropped(child, in_content=in_content):
            block_level = child.tag in _BLOCKISH
            if block_level:
                parts.append(" ")
            _gather(child, parts, in_content)
            if block_level:
                parts.append(" ")


_BLOCKISH = frozenset(
    {
        "p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr", "td",
        "th", "pre", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "figure", "figcaption", "hr",
        "address", "details", "summary", "header", "caption",
    }
)  # fmt: skip


class _Walker:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.headings = HeadingTracker()
        self.first_h1: str | None = None
        self._buffer: list[str] = []

    def add(self, text: str, kind: str = "paragraph", level: int = 0) -> None:
        if not text:
            return
        if kind == "heading":
            path = self.headings.push(level, text)
            if level == 1 and self.first_h1 is None:
                self.first_h1 = text
        else:
            path = self.headings.path
        self.blocks.append(make_block(text, kind, path, None, level))  # type: ignore[arg-type]

    def flush(self) -> None:
        """Emit the loose text (directly in divs, inline elements) gathered so far."""
        if self._buffer:
            self.add(clean_lines("".join(self._buffer)))
            self._buffer = []

    def walk(self, node: LexborNode, in_content: bool) -> None:
        for child in _element_children(node):
            if child.is_text_node:
                self._buffer.append(_SPACES.sub(" ", child.text_content or ""))
                continue
            if not child.is_element_node or _dropped(child, in_content=in_content):
                continue
            tag = child.tag
            if tag == "br":
                self._buffer.append("\n")
            elif tag in _HEADINGS:
                self.flush()
                self.add(clean_inline(_inline_text(child, in_content)), "heading", _HEADINGS[tag])
            elif tag in ("p", "dt", "dd", "figcaption", "caption", "summary", "address"):
                self.flush()
                self.add(_inline_text(child, in_content))
            elif tag in ("ul", "ol", "menu"):
                self.flush()
                self.add("\n".join(_list_lines(child, 0, in_content)), "list")
            elif tag == "pre":
                self.flush()
                self.add(clean_code(child.text(deep=True)), "code")
            elif tag == "table":
                self.flush()
                if _is_layout_table(child):  # a layout table: read its cells as content
                    self.walk(child, in_content)
                    self.flush()
                else:
                    self._table(child, in_content)
            elif tag == "hr":
                self.flush()
            elif tag in _BLOCKISH:
                self.flush()
                self.walk(child, in_content or tag in ("main", "article"))
                self.flush()
            else:  # inline element (a, span, em, code...) or unknown: its text joins the paragraph
                self.walk(child, in_content)

    def _table(self, table: LexborNode, in_content: bool) -> None:
        caption = table.css_first("caption")
        if caption is not None:
            self.add(_inline_text(caption, in_content))
        rows: list[str] = []
        for row in table.css("tr"):
            cells = [
                clean_inline(_inline_text(cell, in_content))
                for cell in _element_children(row)
                if cell.tag in ("td", "th") and not _dropped(cell, in_content=in_content)
            ]
            if any(cells):
                rows.append(" | ".join(cells).rstrip())
        self.add("\n".join(rows), "table")


def _list_lines(node: LexborNode, depth: int, in_content: bool) -> list[str]:
    ordered = node.tag == "ol"
    try:
        number = int((node.attributes.get("start") or "1").strip()) if ordered else 1
    except ValueError:
        number = 1
    indent = "  " * depth
    lines: list[str] = []
    for item in _element_children(node):
        if item.tag != "li" or _dropped(item, in_content=in_content):
            continue
        parts: list[str] = []
        nested: list[str] = []
        for child in _element_children(item):
            if child.is_text_node:
                parts.append(_SPACES.sub(" ", child.text_content or ""))
            elif child.tag in ("ul", "ol", "menu"):
                nested.extend(_list_lines(child, depth + 1, in_content))
            elif child.is_element_node and not _dropped(child, in_content=in_content):
                parts.append(" " + _inline_text(child, in_content) + " ")
        text = clean_inline("".join(parts))
        marker = f"{number}. " if ordered else "- "
        number += 1
        if text:
            lines.append(f"{indent}{marker}{text}")
        lines.extend(nested)
    return lines
