"""Recording signatures when several arrive at once with one email, on PostgreSQL and on
SQLite (the embedded default, which takes turns at its database lock)."""

from __future__ import annotations

import threading

from campaign.pages import services as page_services
from campaign.supporters.services import Signature, SignResult, commit_signature


def test_simultaneous_signatures_with_one_email_make_one_supporter_and_one_action_per_page(
        site):
    app, query = site.app, site.query
    page_ids = []
    for slug in (site.create_page(), site.create_page()):
        with app.app_context():
            page_ids.append(page_services.load_page_view(slug).id)
    # The same person, typed differently, on two pages, four times each, all at once:
    # they meet at the database's unique constraints, on connections of their own.
    emails = ["Min-ji@Example.org", "min-ji@example.org", "MIN-JI@EXAMPLE.ORG",
              "min-ji@Example.ORG"]
    start = threading.Barrier(8)
    results: list[tuple[int, SignResult]] = []
    errors: list[BaseException] = []

    def sign(page_id: int, email: str) -> None:
        try:
            with app.app_context():
                start.wait()
                result = commit_signature(page_id, Signature(email=email, first_name="Min-ji",
                                                             last_name="Kang", opted_in=True),
                                          "v1")
            results.append((page_id, result))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=sign, args=(page_id, email))
               for page_id in page_ids for email in emails]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(results) == 8
    assert query("SELECT email FROM supporters") == [("min-ji@example.org",)]
    [(supporter_id,)] = query("SELECT id FROM supporters")
    for page_id in page_ids:
        recorded = [result for pid, result in results if pid == page_id]
        assert sum(not result.is_duplicate for result in recorded) == 1
        assert {result.supporter_id for result in recorded} == {supporter_id}
    assert query("SELECT count(*), count(DISTINCT action_page_id) FROM actions") == [(2, 2)]
    assert query("SELECT count(*) FROM consents") == [(2,)]
