"""Confirming email updates from the link in a thank-you email.

GET shows a page with a button and changes nothing: mail scanners and link previews
fetch every link in an email, and must not opt anyone in. The button's POST, with the
public forms' CSRF token (a scanner has neither the cookie nor the page), confirms.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from campaign.extensions import db, limiter
from campaign.public_forms import form_token, public_form, public_post_limit
from campaign.supporters.consents import confirm_consent, pending_consent

bp = Blueprint("supporters", __name__)

# A token is 43 URL-safe characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 100


@bp.after_request
def no_store(response):
    # The page answers for one person's consent: no cache keeps it.
    response.headers["Cache-Control"] = "no-store"
    return response


def _invalid():
    return render_template("supporters/confirm_invalid.html"), 410


@bp.get("/confirm/<token>")
def confirm_page(token: str):
    if len(token) > MAX_TOKEN_LENGTH or pending_consent(token) is None:
        return _invalid()
    return render_template("supporters/confirm.html", token=token, csrf_token=form_token())


@bp.post("/confirm/<token>")
@limiter.limit(public_post_limit, methods=["POST"])
@public_form
def confirm(token: str):
    if len(token) > MAX_TOKEN_LENGTH or not confirm_consent(token):
        db.session.rollback()
        return _invalid()
    db.session.commit()
    return render_template("supporters/confirmed.html")
