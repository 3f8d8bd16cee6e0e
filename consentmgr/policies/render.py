"""Render policy Markdown to safe HTML.

Raw HTML in the Markdown is disabled: a policy file is reviewed as text, and
markup that slipped into it must show up as text on the page, never run. The
page supplies the only ``<h1>``, so body headings start at ``<h2>``.
"""

from __future__ import annotations

import re
import unicodedata

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markupsafe import Markup

__all__ = ["render_markdown"]

_TOP_LEVEL = 2  # the page's own title is the h1


def _demote_and_anchor_headings(state: StateCore) -> None:
    """Core rule: no heading above h2, and each heading gets a unique id to link to."""
    used: set[str] = set()
    tokens = state.tokens
    for index, token in enumerate(tokens):
        if token.type not in ("heading_open", "heading_close"):
            continue
        if int(token.tag[1:]) < _TOP_LEVEL:
            token.tag = f"h{_TOP_LEVEL}"
        if token.type == "heading_open":
            inline = tokens[index + 1]
            token.attrSet("id", _unique(_slugify(inline.content), used))


def _slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "section"


def _unique(slug: str, used: set[str]) -> str:
    candidate, number = slug, 1
    while candidate in used:
        number += 1
        candidate = f"{slug}-{number}"
    used.add(candidate)
    return candidate


_markdown = MarkdownIt("commonmark", {"html": False})
_markdown.core.ruler.push("demote_and_anchor_headings", _demote_and_anchor_headings)


def render_markdown(text: str) -> Markup:
    """Render Markdown to HTML that is safe to put in a template unescaped.

    CommonMark with raw HTML disabled (``<script>`` comes out as text) and
    unsafe link schemes such as ``javascript:`` refused; ``# x`` renders as
    ``<h2>``, and headings carry ids derived from their text.
    """
    # Raw HTML is off and unsafe link schemes refused: the output is safe markup.
    return Markup(_markdown.render(text))  # nosec B704
