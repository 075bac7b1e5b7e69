"""The emails letters travel in: to an office, as a digest, and the supporter's receipt."""

from __future__ import annotations

from email.message import Message

from flask import current_app

from campaign.letters.models import Channel, Letter, LetterDigest
from campaign.letters.services import letters_for_action
from campaign.letters.status_links import status_link_token
from campaign.mail.messages import build_message, mailbox
from campaign.supporters.models import Action
from campaign.targets.models import Target


def status_url(token: str) -> str:
    return f"{current_app.config['BASE_URL']}/letters/{token}"


def build_letter_message(letter: Letter) -> Message:
    """To the office, from our sending address, replies going to the supporter."""
    supporter, target = letter.action.supporter, letter.target
    return build_message(
        "letter",
        to=mailbox(target.name, target.email),
        reply_to=mailbox(supporter.full_name, supporter.email),
        subject=letter.subject,
        context={"letter": letter},
        idempotency_key=letter.idempotency_key,
    )


def build_digest_message(digest: LetterDigest, target: Target,
                         letters: list[Letter]) -> Message:
    subject = letters[0].subject
    return build_message(
        "letter_digest",
        to=mailbox(target.name, target.email),
        subject=f"{len(letters)} letters from constituents: {subject}",
        context={"letters": letters, "target": target},
        idempotency_key=f"digest:{digest.id}",
    )


CHANNEL_PROMISES = {
    Channel.EMAIL.value: "by email",
    Channel.DIGEST.value: "by email, with other supporters' letters",
    Channel.FALLBACK.value: "printed and delivered by our staff",
}


def build_letter_receipt(action: Action, confirm_url: str | None = None) -> Message:
    """The supporter's receipt: each target, how the letter travels, and a status link
    (the only way to it: the page after sending is the same for everyone; none once the
    link is gone); with the opt-in's confirmation link when there is one."""
    supporter, page = action.supporter, action.page
    letters = letters_for_action(action.id)
    token = status_link_token(action.id, secret_key=current_app.config["SECRET_KEY"])
    return build_message(
        "letter_receipt",
        to=mailbox(supporter.full_name, supporter.email),
        subject=f"Your letters: {page.title}",
        context={"supporter": supporter, "page": page, "letters": letters,
                 "promises": CHANNEL_PROMISES, "status_url": status_url(token) if token else None,
                 "link_days": current_app.config["LETTER_STATUS_LINK_DAYS"],
                 "confirm_url": confirm_url},
        idempotency_key=f"thank-you:{action.id}",
    )
