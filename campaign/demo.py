"""The demo campaign: North Korea, where human rights are security.

Copy is our own; every evidence card cites the source its fact comes from. The links go
to each publisher's North Korea or home page, since the sources were collected by article
name, not by exact address.
"""

from __future__ import annotations

from campaign.donations.page_settings import GivingChoices
from campaign.donations.page_settings import save_settings as save_giving_settings
from campaign.letters.services import save_settings
from campaign.pages import services
from campaign.pages.models import Campaign, PageKind, PageStatus

HRW_2017 = ("Human Rights Watch, dispatch on the ICBM test, 30 November 2017",
            "https://www.hrw.org/asia/north-korea")
BUSH_2017 = ("George W. Bush Institute, \u201cHuman Rights Still a Missing Piece of the North "
             "Korea Puzzle\u201d, Chris Walsh, 23 May 2017",
             "https://www.bushcenter.org/")


def _card(claim: str, source: tuple[str, str]) -> tuple[str, str, str]:
    return (claim, source[0], source[1])


FORCED_LABOUR = _card(
    "North Korea's state extracts unpaid work from students, state-enterprise workers, "
    "soldiers, prisoners and the dolgyeokdae labour brigades. Refusing, or not paying a "
    "bribe to get out of it, can mean prison, beatings or torture. That labour is one of "
    "the ways the regime frees up resources for its nuclear and missile programmes.",
    HRW_2017)
ICBM = _card(
    "On 29 November 2017 North Korea launched an intercontinental ballistic missile it said "
    "could reach the US mainland, and declared its \u201crocket weaponry system\u201d complete.",
    HRW_2017)
UN_SC = _card(
    "In September 2017 the UN Security Council condemned North Korea for pouring resources "
    "into ballistic missiles while its own people go without.",
    HRW_2017)
COI = _card(
    "The UN Commission of Inquiry found in 2014 that the state rests on a personality cult "
    "held in place by fear and by systematic violations of human rights.",
    BUSH_2017)
EXPORTS = _card(
    "Money from sending North Korean workers abroad helps pay for nuclear proliferation; "
    "China is among the buyers. In 2017 members of Congress from both parties passed "
    "sanctions on the regime's export of forced labour and on those who buy it.",
    BUSH_2017)
INFORMATION = _card(
    "In a CSIS study of people inside North Korea, 91.6% watched or listened to foreign "
    "media at least once a month, 88% found outside information useful, and 83% said it "
    "shaped their lives more than the regime does.",
    BUSH_2017)
REFUGEES = _card(
    "North Koreans who resettle in South Korea or the United States send money and news "
    "home, which gives their families more room in the informal markets.",
    BUSH_2017)
SAKHAROV = _card(
    "Andrei Sakharov's warning is often quoted in this debate: a state that does not "
    "respect the rights of its own people will not respect the rights of its neighbours.",
    BUSH_2017)

CAMPAIGN = {
    "slug": "human-rights-are-security",
    "name": "Human rights are security",
    "summary": "The forced labour that props up North Korea's regime also pays for its "
               "missiles. Pressing on one is pressing on the other.",
}

