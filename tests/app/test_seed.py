"""`flask seed-demo` creates the demo campaign once, with every card sourced."""

from __future__ import annotations


def test_seed_demo_creates_the_campaign_and_running_it_again_changes_nothing(app, query):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "Created" in first.output
    snapshot = [query(f"SELECT * FROM {table} ORDER BY 1")
                for table in ("campaigns", "action_pages", "evidence_cards",
                              "donation_settings")]

    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0
    assert "nothing changed" in second.output
    assert snapshot == [query(f"SELECT * FROM {table} ORDER BY 1")
                        for table in ("campaigns", "action_pages", "evidence_cards",
                                      "donation_settings")]

    pages = query("SELECT slug, kind, status FROM action_pages ORDER BY id")
    assert pages == [("enforce-forced-labour-sanctions", "letter", "live"),
                     ("stop-forced-repatriation", "petition", "live"),
                     ("fund-the-work", "donation", "live")]
    # The donation page goes live with its giving settings (amounts in cents).
    assert query("SELECT currency, suggested_amounts, minimum_amount, maximum_amount, "
                 "fee_cover_basis_points, tribute_enabled, goal_amount FROM donation_settings"
                 ) == [("usd", "1000,2500,5000,10000", 100, 1_000_000, 300, True, 5_000_000)]
    cards = query("SELECT claim, source_title, source_url FROM evidence_cards")
    assert len(cards) >= 8
    for claim, source_title, source_url in cards:
        assert claim and source_title
        assert source_url.startswith("https://")


def test_seeded_pages_render(app, client):
    app.test_cli_runner().invoke(args=["seed-demo"])
    html = client.get("/a/stop-forced-repatriation").get_data(as_text=True)
    assert "Stop sending refugees back to North Korea" in html
    assert "91.6%" not in html  # that card belongs to the letter page
    letter = client.get("/a/enforce-forced-labour-sanctions").get_data(as_text=True)
    assert "91.6%" in letter
    assert "Human Rights Watch" in letter
