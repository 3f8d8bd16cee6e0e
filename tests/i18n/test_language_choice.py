"""Which language a page speaks: the switcher's cookie, then Accept-Language, then English."""

from __future__ import annotations

from consentmgr.i18n import in_language, language_of, supported
from consentmgr.web.language import COOKIE


def test_a_german_browser_gets_german_pages(client):
    page = client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert page.status_code == 200
    assert '<html lang="de">' in page.text
    assert "Zum Hauptinhalt springen" in page.text
    assert page.headers["Content-Language"] == "de"
    assert "Accept-Language" in page.headers["Vary"]


def test_a_language_we_do_not_speak_falls_back_to_english(client):
    page = client.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert '<html lang="en">' in page.text
    assert "Skip to main content" in page.text


def test_the_switcher_is_remembered_over_the_browser_language(client):
    chosen = client.get("/language/de?next=/privacy", headers={"Accept-Language": "en"})
    assert chosen.status_code == 303
    assert chosen.headers["Location"] == "/privacy"
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None and cookie.value == "de" and cookie.http_only
    page = client.get("/", headers={"Accept-Language": "en"})
    assert '<html lang="de">' in page.text
    client.get("/language/en")
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "de"}).text


def test_the_switcher_links_back_to_the_page_it_is_on(client):
    page = client.get("/privacy/versions", headers={"Accept-Language": "en"})
    assert 'href="/language/de?next=/privacy/versions"' in page.text
    assert 'lang="de" hreflang="de"' in page.text


def test_the_switcher_refuses_unknown_languages_and_foreign_redirects(client):
    assert client.get("/language/fr").status_code == 404
    assert client.get("/language/DE").status_code == 404
    assert client.get_cookie(COOKIE) is None
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"):
        response = client.get("/language/de", query_string={"next": target})
        assert response.status_code == 303
        assert response.headers["Location"] == "/"


def test_language_helpers():
    assert supported("de-AT") == "de" and supported("de_DE") == "de"
    assert supported("fr") is None and supported(None) is None and supported(3) is None
    assert language_of({"language": "de"}) == "de"
    assert language_of({"language": "fr"}) == "en" and language_of(None) == "en"


def test_in_language_translates_outside_a_request(app):
    from consentmgr.i18n import gettext

    with app.app_context():
        with in_language("de") as language:
            assert language == "de"
            assert gettext("Skip to main content") == "Zum Hauptinhalt springen"
        with in_language("xx") as language:
            assert language == "en"
            assert gettext("Skip to main content") == "Skip to main content"
