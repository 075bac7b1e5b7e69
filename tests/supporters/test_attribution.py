"""Where signers came from (?source=, UTM fields, referring site) is counted per page and
UTC day; it is stored on a signature, tied to a person, only with ATTRIBUTION_PER_PERSON."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from campaign.extensions import db
from campaign.pages import services as page_services
from campaign.supporters.services import Signature, commit_signature, record_signature

NEWSLETTER = {"source": "newsletter", "medium": "email", "campaign": "nov"}
COUNTS = ("SELECT source, utm_source, utm_medium, utm_campaign, utm_content, referrer, "
          "signatures FROM signature_attribution_counts ORDER BY signatures DESC, source")
ACTION_ATTRIBUTION = ("SELECT DISTINCT source, utm_source, utm_medium, utm_campaign, "
                      "utm_term, utm_content, referrer FROM actions")


def _sign(app, slug: str, count: int, per_person: bool, **fields) -> None:
    with app.app_context():
        page_id = page_services.load_page_view(slug).id
        for n in range(count):
            result = commit_signature(page_id, Signature(
                email=f"signer-{uuid.uuid4().hex[:8]}@example.org", first_name="Min-ji",
                last_name="Kang", attribution_per_person=per_person, **fields), "v1")
            assert not result.is_duplicate


def test_attribution_is_counted_for_the_page_and_not_kept_on_the_signature(
        app, create_page, query):
    slug = create_page()
    # Many times on the pool's connection: the hot path's upsert stays valid once
    # psycopg prepares it.
    _sign(app, slug, 25, False, source="mail", utm=NEWSLETTER, referrer="https://forum.example")
    _sign(app, slug, 1, False, utm={"content": "hye-jin@example.org"})
    with app.app_context():
        page_id = page_services.load_page_view(slug).id
        record_signature(page_id, Signature(email="plain@example.org", first_name="A",
                                            last_name="B"), "v1")
        db.session.commit()

    assert query("SELECT count(*) FROM actions") == [(27,)]
    assert query(ACTION_ATTRIBUTION) == [("", "", "", "", "", "", "")]
    # A signature that came with nothing is not counted here; an address is never kept.
    assert query(COUNTS) == [
        ("mail", "newsletter", "email", "nov", "", "https://forum.example", 25),
        ("", "", "", "", "<address>", "", 1)]
    today = datetime.now(timezone.utc).date()
    assert query("SELECT DISTINCT day FROM signature_attribution_counts") == [(today,)]


def test_with_per_person_attribution_the_signature_keeps_it_too(app, create_page, query):
    slug = create_page()
    _sign(app, slug, 2, True, source="mail", utm=NEWSLETTER, referrer="https://forum.example")
    assert query(ACTION_ATTRIBUTION) == [
        ("mail", "newsletter", "email", "nov", "", "", "https://forum.example")]
    assert query(COUNTS) == [("mail", "newsletter", "email", "nov", "", "https://forum.example", 2)]


def test_a_second_signature_on_the_page_is_not_counted(app, create_page, query):
    slug = create_page()
    with app.app_context():
        page_id = page_services.load_page_view(slug).id
        for _ in range(2):
            commit_signature(page_id, Signature(email="twice@example.org", first_name="A",
                                                last_name="B", source="mail"), "v1")
    assert query("SELECT source, signatures FROM signature_attribution_counts") == [("mail", 1)]


@pytest.mark.parametrize("per_person", [False, True])
def test_the_embedded_default_counts_the_same_on_sqlite(embedded_app, per_person):
    app = embedded_app
    with app.app_context():
        campaign = page_services.create_campaign(slug="c", name="C")
        page = page_services.create_page(campaign, slug="p", title="P", kind="petition",
                                         status="live", body_markdown="x", cards=[])
        db.session.commit()
        for n in range(3):
            record_signature(page.id, Signature(
                email=f"s{n}@example.org", first_name="A", last_name="B", source="mail",
                utm=NEWSLETTER, attribution_per_person=per_person), "v1")
            db.session.commit()
        counts = db.session.execute(db.text(
            "SELECT source, utm_campaign, signatures FROM signature_attribution_counts")).all()
        stored = db.session.execute(db.text(
            "SELECT DISTINCT source, utm_campaign FROM actions")).all()
    assert [tuple(row) for row in counts] == [("mail", "nov", 3)]
    assert [tuple(row) for row in stored] == [("mail", "nov") if per_person else ("", "")]
