"""Letter pages: their settings, who a supporter writes to, recording letters, reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from campaign.common.types import utcnow
from campaign.extensions import db
from campaign.letters.compose import (
    LetterError,
    Writer,
    body_fingerprint,
    check_subject,
    clean_body,
    compose,
    is_personalised,
)
from campaign.letters.models import (
    Channel,
    Letter,
    LetterEvent,
    LetterSettings,
    LetterStatus,
    OverCap,
)
from campaign.pages.models import ActionPage, PageKind
from campaign.targets.models import Target, TargetList, TargetListMember
from campaign.targets.services import District, in_office_on, lookup_representatives


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
