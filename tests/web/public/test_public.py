"""The home page and error pages."""

from __future__ import annotations


def test_home_page_links_portal_staff_and_privacy(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for href in ('href="/portal/"', 'href="/staff/"', 'href="/privacy"'):
        assert href in html
    assert '<html lang="en">' in html and "<main" in html


def test_unknown_page_is_a_404_in_the_shared_layout(client):
    response = client.get("/definitely/not/here")
    assert response.status_code == 404
    assert "We could not find that page" in response.get_data(as_text=True)


def test_wrong_method_is_a_405_with_allow(client):
    response = client.post("/")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
