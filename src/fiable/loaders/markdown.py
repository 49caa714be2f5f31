"""Markdown (CommonMark + GFM tables) through markdown-it-py."""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from fiable.documents import Block, LoadedDocument
from fiable.loaders._common import (
    HeadingTracker,
    clean_code,
    clean_inline,
    clean_lines,
    decode_text,
    finish_blocks,
    make_block,
    normalise_text,
    stem_title,
)

__all__ = ["load_markdown"]

_FRONT_MATTER = re.compile(r"\A---[^\S\n]*\n(.*?\n)?(?:---|\.\.\.)[^\S\n]*(?:\n|\Z)", re.DOTALL)
_FM_TITLE = re.compile(r"^title[^\S\n]*:[^\S\n]*(.*?)[^\S\n]*$", re.MULTILINE)


def _parser() -> MarkdownIt:
    # A fresh parser per call: no shared state between loads.
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def load_markdown(path: Path, data: bytes) -> LoadedDocument:
    text, encoding = decode_text(data, path)
    text, fm_title = split_front_matter(normalise_text(text))
    root = SyntaxTreeNode(_parser().parse(text))
    builder = _Builder()
    builder.blocks_of(root.children)
    blocks = finish_blocks(builder.blocks)
    title = fm_title or builder.first_h1 or stem_title(path)
    return LoadedDocument(
        source=str(path), title=title, format="markdown", blocks=blocks, metadata={"encoding": encoding}
    )


def split_front_matter(text: str) -> tuple[str, str | None]:
    """Remove a leading YAML front matter block; return the rest and its ``title:``."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return text, None
    body = match.group(1) or ""
    title = None
    title_match = _FM_TITLE.search(body)
    if title_match:
        value = title_match.group(1)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:  # a YAML comment after an unquoted value
            value = value.split(" #", 1)[0]
        title = clean_inline(value) or None
    return text[match.end() :], title


def _inline_text(node: SyntaxTreeNode) -> str:
    """Text of inline content: markup dropped, links -> their text, images -> alt text."""
    parts: list[str] = []
    for child in node.children:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
        elif kind == "softbreak":
            parts.append(" ")
        elif kind == "hardbreak":
            parts.append("\n")
        elif kind == "html_inline":
            continue
        else:
            parts.append(_inline_text(child))
    return "".join(parts)


def _html_text(html: str) -> str:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    for node in tree.css("script, style, template"):
        node.decompose()
    return tree.root.text(separator=" ") if tree.root is not None else ""


def _flat_text(node: SyntaxTreeNode) -> str:
    """Every piece of text below a block node, in order, joined by spaces."""
    if node.type == "inline":
        return _inline_text(node)
    if node.type in ("fence", "code_block"):
        return node.content
    if node.type == "html_block":
        return _html_text(node.content)
    return " ".join(_flat_text(child) for child in node.children)


class _Builder:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.headings = HeadingTracker()
        self.first_h1: str | None = None

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

    def blocks_of(self, nodes: list[SyntaxTreeNode]) -> None:
        for node in nodes:
            kind = node.type
            if kind == "heading":
                self.add(clean_inline(_flat_text(node)), "heading", int(node.tag[1]))
            elif kind == "paragraph":
                self.add(clean_lines(_flat_text(node)))
            elif kind in ("bullet_list", "ordered_list"):
                self.add("\n".join(_list_lines(node, 0)), "list")
            elif kind in ("fence", "code_block"):
                self.add(clean_code(node.content), "code")
            elif kind == "table":
                self.add(_table_text(node), "table")
            elif kind == "html_block":
                self.add(clean_inline(_html_text(node.content)))
            elif kind == "hr":
                continue
            else:  # blockquote and anything else holding blocks
                self.blocks_of(node.children)


def _list_lines(node: SyntaxTreeNode, depth: int) -> list[str]:
    ordered = node.type == "ordered_list"
    start = int(node.attrs.get("start", 1)) if ordered else 1
    indent = "  " * depth
    lines: list[str] = []
    for index, item in enumerate(node.children):
        if ordered:
            number = item.info if item.info.isdigit() else str(start + index)
            marker = f"{number}. "
        else:
            marker = "- "
        texts: list[str] = []
        nested: list[str] = []
        for child in item.children:
            if child.type in ("bullet_list", "ordered_list"):
                nested.extend(_list_lines(child, depth + 1))
            elif child.type in ("fence", "code_block"):
                code = clean_code(child.content)
                nested.extend(f"{indent}    {line}" for line in code.split("\n") if line)
            else:
                texts.append(clean_inline(_flat_text(child)))
        text = " ".join(t for t in texts if t)
        if text:
            lines.append(f"{indent}{marker}{text}")
        lines.extend(nested)
    return lines


def _table_text(node: SyntaxTreeNode) -> str:
    rows: list[str] = []

    def visit(n: SyntaxTreeNode) -> None:
        if n.type == "tr":
            cells = [clean_inline(_flat_text(cell)) for cell in n.children]
            if any(cells):
                rows.append(" | ".join(cells).rstrip())
        else:
            for child in n.children:
                visit(child)

    visit(node)
    return "\n".join(rows)
