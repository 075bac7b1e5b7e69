"""Tasks for supporters: the thank-you email and its sweep."""

from __future__ import annotations

import logging

from celery import shared_task

from campaign.extensions import db, enqueue
from campaign.mail.transport import PermanentMailError, TransientMailError, current_transport
from campaign.supporters import services
from campaign.supporters.thanks import build_thank_you
from workers.retry import jittered_backoff

log = logging.getLogger(__name__)

MAX_RETRIES = 8


def backoff_seconds(retries: int) -> float:
    """10 s, 20 s, 40 s ... capped at 10 minutes, with jitter."""
    return jittered_backoff(retries, base=10, cap=600)


@shared_task(name="supporters.send_thank_you", bind=True, max_retries=MAX_RETRIES)
def send_thank_you(self, action_id: int) -> None:
    """Sends one thank-you email, once: the claim is committed before the send and the
    outcome in the same transaction that marks it done."""
    action = services.claim_thank_you(action_id)
    db.session.commit()
    if action is None:
        return  # gone, sent, or being sent by another copy of this task
    try:
        message = build_thank_you(action)
    except ValueError as exc:  # an address the email package refuses: retrying won't help
        services.fail_thank_you(action, f"unbuildable: {exc}")
        db.session.commit()
        return
    try:
        current_transport().send(message)
    except TransientMailError as exc:
        if self.request.retries >= self.max_retries:
            services.fail_thank_you(action, str(exc))
            db.session.commit()
            return
        services.release_thank_you(action, str(exc))
        db.session.commit()
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries))
    except PermanentMailError as exc:
        services.fail_thank_you(action, str(exc))
        db.session.commit()
        return
    services.mark_thank_you_sent(action)
    db.session.commit()


@shared_task(name="supporters.sweep_thank_yous")
def sweep_thank_yous() -> int:
    """Re-queues thank-yous whose broker message was lost or whose worker died."""
    action_ids = services.thank_yous_to_requeue()
    for action_id in action_ids:
        enqueue(send_thank_you, action_id)
    if action_ids:
        log.info("re-queued %d thank-you emails", len(action_ids))
    return len(action_ids)
