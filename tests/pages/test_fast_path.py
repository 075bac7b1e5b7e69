"""Page views answered before Flask (campaign.pages.fast_path): the same page, the same
headers, a token the sign form accepts, and Flask for everything the caches can't answer."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from campaign.pages.fast_path import CachedPageViews
from tests.helpers import CSRF_PATTERN, valid_signature

pytestmark = pytest.mark.usefixtures("cached_pages")


@pytest.fixture
def fast_only(app):
    """The middleware alone: a request it would hand on to Flask fails the test."""

    def not_flask(environ, start_response):
        raise AssertionError(f"{environ['PATH_INFO']} went to Flask")

    return Client(CachedPageViews(not_flask, app))


def token_in(response) -> str:
    return CSRF_PATTERN.search(response.get_data(as_text=True)).group(1)


def test_a_repeat_view_is_the_page_flask_rendered_with_its_own_token(client, create_page,
                                                                     fast_only):
    slug = create_page(title="Stop forced repatriation")
    from_flask = client.get(f"/a/{slug}")  # renders the page and fills the caches
    fast = fast_only.get(f"/a/{slug}", headers={"Referer": "https://news.example/x?y=1"})
    assert fast.status_code == 200
    flask_token, fast_token = token_in(from_flask), token_in(fast)
    assert flask_token != fast_token  # another visitor, another cookie, another token
    flask_html = from_flask.get_data(as_text=True).replace(flask_token, "TOKEN")
    fast_html = fast.get_data(as_text=True).replace(fast_token, "TOKEN")
    # Only the referring site differs: the fast path keeps its origin, as the view does.
    assert fast_html.replace('value="https://news.example"', 'value=""') == flask_html

    def headers(response):
        return {name: value for name, value in response.headers.items()
                if name not in ("Set-Cookie", "Content-Length")}

    assert headers(fast) == headers(from_flask)
    assert fast.headers["Set-Cookie"].startswith("campaign_form=")
    assert fast.headers["Set-Cookie"].split("=", 1)[1].split(";")[1:] == \
        from_flask.headers["Set-Cookie"].split("=", 1)[1].split(";")[1:]


def test_a_token_from_the_fast_path_signs_the_page(app, client, create_page, fast_only, query):
    slug = create_page()
    client.get(f"/a/{slug}")
    fast = fast_only.get(f"/a/{slug}")
    cookie = fast.headers["Set-Cookie"].split(";")[0]
    browser = app.test_client()
    browser.set_cookie(*cookie.split("="))
    response = browser.post(f"/a/{slug}",
                            data={"csrf_token": token_in(fast), **valid_signature()})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert query("SELECT count(*) FROM actions") == [(1,)]
    again = fast_only.get(f"/a/{slug}", headers={"Cookie": cookie})
    assert "Set-Cookie" not in again.headers  # a known visitor keeps their cookie and token
    assert token_in(again) == token_in(fast)


def test_views_through_the_fast_path_are_counted(app, client, create_page, fast_only, query):
    slug = create_page()
    client.get(f"/a/{slug}")
    for _ in range(3):
        fast_only.get(f"/a/{slug}")
    app.extensions["view_counter"].flush()
    assert query("SELECT source, views FROM page_view_counts") == [("", 4)]


def test_what_the_caches_cannot_answer_goes_to_flask(app, client, create_page, query):
    slug = create_page()
    draft = create_page(status="draft")
    seen = []

    def flask(environ, start_response):
        seen.append(environ["PATH_INFO"] + "?" + environ.get("QUERY_STRING", ""))
        return app.wsgi_app(environ, start_response)

    middleware = Client(CachedPageViews(flask, app))
    assert middleware.get(f"/a/{slug}").status_code == 200  # nothing cached yet
    assert middleware.get(f"/a/{slug}?source=tw").status_code == 200  # tracking to keep
    assert middleware.get(f"/a/{draft}").status_code == 404
    assert middleware.get(f"/a/{slug}").status_code == 200  # cached: answered here
    app.extensions["page_caches"].clear()  # as when the cache period ends
    assert middleware.get(f"/a/{slug}").status_code == 200
    assert seen == [f"/a/{slug}?", f"/a/{slug}?source=tw", f"/a/{draft}?", f"/a/{slug}?"]
