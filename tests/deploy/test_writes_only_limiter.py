"""WritesOnlyLimiter overrides a private method of Flask-Limiter: these fail when an upgrade
renames it or changes its arguments, which would quietly bring back the limit checks on
every request (or, worse, stop the ones on writes)."""

from __future__ import annotations

import inspect

from flask import Flask, request
from flask_limiter import Limiter

from campaign.extensions import WritesOnlyLimiter, limiter


def test_flask_limiter_still_has_the_method_we_override_with_its_arguments():
    assert "_check_request_limit" in vars(Limiter)
    assert "_check_request_limit" in vars(WritesOnlyLimiter)
    parameters = inspect.signature(Limiter._check_request_limit).parameters.values()
    assert [(p.name, p.kind, p.default) for p in parameters] == [
        ("self", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
        ("callable_name", inspect.Parameter.POSITIONAL_OR_KEYWORD, None),
        ("in_middleware", inspect.Parameter.POSITIONAL_OR_KEYWORD, True)]
    ours = inspect.signature(WritesOnlyLimiter._check_request_limit).parameters.values()
    assert [(p.name, p.default) for p in ours] == [(p.name, p.default) for p in parameters]


def test_the_check_before_every_request_is_the_override(app):
    hooks = app.before_request_funcs[None]
    assert any(getattr(hook, "__self__", None) is limiter
               and hook.__func__ is WritesOnlyLimiter._check_request_limit for hook in hooks)


def test_only_a_write_to_a_limited_view_reaches_flask_limiter_s_check():
    reached: list[tuple[str, bool]] = []

    class RecordingLimiter(Limiter):
        def _check_request_limit(self, callable_name=None, in_middleware=True):
            reached.append((request.method, in_middleware))
            super()._check_request_limit(callable_name, in_middleware)

    class Probe(WritesOnlyLimiter, RecordingLimiter):
        """WritesOnlyLimiter in front of Flask-Limiter's own check, which records calls."""

    probe = Probe(key_func=lambda: "one client", default_limits=[], storage_uri="memory://")
    site = Flask(__name__)
    probe.init_app(site)

    @site.route("/form", methods=["GET", "POST"])
    @probe.limit("1/minute", methods=["POST"])
    def form():
        return "ok"

    @site.get("/page")
    def page():
        return "ok"

    client = site.test_client()
    assert [client.get(path).status_code for path in ("/page", "/form", "/form")] == [200] * 3
    assert reached == []
    assert [client.post("/form").status_code for _ in range(2)] == [200, 429]
    assert reached == [("POST", False), ("POST", False)]
