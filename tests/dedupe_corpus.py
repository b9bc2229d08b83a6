"""A labelled set of business articles for near-copy detection, generated deterministically.

Nothing is downloaded: articles are written from sentence templates with seeded
randomness (``random.Random(seed)``), so the same seed always gives the same
set. Each original story is its own *cluster*; copies made by the
transformations below share their original's cluster, hard negatives get a
cluster of their own.

Copies (must be merged): syndication under a new GUID and URL, a rewritten
headline, extra boilerplate, a dropped paragraph, an added paragraph, light
copy edits, a re-post in the same source, and all of them combined.

Hard negatives (must stay apart): another story about the same company the same
day, an independent write-up of the same event by another outlet (same facts
and numbers, other words), a follow-up the next day that reuses the background
paragraph, next quarter's results written from the same template, and a daily
market wrap from the same template the next day.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from feeds.types import CleanEntry

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)

COMPANIES: tuple[tuple[str, str, str, str, str], ...] = (
    # full name, short name, sector, chief executive, headquarters
    ("Acme Industries", "Acme", "industrial machinery", "Laura Becker", "Cleveland"),
    ("Borealis Energy", "Borealis", "oil and gas", "Mats Lindqvist", "Oslo"),
    ("Cobalt Retail Group", "Cobalt", "retail", "Priya Raman", "Chicago"),
    ("Dunmore Bank", "Dunmore", "banking", "Hugh Ashworth", "Edinburgh"),
    ("Evergreen Foods", "Evergreen", "packaged food", "Carlos Mendes", "Sao Paulo"),
    ("Fulcrum Software", "Fulcrum", "enterprise software", "Dana Whitfield", "Austin"),
    ("Granite Cement", "Granite", "building materials", "Stefan Wolf", "Munich"),
    ("Harbor Logistics", "Harbor", "shipping and logistics", "Mei Tanaka", "Singapore"),
    ("Ionic Semiconductors", "Ionic", "semiconductors", "Rajiv Menon", "San Jose"),
    ("Juniper Airlines", "Juniper", "aviation", "Claire Dubois", "Lyon"),
    ("Kestrel Motors", "Kestrel", "carmaking", "Tomasz Nowak", "Stuttgart"),
    ("Lumen Telecom", "Lumen", "telecommunications", "Aisha Bello", "Lagos"),
    ("Meridian Pharma", "Meridian", "pharmaceuticals", "Gregor Hahn", "Basel"),
    ("Northwind Utilities", "Northwind", "power utilities", "Ellen Shaw", "Manchester"),
    ("Orchid Hotels", "Orchid", "hospitality", "Ken Watanabe", "Osaka"),
    ("Pinnacle Insurance", "Pinnacle", "insurance", "Marco Rossi", "Milan"),
    ("Quarry Mining", "Quarry", "mining", "Sipho Dlamini", "Johannesburg"),
    ("Redwood Media", "Redwood", "media", "Olivia Grant", "Los Angeles"),
    ("Sterling Chemicals", "Sterling", "chemicals", "Anders Holm", "Rotterdam"),
    ("Tidewater Foods", "Tidewater", "seafood", "Ingrid Solberg", "Bergen"),
    ("Umbra Payments", "Umbra", "payments", "Nikhil Rao", "Bangalore"),
    ("Vantage Homes", "Vantage", "housebuilding", "Paul Keane", "Dublin"),
    ("Westbrook Paper", "Westbrook", "paper and packaging", "Heidi Lang", "Vienna"),
    ("Xylo Biotech", "Xylo", "biotechnology", "Sarah Klein", "Boston"),
    ("Yarrow Apparel", "Yarrow", "apparel", "Lucia Ortega", "Barcelona"),
    ("Zenith Steel", "Zenith", "steel", "Vikram Shah", "Mumbai"),
)

FIRST_NAMES = ("Anna", "Ben", "Chloe", "David", "Erik", "Fatima", "George", "Hana", "Ivan", "Jon")
LAST_NAMES = ("Meyer", "Patel", "Silva", "Novak", "Larsen", "Ito", "Moreau", "Khan", "Fischer")

ANALYSTS = (
    ("Mark Fielding", "Barrow Capital"),
    ("Julia Chen", "Eastgate Securities"),
    ("Omar Haddad", "Northbridge Research"),
    ("Nina Petrova", "Halcyon Partners"),
    ("Tom Reyes", "Lindell & Co"),
    ("Grace Okafor", "Summit Equity Research"),
)

SOURCES = ("wire", "daily-ledger", "market-times", "city-desk", "trade-journal", "money-post")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


@dataclass(frozen=True)
class Story:
    """One labelled item: ``cluster`` names the story, ``kind`` how the item was made."""

    uid: str
    cluster: int
    kind: str
    source: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    company: int
    event: str

    def entry(self) -> CleanEntry:
        """The item as the normalizer would hand it to the store."""
        slug = self.uid.replace(":", "-")
        link = f"https://{self.source}.example/business/{slug}/"
        return CleanEntry(
            guid=f"https://{self.source}.example/?p={abs(hash_uid(self.uid))}",
            link=link,
            title=self.title,
            excerpt=None,
            content_html="".join(f"<p>{p}</p>" for p in self.paragraphs),
            body_text=" ".join(self.paragraphs),
            published=self.published,
            updated=None,
            author=None,
        )


def hash_uid(uid: str) -> int:
    """A deterministic small number for a uid (Python's ``hash()`` is salted)."""
    value = 0
    for ch in uid:
        value = (value * 131 + ord(ch)) % 1_000_000_007
    return value


@dataclass(frozen=True)
class Facts:
    """The facts one event is written from (two outlets share them)."""

    company: int
    event: str
    day: str
    n: tuple[float, ...]
    analyst: int
    quarter: int
    successor: str = "Alex Morgan"


# --- writing ----------------------------------------------------------------------------------


def _money(x: float) -> str:
    return f"${x:.1f} billion" if x >= 1 else f"${x * 1000:.0f} million"


class Writer:
    """Writes headlines and paragraphs for :class:`Facts`, picking sentence variants with ``rng``."""

    def __init__(self, rng: random.Random, facts: Facts, style: int | None = None) -> None:
        self.rng = rng
        self.f = facts
        # ``style`` fixes which variant of each sentence is used (a template), else random.
        self.style = style

    def pick(self, options: tuple[str, ...], slot: int = 0) -> str:
        if self.style is not None:
            return options[(self.style + slot) % len(options)]
        return self.rng.choice(options)

    @property
    def names(self) -> dict[str, str]:
        full, short, sector, ceo, city = COMPANIES[self.f.company]
        analyst, firm = ANALYSTS[self.f.analyst]
        n = self.f.n
        return {
            "full": full,
            "short": short,
            "sector": sector,
            "ceo": ceo,
            "city": city,
            "analyst": analyst,
            "firm": firm,
            "day": self.f.day,
            "q": f"Q{self.f.quarter}",
            "rev": _money(n[0]),
            "pct": f"{n[1]:.1f}%",
            "eps": f"${n[2]:.2f}",
            "est": f"${n[2] * 0.93:.2f}",
            "jobs": f"{int(n[3] * 1000):,}",
            "deal": _money(n[4]),
            "share": f"{n[5]:.1f}%",
            "price": f"${n[6]:.2f}",
            "plants": str(int(n[7])),
            "year": str(2027 + int(n[7]) % 3),
            "idx": f"{n[8]:,.2f}",
            "pts": f"{n[1] * 10:.1f}",
            "successor": self.f.successor,
            "since": str(2008 + int(n[3]) % 15),
            "age": str(45 + int(n[5] * 3) % 20),
        }

    def fill(self, text: str) -> str:
        return text.format(**self.names)

    def title(self) -> str:
        return self.fill(self.pick(HEADLINES[self.f.event]))

    def paragraphs(self) -> list[str]:
        out = []
        for i, group in enumerate(BODIES[self.f.event]):
            sentences = [self.fill(self.pick(options, i + j)) for j, options in enumerate(group)]
            out.append(" ".join(sentences))
        out.append(self.fill(self.pick(QUOTES, 3)))
        out.append(self.fill(self.pick(ANALYST_LINES, 5)))
        if self.style is None:
            extra = self.rng.sample(EXTRA, 3)
        else:
            # A house style fixes the sentence variants, not the story: the
            # extra paragraphs still depend on what the story is about.
            topic = self.style + 3 * EVENTS.index(self.f.event)
            extra = [EXTRA[(topic + k * 5) % len(EXTRA)] for k in range(3)]
        out += [self.fill(p) for p in extra]
        out.append(self.background())
        return out

    def background(self) -> str:
        return self.fill(self.pick(BACKGROUND, 7))


BACKGROUND = (
    "{full}, based in {city}, is one of the larger listed groups in {sector}. "
    "Its shares have been volatile this year as investors weigh the outlook for demand, "
    "interest rates and costs across the {sector} industry.",
    "Headquartered in {city}, {short} sells to customers in more than forty countries. "
    "Like its peers in {sector}, it has had to deal with higher financing costs and uneven "
    "orders since last spring.",
    "{short}, whose roots in {city} go back decades, has reshaped its portfolio several times. "
    "The group competes with larger rivals in {sector} on price and on service.",
)

HEADLINES: dict[str, tuple[str, ...]] = {
    "earnings": (
        "{short} {q} profit beats forecasts as revenue reaches {rev}",
        "{short} shares jump after {q} earnings top estimates",
        "{full} posts stronger {q} results, revenue up {pct}",
        "{short} beats on {q} earnings with {eps} a share",
    ),
    "acquisition": (
        "{short} agrees {deal} takeover to expand in {sector}",
        "{full} to buy rival in {deal} deal",
        "{short} strikes {deal} acquisition, its biggest yet",
        "{short} bets on growth with {deal} purchase",
    ),
    "layoffs": (
        "{short} to cut {jobs} jobs in cost drive",
        "{full} plans {jobs} job cuts as demand slows",
        "{short} announces {jobs} layoffs and plant closures",
        "{short} slashes workforce by {jobs} to protect margins",
    ),
    "ceo": (
        "{short} names new chief executive as {ceo} steps down",
        "{ceo} to leave {full} after board review",
        "{short} chief {ceo} exits; search for successor begins",
        "{full} announces leadership change at the top",
    ),
    "guidance": (
        "{short} cuts full-year outlook, shares slide {share}",
        "{full} warns on profit as costs rise",
        "{short} lowers {year} guidance citing weaker orders",
        "{short} profit warning sends stock down {share}",
    ),
    "plant": (
        "{short} to build {plants} new plants in {sector} push",
        "{full} unveils {deal} investment in new capacity",
        "{short} commits {deal} to expand production by {year}",
        "{short} plans {plants} factories as orders grow",
    ),
    "market": (
        "Stocks close higher as {sector} shares rally",
        "Index ends {day} session up {pct}, led by {short}",
        "Markets gain {pct} on {day} as investors buy {sector}",
        "{day} market wrap: index at {idx}, {short} leads",
    ),
}

BODIES: dict[str, tuple[tuple[tuple[str, ...], ...], ...]] = {
    "earnings": (
        (
            (
                "{full} reported {q} revenue of {rev} on {day}, up {pct} from a year earlier.",
                "Revenue at {full} rose {pct} to {rev} in the {q} period, the company said on {day}.",
                "{full} said on {day} that {q} sales climbed {pct} to {rev}.",
            ),
            (
                "Earnings per share came in at {eps}, ahead of the {est} analysts had expected.",
                "Adjusted profit of {eps} a share beat the consensus forecast of {est}.",
                "The company earned {eps} per share against expectations of {est}.",
            ),
        ),
        (
            (
                "Demand in {sector} held up better than feared, helped by pricing and a strong order book.",
                "Management pointed to resilient demand and price increases across its {sector} units.",
                "The results were driven by higher volumes and firmer prices in its core {sector} business.",
            ),
            (
                "Margins widened for a third straight quarter as input costs eased.",
                "Operating margin improved as raw material and freight costs came down.",
                "Cost savings from last year's restructuring also supported profitability.",
            ),
        ),
        (
            (
                "Shares of {short} rose {share} in early trading to {price}.",
                "The stock gained {share} to {price} by midday in {city}.",
                "Investors cheered the figures, sending the shares up {share} to {price}.",
            ),
        ),
    ),
    "acquisition": (
        (
            (
                "{full} said on {day} it had agreed to buy a smaller competitor for {deal} in cash and shares.",
                "{full} announced on {day} a {deal} deal to acquire a rival {sector} business.",
                "In a {deal} transaction unveiled on {day}, {full} will take over a competitor.",
            ),
            (
                "The deal is expected to close by the end of {year}, subject to regulatory approval.",
                "Completion is targeted for {year}, pending approval from competition authorities.",
                "Regulators must still approve the purchase, which {short} hopes to finalise in {year}.",
            ),
        ),
        (
            (
                "The combined group would hold roughly {share} of the {sector} market.",
                "Together the two companies would control about {share} of {sector} sales.",
                "The acquisition gives {short} an estimated {share} share of the market.",
            ),
            (
                "{short} expects annual cost savings once the businesses are integrated.",
                "Executives said the merger would deliver savings in purchasing and logistics.",
                "The company sees synergies from combining plants and sales teams.",
            ),
        ),
    ),
    "layoffs": (
        (
            (
                "{full} will cut {jobs} jobs over the next two years, it said on {day}.",
                "{full} said on {day} that {jobs} positions would be eliminated.",
                "About {jobs} employees at {full} will lose their jobs under a plan announced {day}.",
            ),
            (
                "The company will also close {plants} sites as it consolidates production.",
                "{plants} facilities are to be shut as part of the restructuring.",
                "The plan includes the closure of {plants} plants.",
            ),
        ),
        (
            (
                "Unions criticised the decision and said they would seek talks with management.",
                "Worker representatives called the cuts a blow to the communities involved.",
                "Labour groups vowed to fight the closures.",
            ),
            (
                "{short} expects the programme to save money from {year} onwards.",
                "Savings are expected to show from {year}, the company said.",
                "The restructuring should lift margins by {year}, according to the company.",
            ),
        ),
    ),
    "ceo": (
        (
            (
                "{ceo} will step down as chief executive of {full}, the company said on {day}.",
                "{full} said on {day} that {ceo} would leave the top job.",
                "The board of {full} announced on {day} the departure of chief executive {ceo}.",
            ),
            (
                "The chief financial officer will lead the company on an interim basis.",
                "An interim leader was named while the board searches for a permanent successor.",
                "The finance chief takes over temporarily.",
            ),
        ),
        (
            (
                "{ceo} had led {short} since {since}, a period in which its shares rose {share}.",
                "Under {ceo}, who took over in {since}, {short} expanded abroad and its stock"
                " gained {share}.",
                "The departure ends a tenure that began in {since} and saw the shares climb {share}.",
            ),
            (
                "{successor}, {age}, who runs the {sector} division, is seen as a front-runner.",
                "Investors see {successor}, {age}, head of the main division, as a likely successor.",
                "People familiar with the matter named {successor}, {age}, as a candidate.",
            ),
            (
                "The shares closed at {price}, down {pct}.",
                "The stock slipped {pct} to {price} on the news.",
                "Shares fell {pct} to {price} in {city}.",
            ),
        ),
    ),
    "guidance": (
        (
            (
                "{full} cut its profit forecast for {year} on {day}, citing weaker orders.",
                "On {day}, {full} lowered its full-year outlook as demand softened.",
                "{full} issued a profit warning on {day}, blaming rising costs.",
            ),
            (
                "It now expects earnings per share of about {eps}, down from {est} previously.",
                "The new guidance implies profit of {eps} a share, below the earlier {est}.",
                "Earnings are now seen at {eps} per share against a prior {est}.",
            ),
        ),
        (
            (
                "Shares fell {share} to {price} in {city}.",
                "The stock dropped {share} to {price} after the announcement.",
                "Investors sold the shares, which closed down {share} at {price}.",
            ),
        ),
    ),
    "plant": (
        (
            (
                "{full} will invest {deal} to build {plants} new plants, it said on {day}.",
                "{full} announced on {day} a {deal} plan for {plants} new production sites.",
                "On {day}, {full} unveiled a {deal} programme to add {plants} factories.",
            ),
            (
                "The first site is due to open in {year} and will create {jobs} jobs.",
                "Production should start in {year}, with {jobs} new positions.",
                "The project is expected to employ {jobs} people by {year}.",
            ),
        ),
    ),
    "market": (
        (
            (
                "The main index closed at {idx} on {day}, up {pct}, as {sector} shares led gains.",
                "Stocks rose {pct} on {day}, taking the benchmark to {idx}.",
                "The benchmark gained {pts} points, or {pct}, to end {day} at {idx}.",
            ),
            (
                "{short} was the best performer, rising {share} to {price}.",
                "Among the biggest movers, {short} gained {share} to {price}.",
                "{short} led the advance with a {share} rise to {price}.",
            ),
        ),
        (
            (
                "Trading volumes were in line with the 30-day average.",
                "Turnover was roughly average for the time of year.",
                "Volumes were light ahead of central bank meetings.",
            ),
            (
                "Bond yields were little changed and the dollar edged lower.",
                "Government bond yields held steady while oil prices slipped.",
                "The dollar weakened slightly against major currencies.",
            ),
        ),
    ),
}

QUOTES = (
    '"We are confident in our strategy and in the strength of our balance sheet," {ceo} said.',
    '"This is the right step for our customers, our people and our shareholders," said {ceo}.',
    '"The team delivered in a demanding market," chief executive {ceo} said in a statement.',
    '"We see clear opportunities ahead and we intend to seize them," {ceo} told analysts.',
)

ANALYST_LINES = (
    "{analyst}, an analyst at {firm}, said the news was broadly in line with expectations.",
    '"The market will want more detail on costs," said {analyst} of {firm}.',
    "{analyst} at {firm} kept a buy rating on the stock, saying the outlook remained solid.",
    "Analysts at {firm}, including {analyst}, said investors would focus on cash flow.",
)

BOILERPLATE = (
    "Sign up for our free morning newsletter to get the day's top business stories in your inbox.",
    "Reporting by staff writers; editing by the business desk. Our standards: the Trust "
    "Principles.",
    "This article is for information only and does not constitute investment advice. Always "
    "do your own research before investing.",
    "Follow us on social media for breaking business news, market data and analysis from our "
    "reporters around the world.",
)

EDITS = (
    ("said", "stated"),
    ("rose", "climbed"),
    ("company", "firm"),
    ("shares", "stock"),
    (" billion", "bn"),
    ("about", "around"),
    ("expected", "forecast"),
    ("percent", "per cent"),
    ("announced", "said"),
    ("fell", "declined"),
)


# --- the labelled set -------------------------------------------------------------------------

EVENTS = ("earnings", "acquisition", "layoffs", "ceo", "guidance", "plant", "market")
COPY_KINDS = (
    "syndicated",
    "retitled",
    "boilerplate",
    "dropped-paragraph",
    "added-paragraph",
    "copy-edited",
    "reposted",
    "combined",
)
NEGATIVE_KINDS = (
    "same-company-other-event",
    "same-event-other-outlet",
    "follow-up",
    "next-quarter",
    "next-day-market-wrap",
)


class Generator:
    """Makes originals, copies and hard negatives; the same seed gives the same items."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clusters = 0
        self.items = 0
        self.seed = seed

    def _uid(self) -> str:
        self.items += 1
        return f"s{self.seed}:{self.items}"

    def _cluster(self) -> int:
        self.clusters += 1
        return self.clusters

    def facts(self, company: int | None = None, event: str | None = None) -> Facts:
        r = self.rng
        return Facts(
            company=r.randrange(len(COMPANIES)) if company is None else company,
            event=r.choice(EVENTS) if event is None else event,
            day=r.choice(DAYS),
            n=(
                r.uniform(0.2, 40),
                r.uniform(0.5, 25),
                r.uniform(0.2, 9),
                r.uniform(0.2, 12),
                r.uniform(0.1, 30),
                r.uniform(0.5, 15),
                r.uniform(5, 400),
                r.randrange(2, 9),
                r.uniform(3000, 9000),
            ),
            analyst=r.randrange(len(ANALYSTS)),
            quarter=r.randrange(1, 5),
            successor=f"{r.choice(FIRST_NAMES)} {r.choice(LAST_NAMES)}",
        )

    def original(self, published: datetime, facts: Facts | None = None) -> Story:
        facts = facts or self.facts()
        writer = Writer(self.rng, facts)
        return Story(
            uid=self._uid(),
            cluster=self._cluster(),
            kind="original",
            source=self.rng.choice(SOURCES),
            title=writer.title(),
            paragraphs=tuple(writer.paragraphs()),
            published=published,
            company=facts.company,
            event=facts.event,
        )

    # -- copies (same cluster) --

    def _other_source(self, story: Story) -> str:
        return self.rng.choice([s for s in SOURCES if s != story.source])

    def _later(self, story: Story) -> datetime:
        return story.published + timedelta(minutes=self.rng.randrange(5, 12 * 60))

    def copy(self, story: Story, kind: str) -> Story:
        r = self.rng
        base = replace(
            story,
            uid=self._uid(),
            kind=kind,
            source=self._other_source(story),
            published=self._later(story),
        )
        paragraphs = list(story.paragraphs)
        if kind == "syndicated":
            if r.random() < 0.5:
                paragraphs.append(f"This story was first published by {story.source}.")
            return replace(base, paragraphs=tuple(paragraphs))
        if kind == "retitled":
            return replace(base, title=self._retitle(story))
        if kind == "boilerplate":
            extra = r.sample(BOILERPLATE, r.randrange(1, 3))
            return replace(base, paragraphs=(*paragraphs, *extra))
        if kind == "dropped-paragraph":
            del paragraphs[r.randrange(1, len(paragraphs))]
            return replace(base, paragraphs=tuple(paragraphs))
        if kind == "added-paragraph":
            writer = Writer(r, self.facts(story.company, story.event))
            paragraphs.insert(r.randrange(1, len(paragraphs) + 1), writer.fill(r.choice(CONTEXT)))
            return replace(base, paragraphs=tuple(paragraphs))
        if kind == "copy-edited":
            return replace(base, paragraphs=tuple(self._edit(paragraphs)))
        if kind == "reposted":
            return replace(base, source=story.source)
        if kind == "combined":
            del paragraphs[r.randrange(1, len(paragraphs))]
            paragraphs = self._edit(paragraphs)
            paragraphs.append(r.choice(BOILERPLATE))
            return replace(base, title=self._retitle(story), paragraphs=tuple(paragraphs))
        raise ValueError(kind)

    def _retitle(self, story: Story) -> str:
        # A copy desk's rewrite keeps the facts: the same event and company, other words.
        facts = self._facts_of(story)
        options = [
            h for h in HEADLINES[story.event] if Writer(self.rng, facts).fill(h) != story.title
        ]
        return Writer(self.rng, facts).fill(self.rng.choice(options))

    def _facts_of(self, story: Story) -> Facts:
        return self._known[story.cluster]

    def _edit(self, paragraphs: list[str]) -> list[str]:
        edits = self.rng.sample(EDITS, 3)
        out = []
        for p in paragraphs:
            for old, new in edits:
                p = p.replace(old, new, 1)
            out.append(p)
        return out

    # -- hard negatives (new clusters) --

    def negative(self, story: Story, kind: str) -> Story:
        r = self.rng
        facts = self._facts_of(story)
        if kind == "same-company-other-event":
            other = r.choice([e for e in EVENTS if e not in (story.event, "market")])
            new = self.facts(story.company, other)
            return self._write(new, self._later(story), kind)
        if kind == "same-event-other-outlet":
            # Same facts, written by another reporter: other sentence variants.
            return self._write(facts, self._later(story), kind, avoid=story)
        if kind == "follow-up":
            new = replace(self.facts(story.company, "guidance"), n=facts.n)
            item = self._write(new, story.published + timedelta(hours=r.randrange(20, 30)), kind)
            lead = (
                f"Shares of {COMPANIES[story.company][0]} moved sharply on {new.day}, a day "
                f"after the company's announcement."
            )
            return replace(item, paragraphs=(lead, *item.paragraphs))
        if kind == "next-quarter":
            new = replace(self.facts(story.company, story.event), quarter=facts.quarter % 4 + 1)
            return self._write(new, story.published + timedelta(days=91), kind, template=story)
        if kind == "next-day-market-wrap":
            new = self.facts(story.company, "market")
            return self._write(new, story.published + timedelta(hours=24), kind, template=story)
        raise ValueError(kind)

    def _write(
        self,
        facts: Facts,
        published: datetime,
        kind: str,
        *,
        avoid: Story | None = None,
        template: Story | None = None,
    ) -> Story:
        style = self._styles.get(template.cluster) if template is not None else None
        writer = Writer(self.rng, facts, style)
        title, paragraphs = writer.title(), writer.paragraphs()
        if avoid is not None:
            # Another outlet: retry until the headline and most sentences differ.
            for _ in range(20):
                if (
                    title != avoid.title
                    and sum(p in avoid.paragraphs for p in paragraphs) <= len(paragraphs) // 2
                ):
                    break
                title, paragraphs = writer.title(), writer.paragraphs()
        cluster = self._cluster()
        self._known[cluster] = facts
        if style is not None:
            self._styles[cluster] = style
        return Story(
            uid=self._uid(),
            cluster=cluster,
            kind=kind,
            source=self.rng.choice(SOURCES),
            title=title,
            paragraphs=tuple(paragraphs),
            published=published,
            company=facts.company,
            event=facts.event,
        )

    _known: dict[int, Facts]
    _styles: dict[int, int]
    _last: dict[tuple[int, str], datetime]

    def new_facts(self, published: datetime, event: str | None = None) -> Facts:
        """Facts for a new original; never the same company and event twice in four days
        (the same announcement by the same company would be one story)."""
        facts = self.facts(event=event)
        for _ in range(20):
            last = self._last.get((facts.company, facts.event))
            if last is None or abs(published - last) > timedelta(days=4):
                break
            facts = self.facts(event=event)
        self._last[(facts.company, facts.event)] = published
        return facts

    def templated_original(self, published: datetime, event: str | None = None) -> Story:
        """An original written from a fixed template (a house style), so it has template twins."""
        facts = self.new_facts(published, event)
        style = self.rng.randrange(12)
        story = self._write(facts, published, "original")
        writer = Writer(self.rng, facts, style)
        story = replace(story, title=writer.title(), paragraphs=tuple(writer.paragraphs()))
        self._styles[story.cluster] = style
        return story


EXTRA = (
    "The announcement comes at a delicate moment for {sector}. Several large customers have "
    "delayed orders, and suppliers have warned that prices for energy and components remain "
    "well above the levels of three years ago.",
    "{short} has spent the past two years simplifying its structure, selling smaller units and "
    "closing offices. Management has promised investors a leaner company with steadier cash "
    "generation and a clearer dividend policy.",
    "In {city}, local officials welcomed any news that would protect employment in the region, "
    "where {short} is among the largest private employers and a major buyer of local services.",
    "Bond investors were watching closely. The company's debt trades at a modest premium to "
    "government bonds, and rating agencies have said they will review the group's leverage "
    "after the next set of annual accounts.",
    "Competition remains fierce. Asian manufacturers have been winning contracts with lower "
    "prices, while newer entrants backed by venture capital are targeting the most profitable "
    "niches of the {sector} market.",
    "The company will publish more details at its capital markets day later this year, when "
    "executives are expected to set new targets for margins, investment and returns to "
    "shareholders.",
    "Employees were told of the plans at a meeting on {day} morning, according to two people "
    "who attended and who asked not to be named because the discussion was private.",
    "Shares in other {sector} companies moved in sympathy, with investors reassessing the "
    "outlook for the whole industry after a volatile start to the year on stock markets.",
    "Environmental groups have pressed {short} to do more to cut emissions, and the company "
    "says it will publish a detailed transition plan with interim targets before {year}.",
    "Pension funds and other long-term holders have generally backed the strategy, though a "
    "vocal minority of shareholders has pushed for a break-up of the group.",
)

CONTEXT = (
    "The {sector} industry has faced a difficult year, with higher borrowing costs weighing on "
    "customers and suppliers alike, while governments debate new rules for the sector.",
    "Rivals in {sector} have also been reorganising, and several have sold non-core units to "
    "focus on their most profitable markets in Europe, Asia and North America.",
    "Earlier this year {short} opened a research centre near {city} and hired engineers from "
    "universities across the region to work on new products.",
)


def _fresh(seed: int) -> Generator:
    gen = Generator(seed)
    gen._known = {}
    gen._styles = {}
    gen._last = {}
    return gen


def labelled_set(size: int, seed: int = 4) -> list[Story]:
    """About ``size`` items: originals, copies of each kind and hard negatives, by time.

    Every copy kind and every hard-negative kind occurs; items are ordered by
    publication time, the order a refresh would meet them.
    """
    gen = _fresh(seed)
    items: list[Story] = []
    t = START
    kinds = iter(_cycle(COPY_KINDS))
    negatives = iter(_cycle(NEGATIVE_KINDS))
    while len(items) < size:
        t += timedelta(minutes=gen.rng.randrange(10, 90))
        templated = gen.rng.random() < 0.3
        story = gen.templated_original(t) if templated else _original(gen, t)
        items.append(story)
        for _ in range(gen.rng.choice((0, 1, 1, 2, 3))):
            items.append(gen.copy(story, next(kinds)))
        if gen.rng.random() < 0.6:
            kind = next(negatives)
            if kind == "next-day-market-wrap":
                # A house-style market wrap, and the next day's wrap from the same template.
                story = gen.templated_original(t + timedelta(minutes=5), event="market")
                items.append(story)
            elif kind == "next-quarter" and not templated:
                kind = "same-event-other-outlet"
            items.append(gen.negative(story, kind))
    items.sort(key=lambda s: (s.published, s.uid))
    return items


def filler(count: int, seed: int, end: datetime) -> Iterator[Story]:
    """``count`` unrelated originals published over the 30 days before ``end`` (oldest first)."""
    gen = _fresh(seed)
    span = timedelta(days=30).total_seconds()
    for i in range(count):
        published = end - timedelta(seconds=span * (count - i) / count)
        if gen.rng.random() < 0.3:
            yield gen.templated_original(published)
        else:
            yield _original(gen, published)


def _original(gen: Generator, published: datetime) -> Story:
    facts = gen.new_facts(published)
    story = gen.original(published, facts)
    gen._known[story.cluster] = facts
    return story


def _sentences(paragraphs: Iterable[str]) -> list[str]:
    return [x for p in paragraphs for x in p.split(". ")]


def _cycle(values: tuple[str, ...]) -> Iterator[str]:
    while True:
        yield from values
