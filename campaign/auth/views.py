"""Staff sign-in, sign-out, and a staff member's own password."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from campaign.auth import services, sessions
from campaign.auth.audit import record_staff_event
from campaign.auth.forms import ChangePasswordForm, LoginForm
from campaign.auth.models import StaffUser
from campaign.auth.throttle import AccountThrottle
from campaign.extensions import db, limiter

bp = Blueprint("auth", __name__, url_prefix="/staff")

# One message for an unknown email, a wrong password and a disabled account alike.
LOGIN_FAILED = "That email and password don't match an active staff account."
# The same for every email typed, account or not.
ACCOUNT_PAUSED = ("Too many wrong passwords have been given for this email address, from "
                  "wherever they came, so its sign-in is paused. Please try again in "
                  "{minutes} minute{s}. If they weren't all yours, tell an admin.")


def login_limit() -> str:
    return current_app.config["STAFF_LOGIN_RATE_LIMIT"]


def _failed_password(response) -> bool:
    # Only a password checked and found wrong counts towards the per-address limit: not a
    # success, not a form sent without its token, not an attempt already refused, so a
    # shared address is not used up by the staff members who sign in right.
    return g.get("failed_password", False)


def _account_throttle() -> AccountThrottle:
    return AccountThrottle.for_app(current_app._get_current_object())


def _paused_message(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return ACCOUNT_PAUSED.format(minutes=minutes, s="" if minutes == 1 else "s")


def _failed(email: str) -> None:
    g.failed_password = True
    _account_throttle().record_failure(email)


def _start_session(user: StaffUser) -> str:
    """A new server-side session for `user` (flushed; the caller commits, then calls
    _sign_in_browser with the token)."""
    return sessions.start_staff_session(
        user, lifetime=timedelta(hours=current_app.config["STAFF_SESSION_MAX_HOURS"]))


def _sign_in_browser(user: StaffUser, token: str) -> None:
    # Nothing from before (a planted session, an earlier sign-in) carries over.
    session.clear()
    user.session_token = token
    login_user(user)


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
@limiter.limit(login_limit, methods=["POST"], deduct_when=_failed_password)
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    email = form.email.data
    # Checked before the password, and the right one waits too: a pause that let the
    # right password through would tell a guesser when they had found it.
    wait = _account_throttle().seconds_to_wait(email)
    if wait is not None:
        return render_template("auth/login.html", form=form,
                               failed=_paused_message(wait)), 429
    user = services.authenticate(email, form.password.data)
    if user is None:
        db.session.rollback()
        _failed(email)
        return render_template("auth/login.html", form=form, failed=LOGIN_FAILED), 401
    _account_throttle().clear(email)
    token = _start_session(user)
    record_staff_event("account.signed_in", user.email, by=user)
    db.session.commit()
    _sign_in_browser(user, token)
    return redirect(safe_next(request.args.get("next")), 303)


@bp.post("/logout")
def logout():
    """Ends the session on the server: a copy of the cookie is refused from now on."""
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        sessions.end_staff_session(user.session_token)
        record_staff_event("account.signed_out", user.email)
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for(".login"), 303)


@bp.route("/account", methods=["GET", "POST"])
@login_required
@limiter.limit(login_limit, methods=["POST"], deduct_when=_failed_password)
def account():
    """A staff member's own password. A new one ends every session of the account (a
    forgotten laptop, a session someone else took); this browser gets a new one."""
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/account.html", form=form), 400 if form.errors else 200
    user = current_user._get_current_object()
    # Guesses at the current password count against the account like failed sign-ins.
    wait = _account_throttle().seconds_to_wait(user.email)
    if wait is not None:
        return render_template("auth/account.html", form=form,
                               failed=_paused_message(wait)), 429
    try:
        services.change_own_password(user, form.current_password.data, form.new_password.data)
    except services.StaffError as error:
        db.session.rollback()
        if isinstance(error, services.WrongPassword):
            _failed(user.email)
        return render_template("auth/account.html", form=form, failed=str(error)), 400
    token = _start_session(user)
    record_staff_event("account.password_changed", user.email)
    db.session.commit()
    _sign_in_browser(user, token)
    flash("Your password is changed, and your other sessions are signed out.", "info")
    return redirect(url_for(".account"), 303)
