"""The public privacy-policy pages and their JSON, at frozen dates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import time_machine

from consentmgr.policies.loader import parse_policy_file
from tests.conftest import SHIPPED_POLICIES_DIR
from tests.policies.policy_files import write_policy

SHIPPED = Path(SHIPPED_POLICIES_DIR)
TODAY = "2026-11-23 12:00Z"


def page(client, url: str, *, at: str = TODAY) -> str:
    with time_machine.travel(at, tick=False):
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def h1(html: str) -> str:
    (title,) = re.findall(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", title)).strip()


def meta(html: str) -> str:
    match = re.search(r'<p class="policy-meta">(.*?)</p>', html, re.S)
    assert match, "no version line on the page"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match[1])).strip()


# --- which version ---------------------------------------------------------------------


def test_privacy_shows_the_version_in_effect_today(client, shipped):
    html = page(client, "/privacy")

    assert h1(html) == "Privacy policy"
    assert meta(html) == "Version 2026-03 · In effect now · In effect from 1 March 2026"


def test_privacy_shows_the_first_version_while_it_was_in_effect(client, shipped):
    html = page(client, "/privacy", at="2025-06-01 12:00Z")

    assert meta(html).startswith("Version 2025-01 · In effect now · In effect from 15 January 2025")


def test_privacy_announces_an_upcoming_version_without_showing_it_as_current(
    client, with_future_version
):
    html = page(client, "/privacy")

    assert meta(html).startswith("Version 2026-03 · In effect now")
    assert "A new version takes effect on" in html
    assert '<time datetime="2027-01-01">1 January 2027</time>' in html
    assert 'href="/privacy/2027-01"' in html


def test_upcoming_version_page_says_it_is_not_in_effect_yet(client, with_future_version):
    html = page(client, "/privacy/2027-01")

    assert h1(html) == "Privacy policy, version 2027-01"
    assert meta(html) == "Version 2027-01 · Upcoming · Takes effect on 1 January 2027"
    assert "This version is not in effect yet" in html


def test_superseded_version_page_links_the_current_policy(client, shipped):
    html = page(client, "/privacy/2025-01")

    assert meta(html) == (
        "Version 2025-01 · No longer in effect · In effect from 15 January 2025 to 28 February 2026"
    )
    assert "This version is no longer in effect." in html


def test_versions_page_lists_every_version_with_dates_status_and_summary(
    client, with_future_version
):
    html = page(client, "/privacy/versions")

    rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", html, re.S)
    text = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]
    assert [t.split(" ")[1] for t in text] == ["2027-01", "2026-03", "2025-01"]
    assert "Upcoming" in text[0] and "from 1 January 2027" in text[0]
    assert "In effect now" in text[1] and "to 31 December 2026" in text[1]
    assert "No longer in effect" in text[2] and "to 28 February 2026" in text[2]
    assert parse_policy_file(SHIPPED / "2026-03.md").summary in html.replace("\n", " ")


def test_policy_page_links_the_versions_and_the_comparison_with_the_previous_version(
    client, shipped
):
    html = page(client, "/privacy")

    assert 'href="/privacy/versions"' in html
    assert 'href="/privacy/compare?from=2025-01&amp;to=2026-03"' in html


# --- what a purpose says ------------------------------------------------------------------


def test_each_purpose_shows_its_legal_basis_in_plain_words(client, shipped):
    html = page(client, "/privacy")

    support = html[html.index('id="purpose-support"'):html.index('id="purpose-marketing-email"')]
    assert "Our legitimate interest, weighed against your interests and rights" in support
    assert "Answering questions and complaints from customers" in support  # the interest
    assert "To Helpdeskly Inc. in United States. Safeguard:" in support
    assert 'href="#category-support-history"' in support


def test_sale_or_share_purpose_says_how_gpc_opts_out(client, shipped):
    html = page(client, "/privacy")

    sharing = html[html.index('id="purpose-third-party-sharing"'):]
    assert "If your browser sends a Global Privacy Control signal" in sharing


def test_purposes_new_or_changed_in_this_version_are_marked(client, shipped):
    html = page(client, "/privacy")

    assert "This purpose is new in version 2026-03." in html
    assert "Changed in version 2026-03:" in html


def test_data_categories_table_has_a_caption_and_headers(client, shipped):
    html = page(client, "/privacy")

    assert "<caption>Kinds of personal data in version 2026-03" in html
    assert '<th scope="col">How long we keep it</th>' in html


def test_policy_pages_have_one_h1_and_headings_in_order(client, with_future_version):
    for url in ("/privacy", "/privacy/2025-01", "/privacy/versions",
                "/privacy/compare?from=2025-01&to=2026-03"):
        levels = [int(n) for n in re.findall(r"<h([1-6])[\s>]", page(client, url))]
        assert levels.count(1) == 1 and levels[0] == 1, url
        assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), (url, levels)


def test_markup_in_a_policy_body_is_shown_as_text(client, publish_policy_files, tmp_path):
    write_policy(tmp_path, body="\n## Notice\n\n<script>alert('x')</script>\n\nPlain text.\n")
    publish_policy_files(tmp_path)

    html = page(client, "/privacy/v1")

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(" in html


# --- comparison ------------------------------------------------------------------------


def test_compare_page_lists_the_new_and_the_materially_changed_purpose(client, shipped):
    html = page(client, "/privacy/compare?from=2025-01&to=2026-03")

    new_at = html.index("<h3>New purposes</h3>")
    changed_at = html.index("<h3>Materially changed purposes</h3>")
    unchanged_at = html.index("<h3>Purposes without material change</h3>")
    new, changed = html[new_at:changed_at], html[changed_at:unchanged_at]
    assert "Product reviews" in new and "Personal recommendations" not in new
    assert "Personal recommendations" in changed
    assert "What changed:\n      what we do, data we use, who receives it." in changed
    assert "<del>No one outside Northwind Goods GmbH.</del>" in changed
    assert "Recosys AB, Sweden" in changed


def test_compare_page_marks_text_changes_without_relying_on_colour(client, shipped):
    html = page(client, "/privacy/compare?from=2025-01&to=2026-03")

    assert "How to read the changes:" in html
    assert "<ins>### What changed on 1 March 2026</ins>" in html
    assert "+ added" in html and "− removed" in html
    assert "<del>" in html


def test_compare_without_parameters_shows_the_latest_change(client, shipped):
    with time_machine.travel(TODAY, tick=False):
        response = client.get("/privacy/compare")

    assert response.status_code == 302
    assert response.headers["Location"] == "/privacy/compare?from=2025-01&to=2026-03"


@pytest.mark.parametrize("query", ["from=2025-01", "to=2026-03", "from=&to=2026-03"])
def test_compare_with_a_missing_version_is_a_400_in_the_shared_layout(client, shipped, query):
    response = client.get(f"/privacy/compare?{query}")

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Choose two published versions of the policy to compare." in html
    assert '<a class="skip-link" href="#main">' in html


def test_compare_with_an_unknown_version_is_a_404(client, shipped):
    response = client.get("/privacy/compare?from=2025-01&to=1999-01")

    assert response.status_code == 404


# --- errors ------------------------------------------------------------------------------


def test_unknown_version_is_a_404_in_the_shared_layout_without_echoing_it(client, shipped):
    response = client.get("/privacy/no-such-version")

    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "No published privacy-policy version with that label." in html
    assert '<a class="skip-link" href="#main">' in html
    assert "no-such-version" not in html


def test_privacy_before_anything_is_published_is_a_404(client):
    response = client.get("/privacy")

    assert response.status_code == 404
    assert "No privacy-policy version is in effect yet." in response.get_data(as_text=True)


# --- JSON -------------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["2025-01", "2026-03"])
def test_version_json_carries_the_file_exactly_as_parsed(client, shipped, label):
    with time_machine.travel(TODAY, tick=False):
        data = client.get(f"/privacy/{label}.json").get_json()

    expected = parse_policy_file(SHIPPED / f"{label}.md").to_dict(include_body=True)
    assert {key: data[key] for key in expected} == expected


def test_version_json_gives_the_publication_time_in_utc(client, publish_policy_files):
    with time_machine.travel("2026-02-20 09:30:15Z", tick=False):
        publish_policy_files()

    with time_machine.travel(TODAY, tick=False):
        data = client.get("/privacy/2026-03.json").get_json()

    assert data["published_at"] == "2026-02-20T09:30:15+00:00"


def test_current_policy_json_is_the_version_in_effect_with_its_status(client, with_future_version):
    with time_machine.travel(TODAY, tick=False):
        response = client.get("/privacy.json")

    assert response.mimetype == "application/json"
    data = response.get_json()
    assert (data["version"], data["status"]) == ("2026-03", "current")
    assert (data["previous_version"], data["next_version"]) == ("2025-01", "2027-01")
    assert data["effective_until"] == "2026-12-31"
    changes = {c["slug"]: c["change_kind"] for c in data["purpose_changes"]}
    assert changes["product-reviews"] == "new"
    assert changes["personalisation"] == "materially-changed"


def test_upcoming_version_json_says_it_is_upcoming(client, with_future_version):
    with time_machine.travel(TODAY, tick=False):
        data = client.get("/privacy/2027-01.json").get_json()

    assert data["status"] == "upcoming"


def test_unknown_version_json_is_problem_json(client, shipped):
    response = client.get("/privacy/1999-01.json")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404


def test_gpc_json_declares_support_and_the_current_policy_date(client, shipped):
    with time_machine.travel(TODAY, tick=False):
        response = client.get("/.well-known/gpc.json")

    assert response.mimetype == "application/json"
    assert response.get_json() == {"gpc": True, "lastUpdate": "2026-03-01"}
