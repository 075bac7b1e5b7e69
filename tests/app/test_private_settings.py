"""The privacy settings' defaults: parameters hidden everywhere, attribution as counts,
status links that expire."""

from __future__ import annotations

import pytest

from campaign.config import CONFIGS, _env_bool


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_configuration_hides_bound_parameters(name):
    assert CONFIGS[name].SQLALCHEMY_ENGINE_OPTIONS["hide_parameters"] is True


def test_attribution_per_person_is_off_and_links_expire_by_default(app):
    assert app.config["ATTRIBUTION_PER_PERSON"] is False
    assert app.config["LETTER_STATUS_LINK_DAYS"] == 90


@pytest.mark.parametrize("value,expected", [
    ("true", True), ("1", True), ("Yes", True), ("on", True),
    ("false", False), ("0", False), ("no", False), ("", False)])
def test_on_off_settings_read_the_usual_words(monkeypatch, value, expected):
    monkeypatch.setenv("ATTRIBUTION_PER_PERSON", value)
    assert _env_bool("ATTRIBUTION_PER_PERSON") is expected
