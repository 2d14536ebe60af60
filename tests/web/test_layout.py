"""The page frame: landmarks, skip link, htmx from the package, shortcuts help, search box."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_frame(ingest, agent, login) -> None:
    conversation = ingest().conversation
    client = login(agent)
    for url in ("/", f"/c/{conversation.number}/", "/c/new/"):
        body = client.get(url).content.decode()
        assert '<html lang="en">' in body
        assert '<a class="skip-link" href="#main">' in body and '<main id="main"' in body
        assert "<header" in body and "<nav" in body and body.count("<h1") == 1
        assert '<meta name="htmx-config"' in body and '"includeIndicatorStyles": false' in body
        assert 'src="/static/django_htmx/htmx-2.min.js"' in body
        assert 'src="/static/guichet/app.js"' in body
        assert 'href="/static/guichet/app.css"' in body
        assert 'id="shortcuts-help"' in body and "<kbd>j</kbd>" in body
        assert 'action="/search/"' in body and 'for="site-search-q"' in body
        assert 'action="/i18n/setlang/"' in body


def test_static_files_exist(client) -> None:
    from django.contrib.staticfiles import finders

    for name in ("guichet/app.css", "guichet/app.js", "django_htmx/htmx-2.min.js"):
        assert finders.find(name), name


def test_search_page(ingest, agent, login) -> None:
    conversation = ingest(subject="Chéquier perdu", text="Mon chéquier a disparu").conversation
    client = login(agent)
    body = client.get("/search/", {"q": "chéquier"}).content.decode()
    assert f'href="/c/{conversation.number}/"' in body
    assert client.get("/search/").status_code == 200
    assert client.get("/search/", {"q": "x" * 500}).status_code == 400
