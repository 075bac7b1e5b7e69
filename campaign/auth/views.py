"""Staff sign-in, sign-out, and a staff member's own password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from campaign.auth import services
from campaign.auth.audit import record_staff_event
from campaign.auth.forms import ChangePasswordForm, LoginForm
from campaign.extensions import db, limiter

bp = Blueprint("auth", __name__, url_prefix="/staff")

# One message for an unknown email, a wrong password and a disabled account alike.
LOGIN_FAILED = "That email and password don't match an active staff account."


def login_limit() -> str:
    return current_app.config["STAFF_LOGIN_RATE_LIMIT"]


def _only_failures(response) -> bool:
    # A successful sign-in redirects; only the rest count towards the limit.
    return response.status_code != 303


@bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def safe_next(target: str | None) -> str:
    """`?next=` only ever leads to a path on this site, never to another host."""
    default = url_for("staff.index")
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(c in target for c in "\r\n\t\\"):
        return default
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"], deduct_when=_only_failures)
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    user = services.authenticate(form.email.data, form.password.data)
    if user is None:
        db.session.rollback()
        return render_template("auth/login.html", form=form, failed=LOGIN_FAILED), 401
    record_staff_event("account.signed_in", user.email, by=user)
    db.session.commit()
    # Nothing from before sign-in (a planted session included) carries over.
    session.clear()
    login_user(user)
    return redirect(safe_next(request.args.get("next")), 303)


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for(".login"), 303)


@bp.route("/account", methods=["GET", "POST"])
@login_required
@limiter.limit(login_limit, methods=["POST"], deduct_when=_only_failures)
def account():
    """A staff member's own password. A new one signs out their other sessions (a
    forgotten laptop, a session someone else took) and keeps this one."""
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/account.html", form=form), 400 if form.errors else 200
    user = current_user._get_current_object()
    try:
        services.change_own_password(user, form.current_password.data, form.new_password.data)
    except services.StaffError as error:
        db.session.rollback()
        return render_template("auth/account.html", form=form, failed=str(error)), 400
    record_staff_event("account.password_changed", user.email)
    db.session.commit()
    session.clear()
    login_user(user)  # this session, under the account's new epoch
    flash("Your password is changed, and your other sessions are signed out.", "info")
    return redirect(url_for(".account"), 303)
