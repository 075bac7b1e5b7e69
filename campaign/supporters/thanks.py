"""The thank-you email a supporter receives after signing."""

from __future__ import annotations

from datetime import timedelta
from email.message import Message
from urllib.parse import quote

from flask import current_app

from campaign.mail.messages import build_message, mailbox
from campaign.supporters.consents import issue_confirmation
from campaign.supporters.models import Action


def share_links(page_url: str, title: str) -> list[tuple[str, str]]:
    """Plain links: nothing from these sites loads until the supporter clicks one."""
    url, text = quote(page_url, safe=""), quote(title, safe="")
    return [
        ("Email", f"mailto:?subject={text}&body={url}"),
        ("WhatsApp", f"https://wa.me/?text={text}%20{url}"),
        ("Telegram", f"https://t.me/share/url?url={url}&text={text}"),
        ("X", f"https://x.com/intent/post?url={url}&text={text}"),
        ("Facebook", f"https://www.facebook.com/sharer/sharer.php?u={url}"),
    ]


def page_url(slug: str) -> str:
    return f"{current_app.config['BASE_URL']}/a/{slug}"


def confirm_url(action: Action) -> str | None:
    """A fresh link confirming the supporter's opt-in on the action's page, if they ticked
    the box there and have not confirmed it yet."""
    config = current_app.config
    token = issue_confirmation(action.supporter_id, action.action_page_id,
                               timedelta(seconds=config["CONSENT_CONFIRM_EXPIRES_SECONDS"]))
    return f"{config['BASE_URL']}/confirm/{token}" if token else None


def _thank_you_builders() -> dict:
    """The page kinds (campaign.pages.kinds) that build their own email, by kind name."""
    return {name: kind.thank_you_builder
            for name, kind in current_app.extensions.get("page_kinds", {}).items()
            if kind.thank_you_builder is not None}


def receipt_kinds() -> frozenset[str]:
    """Page kinds whose email is a receipt the supporter needs (letters: their status
    link), so one beyond the address's email of the day waits instead of being skipped."""
    return frozenset(_thank_you_builders())


def build_thank_you(action: Action) -> Message:
    """The email sent once after an action, or the notice a second signature asked for.
    A page kind may build its own (letters send a receipt listing each letter): its
    thank_you_builder(action, confirm_url)."""
    if action.notice_requested_at is not None:
        return build_already_signed_notice(action)
    supporter, page = action.supporter, action.page
    confirm = confirm_url(action)
    builder = _thank_you_builders().get(page.kind)
    if builder is not None:
        return builder(action, confirm)
    url = page_url(page.slug)
    return build_message(
        "thank_you",
        to=mailbox(supporter.full_name, supporter.email),
        subject=f"Thank you for signing: {page.title}",
        context={"supporter": supporter, "page": page, "page_url": url,
                 "share_links": share_links(url, page.title), "confirm_url": confirm},
        idempotency_key=f"thank-you:{action.id}",
    )


def build_already_signed_notice(action: Action) -> Message:
    """To the address's owner only: a second signature with their address changed
    nothing. The page that took it looked exactly as for a first signature."""
    supporter, page = action.supporter, action.page
    asked_at = action.notice_requested_at
    return build_message(
        "already_signed",
        to=mailbox(supporter.full_name, supporter.email),
        subject=f"You had already taken part: {page.title}",
        context={"supporter": supporter, "page": page, "page_url": page_url(page.slug),
                 "signed_on": action.created_at, "asked_on": asked_at},
        # One Message-ID per notice: two asked for within a second must not share one.
        idempotency_key=f"already-signed:{action.id}:{int(asked_at.timestamp() * 1e6)}",
    )