PAGES = [
    {
        "slug": "enforce-forced-labour-sanctions",
        "title": "Tell Congress: enforce the forced-labour sanctions, fund the information flow",
        "kind": PageKind.LETTER.value,
        "status": PageStatus.LIVE.value,
        "goal": 5000,
        "summary": "Write to your Representative and Senators: cut off the money that "
                   "slave-labour exports send to Pyongyang's weapons programmes.",
        "body_markdown": (
            "North Korea treats its people as a resource to be spent. Students, soldiers, "
            "prisoners and whole labour brigades work without pay, and workers sent abroad "
            "earn hard currency that the state keeps. That money does not feed anyone: it "
            "goes into missiles and warheads.\n\n"
            "So the abuse and the threat are **one problem**. Sanctions on forced-labour "
            "exports, enforced against the companies that buy the labour, hit both at once. "
            "And every radio, USB stick and smuggled film that reaches North Koreans loosens "
            "the regime's grip from inside.\n\n"
            "Ask your members of Congress to:\n\n"
            "- enforce the sanctions on North Korea's export of forced labour, and on the "
            "third parties who buy it;\n"
            "- fund access to outside information for people inside North Korea, working "
            "with private partners;\n"
            "- raise human rights alongside the nuclear file in every talk with China."
        ),
        "closed_message": "This letter drive has ended. Thank you to everyone who wrote.",
        "cards": [FORCED_LABOUR, EXPORTS, ICBM, INFORMATION],
    },
    {
        "slug": "stop-forced-repatriation",
        "title": "Stop sending refugees back to North Korea",
        "kind": PageKind.PETITION.value,
        "status": PageStatus.LIVE.value,
        "goal": 10000,
        "summary": "People who escape North Korea and are sent back face prison camps. "
                   "Sign to ask the embassies involved to stop forced repatriation.",
        "body_markdown": (
            "People who flee North Korea risk everything, and those who are caught and "
            "sent back are punished for having left. Refugees who reach safety become "
            "one of the strongest forces for change: they send money and news home, and "
            "their families gain room the regime cannot fully control.\n\n"
            "A government that abuses its own people will not keep faith with its "
            "neighbours either. Protecting refugees is part of keeping the region safe.\n\n"
            "**We ask** the embassies that handle returns to end forced repatriation of "
            "North Korean refugees, and governments to welcome those who escape."
        ),
        "closed_message": "This petition is closed and has been delivered.",
        "cards": [REFUGEES, COI, SAKHAROV, UN_SC],
    },
    {
        "slug": "fund-the-work",
        "title": "Fund the research that follows North Korea's forced-labour money",
        "kind": PageKind.DONATION.value,
        "status": PageStatus.LIVE.value,
        "goal": 500,
        "summary": "Give once or every month so that researchers can trace who buys North "
                   "Korean forced labour, and put the evidence where it makes a difference.",
        "body_markdown": (
            "The regime sends workers abroad and keeps their wages; students, soldiers, "
            "prisoners and labour brigades work for nothing at home. That money ends up "
            "in missiles. Sanctions against the trade exist, and lawmakers of both parties "
            "voted for them, but they only bite when someone shows **who is buying**.\n\n"
            "That is the work your gift pays for:\n\n"
            "- tracing where North Korean labour is sold, and which companies profit;\n"
            "- putting that evidence in front of the officials who enforce the sanctions;\n"
            "- supporting the flow of outside news into the country, which most North "
            "Koreans already seek out every month.\n\n"
            "Your gift keeps this work independent, and a monthly gift lets the research "
            "be planned a year ahead."
        ),
        "closed_message": "Thank you: this appeal has closed.",
        "cards": [EXPORTS, FORCED_LABOUR, INFORMATION],
    },
]


LETTER = {
    "subject": "Enforce the sanctions on North Korea's forced-labour exports",
    "body_template": (
        "As your constituent, I am asking you to treat North Korea's human-rights abuses "
        "and its weapons programmes as the single problem they are.\n\n"
        "The regime forces students, soldiers, prisoners and labour brigades to work "
        "without pay, and sends workers abroad whose wages it keeps. That money helps pay "
        "for the missiles it tests. In 2017 Congress, with members of both parties, "
        "sanctioned the export of North Korean forced labour and the companies that buy "
        "it. Those sanctions only work if they are enforced.\n\n"
        "I ask you to:\n"
        "- press for full enforcement of the forced-labour export sanctions, including "
        "against third-country buyers;\n"
        "- support funding for outside information to reach people inside North Korea, "
        "working with private partners;\n"
        "- insist that human rights are raised alongside the nuclear issue in every "
        "conversation with China, including China's forced return of refugees.\n\n"
        "People inside North Korea are listening: in one study almost all of them said "
        "they consume foreign media every month. Please make sure our policy reaches them "
        "too."
    ),
    "is_editable": True,
    "max_length": 5000,
    "targets_house": True,
    "targets_senate": True,
    "target_hourly_cap": 60,
    "over_cap": "digest",
}


# The donation page's giving settings: dollars, amounts in cents.
GIVING = GivingChoices(
    currency="usd", suggested=(1000, 2500, 5000, 10000), default_amount=2500,
    minimum_amount=100, maximum_amount=1_000_000, offer_one_time=True, offer_monthly=True,
    default_frequency="one_time", fee_cover_basis_points=300, tribute_enabled=True,
    goal_amount=5_000_000)


def seed_demo() -> tuple[Campaign, list[str]]:
    """Creates what is missing of the demo campaign; never edits what exists.

    Returns the campaign and the slugs of pages it created. Flushes; the caller commits.
    """
    campaign = services.get_campaign_by_slug(CAMPAIGN["slug"])
    if campaign is None:
        campaign = services.create_campaign(**CAMPAIGN)
    existing = {page.slug for page in campaign.pages}
    created = []
    for spec in PAGES:
        if spec["slug"] in existing or services.page_slug_taken(spec["slug"]):
            continue
        page = services.create_page(campaign, **spec)
        if spec["kind"] == PageKind.LETTER.value:
            save_settings(spec["slug"], **LETTER)
        if spec["kind"] == PageKind.DONATION.value:
            save_giving_settings(page.id, GIVING)
        created.append(spec["slug"])
    return campaign, created
