"""Staff find a supporter whose address has an internationalised domain by either
spelling of it: as typed in its own script, or in the ASCII form it is stored in."""

from __future__ import annotations

import pytest

from tests.staff.conftest import page_text


@pytest.mark.parametrize("typed", ["ji-woo@한국.example.org", "JI-WOO@xn--3e0b707e.example.org",
                                   "ji-woo@xn--3e0b707e", "ji-woo@"])
def test_staff_find_an_internationalised_address_either_way(staff_client, create_page, sign,
                                                            typed):
    assert sign(create_page(), email="ji-woo@한국.example.org").status_code == 303
    html = page_text(staff_client.get("/staff/supporters/", query_string={"q": typed}))
    assert ">ji-woo@xn--3e0b707e.example.org</a>" in html
