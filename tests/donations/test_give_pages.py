"""What the donation page and the thank-you steps show: money raised against the goal
(exact, from the ledger, refunds taken off), never "people have acted" on a donation
page, and the gift ask after signing or writing when the campaign has a live donation
page."""

from __future__ import annotations

from datetime import datetime, timezone

from campaign.donations.models import Donation
from campaign.extensions import db
from campaign.pages import services as page_services
from tests.donations.giving import donation_page
from tests.helpers import csrf_token, valid_signature


def add_donation(app, slug: str, amount: int, refunded: int = 0) -> None:
    """A ledger row as the ledger writes it (that module is not under test here)."""
    with app.app_context():
        page = page_services.load_page_view(slug)
        n = db.session.query(Donation).count()
        db.session.add(Donation(
            stripe_payment_intent_id=f"pi_test_{slug}_{n}", action_page_id=page.id,
            frequency="one_time", amount=amount, currency="usd", amount_refunded=refunded,
            charged_at=datetime.now(timezone.utc)))
        db.session.commit()


def test_the_thermometer_shows_money_raised_less_refunds(app, client, create_page):
    slug = donation_page(app, create_page)
    add_donation(app, slug, 2500)
    add_donation(app, slug, 10000, refunded=2500)
    other = donation_page(app, create_page)
    add_donation(app, other, 99900)
    html = client.get(f"/a/{slug}").get_data(as_text=True)
    assert "<strong>$100</strong> raised." in html
    assert '<progress max="5000000" value="10000">' in html
    assert "people have acted" not in html and "person has acted" not in html


def test_a_petition_still_counts_people(client, create_page, sign):
    slug = create_page()
    sign(slug)
    assert "person has acted" in client.get(f"/a/{slug}").get_data(as_text=True)


def test_the_thank_you_asks_for_a_gift_when_the_campaign_has_a_live_donation_page(
        app, client, create_page, sign):
    petition = create_page()
    assert sign(petition).status_code == 303
    assert "gift-ask" not in client.get(f"/a/{petition}/thanks").get_data(as_text=True)
    draft = donation_page(app, create_page, status="draft")
    assert f"/a/{draft}/give" not in client.get(f"/a/{petition}/thanks").get_data(
        as_text=True)

    live = donation_page(app, create_page, title="Fund the research")
    thanks = client.get(f"/a/{petition}/thanks").get_data(as_text=True)
    assert "gift-ask" in thanks and "Fund the research" in thanks
    assert f'action="/a/{live}/give"' in thanks
    assert 'name="source" type="hidden" value="thank-you"' in thanks
    # The ask's form works as the page's own does.
    token = csrf_token(client, petition)
    response = client.post(f"/a/{live}/give", data={
        "csrf_token": token, "amount": "50", "currency": "usd", "frequency": "one_time",
        **valid_signature(), "source": "thank-you"})
    assert response.status_code == 303 and "/give/" in response.headers["Location"]


def test_the_letters_sent_page_asks_too(app, client, create_page):
    from campaign.letters.services import save_settings

    letter = create_page(kind="letter")
    with app.app_context():
        save_settings(letter, subject="Enforce the sanctions", body_template="Please act.",
                      targets_house=True)
        db.session.commit()
    donation_page(app, create_page)
    assert "gift-ask" in client.get(f"/a/{letter}/letter/sent").get_data(as_text=True)


def test_a_plain_signature_on_a_donation_page_is_refused(app, client, create_page, query):
    slug = donation_page(app, create_page)
    refused = client.post(f"/a/{slug}", data={"csrf_token": csrf_token(client, slug),
                                              **valid_signature()})
    assert refused.status_code == 400
    assert query("SELECT count(*) FROM actions") == [(0,)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_money_raised_is_at_most_two_count_periods_stale(app, client, create_page,
                                                          monkeypatch):
    """As production has them (COUNT_CACHE_SECONDS = 1): the rendered page and the sum
    are each kept for one period, so a gift shows within two, fast path included."""
    from campaign.pages.cache import PageCaches, TTLCache

    clock = Clock()
    caches = PageCaches(page_seconds=60, count_seconds=1)
    caches.pages, caches.counts, caches.rendered = (
        TTLCache(60, clock=clock), TTLCache(1, clock=clock), TTLCache(1, clock=clock))
    monkeypatch.setitem(app.extensions, "page_caches", caches)
    slug = donation_page(app, create_page)
    assert "<strong>$0</strong> raised" in client.get(f"/a/{slug}").get_data(as_text=True)
    clock.now = 0.5
    client.get(f"/a/{slug}?source=x")  # a view that renders (a query goes to Flask)
    add_donation(app, slug, 2500)
    clock.now = 0.9
    assert "<strong>$0</strong> raised" in client.get(f"/a/{slug}").get_data(as_text=True)
    clock.now = 2.0
    assert "<strong>$25</strong> raised" in client.get(f"/a/{slug}").get_data(as_text=True)
