"""Supporters and their actions: signing, consent, and the thank-you email's state."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import and_, bindparam, func, or_, select, text, update
from sqlalchemy.orm import joinedload

from campaign.common.sql import (
    autocommit_driver_connection,
    committing_each,
    constant,
    driver_sql,
    session_driver_connection,
    upsert_insert,
)
from campaign.common.text import normalise_email, without_addresses
from campaign.common.types import utcnow
from campaign.extensions import db
from campaign.pages.models import ActionPage
from campaign.supporters.models import (
    Action,
    Consent,
    SignatureAttributionCount,
    Supporter,
    ThankYouStatus,
)

EMAIL_UPDATES = "email_updates"


@dataclass(frozen=True)
class Signature:
    email: str
    first_name: str
    last_name: str
    postal_code: str = ""
    country: str = ""
    town: str = ""
    opted_in: bool = False
    source: str = ""
    utm: dict[str, str] | None = None
    referrer: str = ""
    # Off: where the signer came from is only counted (SignatureAttributionCount), never
    # stored on their action (the ATTRIBUTION_PER_PERSON setting).
    attribution_per_person: bool = False


@dataclass(frozen=True)
class SignResult:
    action_id: int | None  # None: this supporter had signed the page already
    supporter_id: int

    @property
    def is_duplicate(self) -> bool:
        return self.action_id is None


UTM_KEYS = ("source", "medium", "campaign", "term", "content")
DETAIL_COLUMNS = ("first_name", "last_name", "postal_code", "country", "town")
ATTRIBUTION_COLUMNS = ("source", *(f"utm_{key}" for key in UTM_KEYS), "referrer")
ACTION_COLUMNS = ("action_page_id", "created_at", "thank_you_status", "thank_you_attempts",
                  "thank_you_error", *ATTRIBUTION_COLUMNS)
# The attribution counted for the page, as parameters named apart from the action's own.
COUNTED_COLUMNS = {column: f"counted_{column}" for column in ATTRIBUTION_COLUMNS}


@lru_cache(maxsize=4)
def _signature_statements(dialect: str):
    """The two upserts of a signature, built once per dialect: building statements per
    request cost more CPU than running them (profiled)."""
    insert = upsert_insert(dialect)
    supporters, actions = Supporter.__table__, Action.__table__
    add_supporter = (insert(supporters)
                     .values({c: bindparam(c) for c in ("email", *DETAIL_COLUMNS, "created_at")})
                     .on_conflict_do_nothing(index_elements=["email"])
                     .returning(supporters.c.id))
    add_action = (insert(actions)
                  .values({c: bindparam(c) for c in ("supporter_id", *ACTION_COLUMNS)})
                  .on_conflict_do_nothing(index_elements=["action_page_id", "supporter_id"])
                  .returning(actions.c.id))
    counts = SignatureAttributionCount.__table__
    count_attribution = insert(counts).values(
        action_page_id=bindparam("action_page_id"), day=bindparam("counted_day"),
        attribution_key=bindparam("counted_key"), signatures=1,
        **{column: bindparam(name) for column, name in COUNTED_COLUMNS.items()})
    count_attribution = count_attribution.on_conflict_do_update(
        index_elements=["action_page_id", "day", "attribution_key"],
        set_={"signatures": counts.c.signatures + 1})
    return add_supporter, add_action, count_attribution


def record_signature(page_id: int, signature: Signature, consent_version: str) -> SignResult:
    """Writes supporter, action and consent for one signature; the caller commits.

    Concurrent signatures with one email meet at the database's unique constraints
    (`ON CONFLICT`), not in Python. A second signature on the same page returns a
    result with no action and changes nothing; the caller should roll back.
    """
    email = normalise_email(signature.email)
    now = utcnow()
    if db.engine.dialect.name == "postgresql":
        return _record_signature_in_one_statement(session_driver_connection(), page_id,
                                                  signature, email, now, consent_version)
    add_supporter, add_action, count_attribution = _signature_statements(db.engine.dialect.name)
    supporter_id = db.session.execute(add_supporter, {
        **_supporter_values(signature), "email": email, "created_at": now}).scalar()
    is_new_supporter = supporter_id is not None
    if not is_new_supporter:
        supporter_id = db.session.scalar(select(Supporter.id).where(Supporter.email == email))

    action_id = db.session.execute(add_action, {
        **_action_values(page_id, signature, now), "supporter_id": supporter_id}).scalar()
    if action_id is None:
        return SignResult(action_id=None, supporter_id=supporter_id)

    if not is_new_supporter:
        _fill_blank_details(supporter_id, signature)
    counted = _counted_attribution(page_id, signature, now)
    if counted["count_attribution"]:
        db.session.execute(count_attribution, counted)
    if signature.opted_in:
        db.session.add(Consent(supporter_id=supporter_id, action_page_id=page_id,
                               kind=EMAIL_UPDATES, wording_version=consent_version,
                               granted_at=now, confirmed_at=None))  # pending: see consents.py
    db.session.flush()
    return SignResult(action_id=action_id, supporter_id=supporter_id)


def commit_signature(page_id: int, signature: Signature, consent_version: str) -> SignResult:
    """record_signature, committed; for a second signature nothing is written.

    For a signature that writes nothing else: on PostgreSQL its one statement runs as a
    transaction of its own on a pooled connection, without the session (two round trips
    and a third of the CPU fewer than the session's BEGIN, statement and COMMIT).
    """
    if db.engine.dialect.name != "postgresql":
        result = record_signature(page_id, signature, consent_version)
        if result.is_duplicate:
            db.session.rollback()
        else:
            db.session.commit()
        return result
    with autocommit_driver_connection() as connection:
        return _record_signature_in_one_statement(
            connection, page_id, signature, normalise_email(signature.email), utcnow(),
            consent_version)


def _supporter_values(signature: Signature) -> dict:
    return {column: getattr(signature, column) for column in DETAIL_COLUMNS}


def _attribution(signature: Signature) -> dict[str, str]:
    utm = signature.utm or {}
    values = {"source": signature.source, "referrer": signature.referrer,
              **{f"utm_{key}": utm.get(key, "") for key in UTM_KEYS}}
    # Mailing tools can put the subscriber's address in a UTM field: never keep one.
    return {column: without_addresses(value) if value else ""
            for column, value in values.items()}


def _action_values(page_id: int, signature: Signature, now) -> dict:
    attribution = _attribution(signature) if signature.attribution_per_person else {}
    return {"action_page_id": page_id, "created_at": now,
            "thank_you_status": ThankYouStatus.PENDING.value, "thank_you_attempts": 0,
            "thank_you_error": "",
            **{column: attribution.get(column, "") for column in ATTRIBUTION_COLUMNS}}


def _counted_attribution(page_id: int, signature: Signature, now) -> dict:
    """The parameters that add one to the page's count for this signature's attribution
    on this UTC day; `count_attribution` is false when it came with none."""
    attribution = _attribution(signature)
    counted = any(attribution.values())
    key = hashlib.sha256("\x1f".join(attribution[c] for c in ATTRIBUTION_COLUMNS)
                         .encode()).hexdigest() if counted else ""
    return {"action_page_id": page_id, "counted_day": now.date(), "counted_key": key,
            "count_attribution": counted,
            **{COUNTED_COLUMNS[column]: value for column, value in attribution.items()}}


def _fill_blank_details(supporter_id: int, signature: Signature) -> None:
    # Anyone can type anyone's email into a public form, so a new signature may fill in
    # what we lack but never overwrites what the supporter told us before.
    for column, value in _supporter_values(signature).items():
        if value:
            db.session.execute(
                update(Supporter)
                .where(Supporter.id == supporter_id, getattr(Supporter, column) == "")
                .values({column: value}))


# The same writes as the portable path above, as one PostgreSQL statement: one round trip
# instead of five is most of a signature's cost (profiled). Every part of a statement sees
# the snapshot taken when it started, so `supporter` finds either the row this statement
# inserted or one committed before it, never both; the blanks are filled in (never
# overwritten) only for a supporter who existed already, and only with a new action. A
# ticked box records a pending consent (no confirmed_at): only the address's owner
# confirms it (campaign.supporters.consents).
_SIGN_IN_ONE_STATEMENT = text(f"""
WITH new_supporter AS (
    INSERT INTO supporters (email, {", ".join(DETAIL_COLUMNS)}, created_at)
    VALUES (:email, {", ".join(f":{c}" for c in DETAIL_COLUMNS)}, :created_at)
    ON CONFLICT (email) DO NOTHING
    RETURNING id
), supporter AS (
    SELECT id, true AS is_new FROM new_supporter
    UNION ALL
    SELECT id, false FROM supporters WHERE email = :email
), new_action AS (
    INSERT INTO actions (supporter_id, {", ".join(ACTION_COLUMNS)})
    SELECT id, {", ".join(f":{c}" for c in ACTION_COLUMNS)} FROM supporter
    ON CONFLICT (action_page_id, supporter_id) DO NOTHING
    RETURNING id, supporter_id
), filled_in AS (
    UPDATE supporters SET {", ".join(
        f"{c} = CASE WHEN {c} = '' THEN :{c} ELSE {c} END" for c in DETAIL_COLUMNS)}
    WHERE id IN (SELECT supporter_id FROM new_action)
      AND NOT (SELECT is_new FROM supporter)
      AND '' IN ({", ".join(DETAIL_COLUMNS)})
), consent AS (
    INSERT INTO consents (supporter_id, action_page_id, kind, wording_version, granted_at,
                          confirmed_at)
    SELECT supporter_id, :action_page_id, :consent_kind, :consent_version, :created_at, NULL
    FROM new_action WHERE :opted_in
), attribution_count AS (
    INSERT INTO signature_attribution_counts (action_page_id, day, attribution_key,
        {", ".join(COUNTED_COLUMNS)}, signatures)
    SELECT :action_page_id, :counted_day, :counted_key,
        {", ".join(f":{name}" for name in COUNTED_COLUMNS.values())}, 1
    FROM new_action WHERE :count_attribution
    ON CONFLICT (action_page_id, day, attribution_key)
    DO UPDATE SET signatures = signature_attribution_counts.signatures + 1
)
SELECT (SELECT id FROM supporter), (SELECT id FROM new_action)
""")


def _record_signature_in_one_statement(connection, page_id: int, signature: Signature,
                                       email: str, now, consent_version: str) -> SignResult:
    values = {**_supporter_values(signature), **_action_values(page_id, signature, now),
              **_counted_attribution(page_id, signature, now), "email": email,
              "opted_in": signature.opted_in, "consent_kind": EMAIL_UPDATES,
              "consent_version": consent_version}
    # A first signature with the same email, committed while this statement waited on
    # its row, is outside this statement's snapshot: the next statement sees it.
    statement = driver_sql(_SIGN_IN_ONE_STATEMENT)
    for _ in range(2):
        supporter_id, action_id = connection.execute(statement, values).fetchone()
        if supporter_id is not None:
            return SignResult(action_id=action_id, supporter_id=supporter_id)
    raise RuntimeError("a signature's supporter was neither inserted nor found")


# Thank-you email state. A worker locks a batch of due rows, skipping rows another worker
# has locked (SKIP LOCKED), so of two runs only one ever holds a given thank-you.

def _due_thank_yous(now):
    # A constant: ix_actions_thank_you_due is partial (campaign.common.sql.constant).
    return and_(Action.thank_you_status == constant(ThankYouStatus.PENDING.value),
                or_(Action.thank_you_next_attempt_at.is_(None),
                    Action.thank_you_next_attempt_at <= now))


# Anyone can type anyone's email into a public form, so whatever the forms are made to
# do, an address gets at most one thank-you or notice a day (24 hours) from the site.
ONE_EMAIL_EVERY = timedelta(days=1)
ONE_A_DAY = "not sent: one email per address per day"
WAITING_FOR_TOMORROW = "waiting: one email per address per day"


def claim_thank_yous(limit: int, postponed_kinds: Collection[str] = ()) -> list[int]:
    """Marks up to `limit` of the oldest due thank-yous (pending and not waiting for a
    retry) as being sent and returns their action ids. The caller must commit before
    sending.

    At most one email a day per address: a first attempt whose supporter was chosen in
    the last day (or earlier in this batch) is marked skipped, or, for a page of a kind in
    `postponed_kinds` (whose email is a receipt the supporter needs), waits for the end
    of that day. The decision is taken under the supporter's row lock, so two workers
    never both choose one address. A supporter locked by someone else (another claim,
    an erasure) is left for the next run; the sweep finds it if no run comes.
    """
    while True:
        now = utcnow()
        rows = db.session.execute(
            select(Action.id, Action.supporter_id, Action.thank_you_attempts,
                   Action.notice_requested_at, ActionPage.kind)
            .join(ActionPage, ActionPage.id == Action.action_page_id)
            .where(_due_thank_yous(now)).order_by(Action.id).limit(limit)
            .with_for_update(skip_locked=True, of=Action.__table__)).all()
        if not rows:
            return []
        # In id order, so that two claims never wait for each other's supporters; an
        # erasure holds its supporter before their actions, hence SKIP LOCKED here.
        last_emailed = dict(db.session.execute(
            select(Supporter.id, Supporter.last_emailed_at)
            .where(Supporter.id.in_({row.supporter_id for row in rows}))
            .order_by(Supporter.id)
            .with_for_update(skip_locked=True, key_share=True)).all())
        send, skip, postpone, chosen = [], [], {}, set()
        for row in rows:
            if row.supporter_id not in last_emailed:
                continue  # locked elsewhere: stays pending
            last = last_emailed[row.supporter_id]
            if row.thank_you_attempts > 0:
                send.append(row.id)  # a retry of an email the address was chosen for
                chosen.add(row.supporter_id)
            elif row.supporter_id in chosen or (last is not None
                                                 and last > now - ONE_EMAIL_EVERY):
                if row.kind in postponed_kinds and row.notice_requested_at is None:
                    postpone[row.id] = max(last or now, now - ONE_EMAIL_EVERY) + ONE_EMAIL_EVERY
                else:
                    skip.append(row.id)
            else:
                send.append(row.id)
                chosen.add(row.supporter_id)
                last_emailed[row.supporter_id] = now
        _record_claim_decisions(now, send, skip, postpone, chosen)
        if send or not (skip or postpone):
            return send


def _record_claim_decisions(now, send: list[int], skip: list[int],
                            postpone: dict[int, datetime], chosen: set[int]) -> None:
    if send:
        db.session.execute(
            update(Action).where(Action.id.in_(send))
            .values(thank_you_status=ThankYouStatus.SENDING.value, thank_you_claimed_at=now,
                    thank_you_attempts=Action.thank_you_attempts + 1,
                    thank_you_next_attempt_at=None)
            .execution_options(synchronize_session=False))
        db.session.execute(
            update(Supporter).where(Supporter.id.in_(chosen)).values(last_emailed_at=now)
            .execution_options(synchronize_session=False))
    if skip:
        db.session.execute(
            update(Action).where(Action.id.in_(skip))
            .values(thank_you_status=ThankYouStatus.SKIPPED.value, thank_you_error=ONE_A_DAY,
                    thank_you_next_attempt_at=None)
            .execution_options(synchronize_session=False))
    for action_id, due_at in postpone.items():
        _set_thank_you(action_id, thank_you_next_attempt_at=due_at,
                       thank_you_error=WAITING_FOR_TOMORROW)


def request_already_signed_notice(page_id: int, supporter_id: int) -> bool:
    """After a second signature on a page: asks for an email telling the address's owner
    (and nobody else) that they had signed already, at most once a day per page. Nothing
    is asked while the first thank-you is still on its way. Flushes; the caller commits,
    then asks for a run. Returns whether a notice was asked for."""
    now = utcnow()
    result = db.session.execute(
        update(Action)
        .where(Action.action_page_id == page_id, Action.supporter_id == supporter_id,
               Action.thank_you_status.in_([ThankYouStatus.SENT.value,
                                            ThankYouStatus.FAILED.value,
                                            ThankYouStatus.SKIPPED.value]),
               or_(Action.notice_requested_at.is_(None),
                   Action.notice_requested_at <= now - ONE_EMAIL_EVERY))
        .values(notice_requested_at=now, thank_you_status=ThankYouStatus.PENDING.value,
                thank_you_attempts=0, thank_you_next_attempt_at=None, thank_you_error="",
                thank_you_claimed_at=None)
        .execution_options(synchronize_session=False))
    return result.rowcount > 0


def requeue_abandoned_thank_yous(*, claim_expires: timedelta) -> int:
    """Makes pending again the thank-yous claimed longer ago than `claim_expires`: their
    worker died before recording what happened. Returns how many."""
    result = db.session.execute(
        update(Action)
        .where(Action.thank_you_status == ThankYouStatus.SENDING.value,
               Action.thank_you_claimed_at < utcnow() - claim_expires)
        .values(thank_you_status=ThankYouStatus.PENDING.value,
                thank_you_error="taken over from a stopped worker")
        .execution_options(synchronize_session=False))
    return result.rowcount


def renew_thank_you_claims(action_ids: list[int]) -> None:
    """Marks these claimed thank-yous as still held by a live worker."""
    if action_ids:
        db.session.execute(
            update(Action).where(Action.id.in_(action_ids),
                                 Action.thank_you_status == ThankYouStatus.SENDING.value)
            .values(thank_you_claimed_at=utcnow()).execution_options(synchronize_session=False))


def load_actions(action_ids: list[int]) -> list[Action]:
    """The actions with their supporter and page, as a thank-you email needs them."""
    return list(db.session.scalars(
        select(Action).where(Action.id.in_(action_ids)).order_by(Action.id)
        .options(joinedload(Action.supporter), joinedload(Action.page))))


def _set_thank_you(action_id: int, **values: object) -> None:
    # By id: after the claim's commit the loaded actions are expired, and reloading one
    # only to change it would cost a query.
    db.session.execute(update(Action).where(Action.id == action_id).values(**values)
                       .execution_options(synchronize_session=False))


def mark_thank_you_sent(action_id: int) -> None:
    _set_thank_you(action_id, thank_you_status=ThankYouStatus.SENT.value,
                   thank_you_sent_at=utcnow(), thank_you_error="")


_MARK_THANK_YOU_SENT_NOW = text(
    "UPDATE actions SET thank_you_status = 'sent', thank_you_sent_at = :now, "
    "thank_you_error = '' WHERE id = :id")


def recording_thank_you_sent() -> AbstractContextManager[Callable[[int], None]]:
    """A function that records one claimed thank-you as sent, committed at once (called
    the moment the mail server has taken it; campaign.common.sql.committing_each)."""
    return committing_each(_MARK_THANK_YOU_SENT_NOW, mark_thank_you_sent)


def release_thank_you(action_id: int, error: str, retry_at: datetime) -> None:
    """Gives a claimed thank-you back after a transient failure, to be retried at
    `retry_at`."""
    _set_thank_you(action_id, thank_you_status=ThankYouStatus.PENDING.value,
                   thank_you_error=error[:500], thank_you_next_attempt_at=retry_at)


def fail_thank_you(action_id: int, error: str) -> None:
    _set_thank_you(action_id, thank_you_status=ThankYouStatus.FAILED.value,
                   thank_you_error=error[:500])


def oldest_thank_you_due_since() -> datetime | None:
    """Since when the longest-waiting due thank-you has been due, or None."""
    return db.session.scalar(select(func.min(func.coalesce(
        Action.thank_you_next_attempt_at, Action.created_at))).where(_due_thank_yous(utcnow())))


def thank_yous_due() -> int:
    """How many thank-yous are due now: the sweep asks for a run when any are."""
    return db.session.scalar(
        select(func.count()).select_from(Action).where(_due_thank_yous(utcnow())))
