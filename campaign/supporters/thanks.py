"""The thank-you email a supporter receives after signing."""

from __future__ import annotations

from email.message import Message
from urllib.parse import quote

from flask import current_app

from campaign.mail.messages import build_message, mailbox
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


def build_thank_you(action: Action) -> Message:
    """The email sent once after an action. A domain may register its own for a page kind
    (letters send a receipt listing each letter) in app.extensions["thank_you_builders"]."""
    supporter, page = action.supporter, action.page
    builder = current_app.extensions.get("thank_you_builders", {}).get(page.kind)
    if builder is not None:
        return builder(action)
    url = page_url(page.slug)
    return build_message(
        "thank_you",
        to=mailbox(supporter.full_name, supporter.email),
        subject=f"Thank you for signing: {page.title}",
        context={"supporter": supporter, "page": page, "page_url": url,
                 "share_links": share_links(url, page.title)},
        idempotency_key=f"thank-you:{action.id}",
    )
