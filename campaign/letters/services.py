"""Letters: who a supporter writes to, recording the letters, and their delivery state.

Every state change is a conditional UPDATE or happens under a row lock, so two copies of a
delivery task (a redelivered message, the sweep, a retry) never both send a letter.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from campaign.common.types import utcnow
from campaign.extensions import db
from campaign.letters.compose import (LetterError, Writer, body_fingerprint, check_subject,
                                      clean_body, compose, is_personalised)
from campaign.letters.models import (BatchStatus, Channel, FallbackBatch, Letter, LetterEvent,
                                     LetterSettings, LetterStatus, OverCap)
from campaign.pages.models import ActionPage, PageKind
from campaign.targets.models import Target, TargetList, TargetListMember
from campaign.targets.services import District, in_office_on, lookup_representatives

CAP_WINDOW = timedelta(hours=1)


def get_settings(page_id: int) -> LetterSettings | None:
    return db.session.get(LetterSettings, page_id)


def save_settings(slug: str, *, subject: str, body_template: str, is_editable: bool = True,
                  max_length: int = 5000, targets_house: bool = False,
                  targets_senate: bool = False, target_list_id: int | None = None,
                  target_hourly_cap: int = 60, over_cap: str = OverCap.WAIT.value
                  ) -> LetterSettings:
    """Creates or replaces a letter page's settings; LetterError says what is wrong.
    Flushes; the caller commits."""
    page = db.session.scalars(select(ActionPage).where(ActionPage.slug == slug)).one_or_none()
    if page is None or page.kind != PageKind.LETTER.value:
        raise LetterError(f"There is no letter page {slug!r}.")
    if not 100 <= max_length <= 20000:
        raise LetterError("The maximum length must be between 100 and 20,000 characters.")
    body_template = clean_body(body_template, max_length)
    if target_hourly_cap < 1:
        raise LetterError("The hourly cap must be at least 1.")
    if over_cap not in {o.value for o in OverCap}:
        raise LetterError("Over the cap, letters either wait or go in a digest.")
    if target_list_id is not None and db.session.get(TargetList, target_list_id) is None:
        raise LetterError(f"There is no target list {target_list_id}.")
    if not (targets_house or targets_senate or target_list_id):
        raise LetterError("Choose who the letters go to: representatives, a list, or both.")
    settings = db.session.get(LetterSettings, page.id) or LetterSettings(action_page_id=page.id)
    settings.subject = check_subject(subject)
    settings.body_template = body_template
    settings.is_editable = is_editable
    settings.max_length = max_length
    settings.targets_house = targets_house
    settings.targets_senate = targets_senate
    settings.target_list_id = target_list_id
    settings.target_hourly_cap = target_hourly_cap
    settings.over_cap = over_cap
    db.session.add(settings)
    db.session.flush()
    return settings


# Choosing targets ----------------------------------------------------------------------


@dataclass(frozen=True)
class TargetChoice:
    """Either the final targets, or the districts the supporter must choose between."""

    targets: tuple[Target, ...] = ()
    districts: tuple[District, ...] = ()
    district: District | None = None

    @property
    def needs_district_choice(self) -> bool:
        return bool(self.districts)


def district_key(district: District) -> str:
    return f"{district.state}-{district.number}"


def resolve_targets(settings: LetterSettings, zip_code: str, chosen_district: str | None,
                    *, on: date) -> TargetChoice:
    """The targets a supporter's letter goes to.

    Raises ZipLookupError (bad or unknown ZIP) or LetterError. When the ZIP code spans
    several districts and the page writes to the House (or the ZIP crosses a state line),
    returns the candidates to choose from: we never guess a supporter's representative.
    """
    targets: list[Target] = []
    district = None
    if settings.uses_representatives:
        lookup = lookup_representatives(zip_code, on=on)
        must_choose = ((settings.targets_house and lookup.needs_district_choice)
                       or lookup.spans_states)
        if chosen_district:
            district = next((d for d in lookup.districts
                             if district_key(d) == chosen_district), None)
            if district is None:
                raise LetterError("Please choose one of the districts listed for your ZIP code.")
        elif must_choose:
            return TargetChoice(districts=lookup.districts)
        else:
            district = lookup.districts[0]
        if settings.targets_house and district.representative is not None:
            targets.append(district.representative)
        if settings.targets_senate:
            targets.extend(s for s in lookup.senators if s.state == district.state)
    if settings.target_list_id is not None:
        targets.extend(db.session.scalars(
            select(Target).join(TargetListMember, TargetListMember.target_id == Target.id)
            .where(TargetListMember.target_list_id == settings.target_list_id,
                   in_office_on(on))
            .order_by(TargetListMember.position)))
    unique = tuple({target.id: target for target in targets}.values())
    if not unique:
        raise LetterError("We couldn't find anyone in office to write to for this address.")
    return TargetChoice(targets=unique, district=district)


# Recording -----------------------------------------------------------------------------


def letter_key(action_id: int, target_id: int) -> str:
    return f"letter:{action_id}:{target_id}"


def record_letters(*, action_id: int, page_id: int, settings: LetterSettings, body: str,
                   writer: Writer, targets: tuple[Target, ...]) -> list[Letter]:
    """One queued letter per target, each with its first history event. Flushes; the
    caller commits, then queues delivery."""
    personalised = is_personalised(body, settings.body_template)
    fingerprint = body_fingerprint(body)
    now = utcnow()
    letters = []
    for target in targets:
        letter = Letter(
            idempotency_key=letter_key(action_id, target.id), action_id=action_id,
            action_page_id=page_id, target_id=target.id, subject=settings.subject,
            body=compose(body, writer, target), body_hash=fingerprint,
            is_personalised=personalised, status=LetterStatus.QUEUED.value,
            channel=Channel.EMAIL.value if target.email else Channel.FALLBACK.value,
            attempts=0, created_at=now, last_error="")
        letter.events.append(LetterEvent(status=LetterStatus.QUEUED.value,
                                         channel=letter.channel, at=now))
        letters.append(letter)
    db.session.add_all(letters)
    db.session.flush()
    return letters


def _event(letter: Letter, status: str, detail: str = "") -> None:
    letter.status = status
    db.session.add(LetterEvent(letter_id=letter.id, status=status, channel=letter.channel,
                               detail=detail[:500], at=utcnow()))


# Claiming for delivery -------------------------------------------------------------------


class Claim(enum.Enum):
    SEND = "send"  # claimed: send it now
    DONE = "done"  # gone, finished, or someone else holds it
    NOT_DUE = "not due"  # waiting for a retry's backoff or a slot under the cap
    OVER_CAP = "over cap"  # the target's hourly cap is full: wait until `until`
    DIGEST = "digest"  # over the cap; it will travel in the office's next digest
    FALLBACK = "fallback"  # no email for this target: put in the fallback batch


@dataclass(frozen=True)
class ClaimResult:
    outcome: Claim
    letter: Letter | None = None
    until: datetime | None = None


def claim_letter(letter_id: int, settings_for: callable, *,
                 claim_expires: timedelta) -> ClaimResult:
    """Takes a letter for sending, under the target's hourly cap.

    The target's row is locked while the cap is counted, so concurrent workers can't
    both take the last slot. A claim older than `claim_expires` belonged to a worker
    that died and is taken over. The caller commits before sending.
    """
    now = utcnow()
    letter = db.session.get(Letter, letter_id)
    if letter is None:
        return ClaimResult(Claim.DONE)
    db.session.execute(select(Target.id).where(Target.id == letter.target_id)
                       .with_for_update())
    db.session.refresh(letter)
    is_takeover = (letter.status == LetterStatus.SENDING.value and letter.claimed_at
                   is not None and letter.claimed_at < now - claim_expires)
    if letter.status != LetterStatus.QUEUED.value and not is_takeover:
        return ClaimResult(Claim.DONE, letter)
    if letter.channel == Channel.DIGEST.value:
        if is_takeover:  # its digest died with its worker; the next digest takes it
            letter.digest_id = None
            _event(letter, LetterStatus.QUEUED.value, "digest interrupted; queued again")
        return ClaimResult(Claim.DONE, letter)
    if letter.next_attempt_at is not None and letter.next_attempt_at > now:
        return ClaimResult(Claim.NOT_DUE, letter, letter.next_attempt_at)
    target = db.session.get(Target, letter.target_id)
    if not target.email or letter.channel == Channel.FALLBACK.value:
        move_to_fallback(letter, "no email address for this target")
        return ClaimResult(Claim.FALLBACK, letter)

    settings = settings_for(letter.action_page_id)
    window = db.session.execute(
        select(func.count(), func.min(Letter.claimed_at))
        .where(Letter.target_id == letter.target_id,
               Letter.channel == Channel.EMAIL.value,
               Letter.status.in_((LetterStatus.SENDING.value, LetterStatus.SENT.value)),
               Letter.claimed_at > now - CAP_WINDOW)).one()
    if window[0] >= settings.target_hourly_cap:
        if settings.over_cap == OverCap.DIGEST.value:
            letter.channel = Channel.DIGEST.value
            letter.next_attempt_at = None
            _event(letter, LetterStatus.QUEUED.value, "over the office's hourly cap: "
                   "will go in a digest")
            return ClaimResult(Claim.DIGEST, letter)
        until = window[1] + CAP_WINDOW
        letter.next_attempt_at = until
        if letter.status != LetterStatus.QUEUED.value:
            _event(letter, LetterStatus.QUEUED.value, "waiting for the office's hourly cap")
        return ClaimResult(Claim.OVER_CAP, letter, until)

    letter.claimed_at = now
    letter.attempts += 1
    letter.next_attempt_at = None
    _event(letter, LetterStatus.SENDING.value,
           "taken over from a stopped worker" if is_takeover else "")
    return ClaimResult(Claim.SEND, letter)


def mark_sent(letter: Letter) -> None:
    letter.sent_at = utcnow()
    letter.last_error = ""
    _event(letter, LetterStatus.SENT.value)


def release_for_retry(letter: Letter, error: str, retry_at: datetime) -> None:
    """A transient failure: the letter waits for its retry, recorded as a failed attempt."""
    letter.last_error = error[:500]
    letter.next_attempt_at = retry_at
    _event(letter, LetterStatus.FAILED.value, f"{error} (will retry)")
    _event(letter, LetterStatus.QUEUED.value)


def move_to_fallback(letter: Letter, reason: str) -> FallbackBatch:
    """A letter email can't carry goes to its target's open batch, for print or hand
    delivery by staff."""
    if letter.channel == Channel.EMAIL.value:
        letter.last_error = reason[:500]
        _event(letter, LetterStatus.FAILED.value, reason)
    letter.channel = Channel.FALLBACK.value
    batch = open_batch_for(letter.target_id)
    letter.fallback_batch_id = batch.id
    _event(letter, LetterStatus.BATCHED.value, f"batch {batch.id}")
    return batch


def _insert():
    return postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert


def open_batch_for(target_id: int) -> FallbackBatch:
    where = FallbackBatch.status == BatchStatus.OPEN.value
    db.session.execute(
        _insert()(FallbackBatch)
        .values(target_id=target_id, status=BatchStatus.OPEN.value, created_at=utcnow(),
                delivered_note="")
        .on_conflict_do_nothing(index_elements=["target_id"], index_where=where))
    return db.session.scalars(
        select(FallbackBatch).where(FallbackBatch.target_id == target_id, where)).one()


def letters_to_requeue(*, lost_after: timedelta, claim_expires: timedelta,
                       limit: int = 5000) -> list[int]:
    """Letters whose queue message was lost (Redis restarted) or whose worker died."""
    now = utcnow()
    return list(db.session.scalars(
        select(Letter.id)
        .where(or_(
            and_(Letter.status == LetterStatus.QUEUED.value,
                 Letter.channel != Channel.DIGEST.value,
                 func.coalesce(Letter.next_attempt_at, Letter.created_at) < now - lost_after),
            and_(Letter.status == LetterStatus.SENDING.value,
                 Letter.claimed_at < now - claim_expires)))
        .order_by(Letter.id).limit(limit)))


def letters_for_action(action_id: int) -> list[Letter]:
    return list(db.session.scalars(
        select(Letter).where(Letter.action_id == action_id).order_by(Letter.id)))


# Reports ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LetterReport:
    letters: int
    submissions: int
    personalised_submissions: int
    distinct_bodies: int
    repeated_bodies: int  # bodies sent by more than one supporter
    by_status: dict[tuple[str, str], int]

    @property
    def personalised_share(self) -> float:
        return self.personalised_submissions / self.submissions if self.submissions else 0.0


def letter_report(page_id: int) -> LetterReport:
    per_action = select(Letter.action_id, func.max(Letter.body_hash).label("body_hash"),
                        func.max(db.case((Letter.is_personalised, 1), else_=0))
                        .label("personalised")) \
        .where(Letter.action_page_id == page_id).group_by(Letter.action_id).subquery()
    submissions, personalised = db.session.execute(
        select(func.count(), func.coalesce(func.sum(per_action.c.personalised), 0))).one()
    body_counts = select(per_action.c.body_hash, func.count().label("n")) \
        .group_by(per_action.c.body_hash).subquery()
    distinct, repeated = db.session.execute(
        select(func.count(), func.coalesce(func.sum(db.case((body_counts.c.n > 1, 1),
                                                              else_=0)), 0))).one()
    by_status = {(status, channel): n for status, channel, n in db.session.execute(
        select(Letter.status, Letter.channel, func.count())
        .where(Letter.action_page_id == page_id).group_by(Letter.status, Letter.channel))}
    return LetterReport(letters=sum(by_status.values()), submissions=submissions,
                        personalised_submissions=int(personalised), distinct_bodies=distinct,
                        repeated_bodies=int(repeated), by_status=by_status)


def mark_batch_delivered(batch_id: int, note: str = "") -> FallbackBatch:
    """Staff handed the batch over: every letter in it is delivered. Flushes."""
    batch = db.session.get(FallbackBatch, batch_id, with_for_update=True)
    if batch is None:
        raise LookupError(f"no fallback batch {batch_id}")
    if batch.status == BatchStatus.DELIVERED.value:
        return batch
    batch.status = BatchStatus.DELIVERED.value
    batch.delivered_at = utcnow()
    batch.delivered_note = note[:500]
    for letter in batch.letters:
        _event(letter, LetterStatus.DELIVERED.value, note or f"batch {batch.id} delivered")
    db.session.flush()
    return batch


def open_batches() -> list[FallbackBatch]:
    return list(db.session.scalars(
        select(FallbackBatch).where(FallbackBatch.status == BatchStatus.OPEN.value)
        .order_by(FallbackBatch.id)))
