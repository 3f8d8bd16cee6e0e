"""Rendering policy Markdown to HTML."""

from __future__ import annotations

import re
from pathlib import Path

from markupsafe import Markup, escape

from consentmgr.policies.loader import load_policy_dir
from consentmgr.policies.render import render_markdown

SHIPPED_POLICIES = Path(__file__).resolve().parents[2] / "policies"


def heading_levels(html: str) -> list[int]:
    return [int(level) for level in re.findall(r"<h([1-6])[ >]", html)]


def test_script_tag_in_the_body_renders_as_text():
    html = render_markdown("## Notice\n\n<script>alert('x')</script>\n")

    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_inline_html_renders_as_text():
    html = render_markdown('Click <a href="https://evil.example" onclick="steal()">here</a>.')

    assert "<a " not in html
    assert "&lt;a href=" in html


def test_javascript_link_is_not_rendered_as_a_link():
    html = render_markdown("[withdraw](javascript:alert(1))")

    assert "href" not in html


def test_ordinary_markdown_is_rendered():
    html = render_markdown("Read **this** and [that](https://example.test/page).\n\n- one\n- two\n")

    assert "<strong>this</strong>" in html
    assert '<a href="https://example.test/page">that</a>' in html
    assert "<li>one</li>" in html


def test_h1_in_the_body_renders_as_h2():
    html = render_markdown("# Title\n\nText.\n")

    assert heading_levels(html) == [2]
    assert html.startswith("<h2") and "</h2>" in html


def test_lower_headings_keep_their_level():
    assert heading_levels(render_markdown("## Two\n\n### Three\n\n#### Four\n")) == [2, 3, 4]


def test_headings_get_unique_ids_to_link_to():
    html = render_markdown("## Your rights\n\n## Your rights\n\n## Automated décisions\n")

    assert re.findall(r'id="([^"]+)"', html) == [
        "your-rights",
        "your-rights-2",
        "automated-decisions",
    ]


def test_result_is_markup_so_templates_do_not_escape_it_again():
    html = render_markdown("a < b")

    assert isinstance(html, Markup)
    assert escape(html) == html
    assert "a &lt; b" in html


def test_shipped_policy_bodies_start_at_h2_and_never_skip_a_level():
    for document in load_policy_dir(SHIPPED_POLICIES):
        levels = heading_levels(render_markdown(document.body))
        # Raw levels, before render_markdown would demote an h1.
        raw = [len(m) for m in re.findall(r"^(#{1,6}) ", document.body, flags=re.MULTILINE)]

        assert raw == levels, document.source
        assert levels[0] == 2, document.source
        assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), document.source


def test_shipped_policy_bodies_cover_what_gdpr_articles_13_and_14_require():
    for document in load_policy_dir(SHIPPED_POLICIES):
        html = render_markdown(document.body)
        ids = set(re.findall(r'id="([^"]+)"', html))

        assert {
            "who-is-responsible-for-your-data",
            "what-data-we-use-and-where-it-comes-from",
            "your-rights",
            "withdrawing-your-consent",
            "automated-decisions-and-profiling",
            "your-right-to-complain",
        } <= ids, document.source
