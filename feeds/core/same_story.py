"""Whether two copies are one story: a near copy to merge, or another story under one key.

A candidate is accepted when its publication time is close, its numbers agree and its body
(and, in the grey zone, its title) is similar enough (:class:`~feeds.types.DedupeOptions`).
Each merge records its rule and scores so that it can be explained later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from feeds.core.identity import Existing, Match
from feeds.core.near import containment, resemblance, words
from feeds.core.next_reports import on_other_days, other_days_figures
from feeds.core.signals import (
    GREY_ZONE_AGREEMENT,
    MIN_NAMES_AGREEMENT,
    MIN_NUMBERS_AGREEMENT,
    SHORT_NOTICE_WORDS,
    agreement,
    cited_for_its_text,
    cites_enough,
    facts,
    figures_prove,
    figures_substituted,
    may_be_cut,
    normalized_title,
    other_title_figures,
    speaks_of,
    story_names,
    story_numbers,
    title_resemblance,
    too_thin_to_tell,
    version_mark,
)
from feeds.types import DedupeOptions


@dataclass(frozen=True)
class Candidate:
    """A stored copy that shares an LSH band with an incoming entry."""

    copy: int
    entry_id: str
    source: str
    title: str
    published: datetime
    signature: tuple[int, ...]
    body_text: str
    #: Found by its lead's bands (see :func:`lead_buckets`), not necessarily by its body's.
    via_lead: bool = False
    #: Its canonical link is linked from the incoming entry's body ("Read the full story").
    cited: bool = False


@dataclass
class _Incoming:
    """The entry looked for among the candidates; its facts are read when a candidate needs
    them (each half once: see :func:`~feeds.core.signals.story_numbers`)."""

    source: str
    title: str
    body_text: str
    sig: tuple[int, ...]
    published: datetime
    #: The names of every source in its titles (see :func:`~feeds.core.signals.site_names`).
    sites: Mapping[str, tuple[str, ...]]

    def numbers(self) -> frozenset[str]:
        return story_numbers(self.body_text)

    def names(self) -> frozenset[str]:
        return story_names(self.title, self.body_text, self.sites_of(self.source))

    def sites_of(self, source: str) -> tuple[str, ...]:
        return self.sites.get(source, ())

    def short(self) -> bool:
        return len(self.body_text.split()) < SHORT_NOTICE_WORDS


def near_match(
    source: str,
    title: str,
    body_text: str,
    sig: tuple[int, ...],
    published: datetime,
    candidates: Sequence[Candidate],
    options: DedupeOptions,
    body_of: Callable[[Candidate], str] | None = None,
    sites: Mapping[str, tuple[str, ...]] | None = None,
) -> Match | None:
    """The best candidate that is the same story, with the rule and scores, or None.

    ``body_of`` gives a candidate's body text when the candidates were read
    without it: only those that pass the signature and title tests need it. ``sites``:
    the names each source goes by, dropped from its titles before they are compared.
    """
    incoming = _Incoming(source, title, body_text, sig, published, sites or {})
    read_body = _read_once(body_of) if body_of is not None else _own_body
    best: tuple[float, Match] | None = None
    for cand in candidates:
        judged = _judge(incoming, cand, options, read_body)
        if judged is not None and (best is None or judged[0] > best[0]):
            best = judged
    return best[1] if best else None


def _own_body(candidate: Candidate) -> str:
    return candidate.body_text


def _read_once(body_of: Callable[[Candidate], str]) -> Callable[[Candidate], str]:
    """``body_of`` reading each candidate's body once: several rules ask for it (the facts,
    a cited copy's text, the figures of a next report), and each ask read the store."""
    read: dict[int, str] = {}

    def body(candidate: Candidate) -> str:
        key = id(candidate)  # the candidates outlive the judging
        if key not in read:
            read[key] = body_of(candidate)
        return read[key]

    return body


def _sent_again(incoming: _Incoming, cand: Candidate) -> bool:
    """Whether a source's new item is its stored one sent again under the same title: a
    wire's update that adds paragraphs, or its correction ("CORRECTED - ..."), which a
    lead or a link may find as another source's copy is (one source's items that share a
    lead under other titles are its template's, not one story's)."""
    mine = normalized_title(incoming.title, incoming.sites_of(incoming.source))
    return mine == normalized_title(cand.title, incoming.sites_of(cand.source))


def _judge(
    incoming: _Incoming,
    cand: Candidate,
    options: DedupeOptions,
    body_of: Callable[[Candidate], str],
) -> tuple[float, Match] | None:
    """The score and match of a candidate that is the same story, or None."""
    hours = abs((incoming.published - cand.published).total_seconds()) / 3600
    if hours > options.window_hours:
        return None
    body = resemblance(incoming.sig, cand.signature)
    other = cand.source != incoming.source
    led = (cand.via_lead or cand.cited) and (other or _sent_again(incoming, cand))
    if body < options.body_min and not led:
        return None
    cand_sites = incoming.sites_of(cand.source)
    cand_body: str | None = None  # read only when a rule needs it
    checked: _Facts | None = None
    contained = 0.0
    if led and body < options.body_threshold:
        # A copy cut to its first paragraphs (or the original of such a copy): its shingles
        # are mostly inside the longer body. Counting them costs more than the facts, which
        # every rule needs to agree: asked first, they spare most counts (stories written
        # from one template share their leads, not their numbers and names).
        cand_body = body_of(cand)
        if may_be_cut(incoming.body_text, cand_body):
            checked = _Facts(incoming, cand.title, cand_body, cand_sites)
            if not checked.may_agree():
                return None
            short, long = sorted((incoming.body_text, cand_body), key=len)
            contained = containment(short, long)  # = cut_copy_containment, lengths known
    if body < options.body_min and contained < options.containment_min and not cand.cited:
        return None  # no rule of _rule takes it: its title need not be compared
    heading = title_resemblance(
        incoming.title, cand.title, incoming.sites_of(incoming.source), cand_sites
    )
    rule = _rule(incoming, cand, (body, contained, heading), other, options)
    if rule is None:
        return None
    if checked is None:
        cand_body = cand_body if cand_body is not None else body_of(cand)
        checked = _Facts(incoming, cand.title, cand_body, cand_sites)
    if not checked.agree(grey_zone=rule == "similar body and title"):
        return None
    if rule == CITED_RULE and not _cited_text_speaks(incoming, cand, body_of, (body, contained)):
        return None  # the title and a link in common, over a text of something else
    if _next_report(incoming, cand, body_of):
        return None
    scores = _scores(cand, (body, contained, heading, hours), checked)
    score = max(body, contained) + heading / 10
    return score, Match(cand.entry_id, cand.source, rule, scores)


def _cited_text_speaks(
    incoming: _Incoming,
    cand: Candidate,
    body_of: Callable[[Candidate], str],
    measures: tuple[float, float],
) -> bool:
    """Whether a copy that links to ``cand`` is its story by its text, not by its title alone."""
    if cited_for_its_text(*measures):
        return True
    sites = (incoming.sites_of(incoming.source), incoming.sites_of(cand.source))
    return title_and_text(incoming.title, incoming.body_text, cand.title, body_of(cand), sites)


def _next_report(incoming: _Incoming, cand: Candidate, body_of: Callable[[Candidate], str]) -> bool:
    """Whether two copies of one template are two reports: their titles are the same words
    around other figures, or their texts have figures changed in their places (see
    :data:`~feeds.core.signals.SUBSTITUTED_FIGURES`), or, published on other days, their
    figures are replaced (:func:`~feeds.core.next_reports.other_days_figures`); unless a title says
    it corrects or updates the other: its version's mark ("CORRECTED -", "UPDATE 2-") is not
    the other's. Two reports both titled "Update: ..." are two reports."""
    if version_mark(incoming.title) != version_mark(cand.title):
        return False
    mine = normalized_title(incoming.title, incoming.sites_of(incoming.source))
    if other_title_figures(mine, normalized_title(cand.title, incoming.sites_of(cand.source))):
        return True
    if figures_substituted(incoming.body_text, body_of(cand)):
        return True
    return on_other_days(incoming.published, cand.published) and other_days_figures(
        incoming.body_text, body_of(cand)
    )


def _scores(
    cand: Candidate, measures: tuple[float, float, float, float], checked: _Facts
) -> dict[str, float | str]:
    """What ``feeds explain`` shows of a near-copy merge."""
    body, contained, heading, hours = measures
    return {
        "body": round(body, 4),
        **({"containment": round(contained, 4)} if contained else {}),
        "title": round(heading, 4),
        "hours": round(hours, 2),
        "numbers": round(checked.numbers, 4),
        "names": round(checked.names(), 4),
        "copy_source": cand.source,
        "copy_title": cand.title,
    }


def title_and_text(
    title: str,
    body_text: str,
    other_title: str,
    other_body: str,
    sites: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
) -> bool:
    """Whether two copies under one title (or alike ones) are one story by their text too.

    The thinner copy must be mostly inside the other, or speak of the other's story
    (:func:`~feeds.core.signals.speaks_of`: a brief, a blurb, a headline-only item do) with
    numbers and names that agree as every rule asks: a squatter's or a spam reposter's page
    has the title and nothing else of the story, and another report under a recurring title
    ("PROPOSED OFFERINGS RECENTLY FILED WITH THE SEC") other names and figures. ``sites``:
    the names of each copy's source (see ``near_match``).
    """
    thin, full = (title, body_text, sites[0]), (other_title, other_body, sites[1])
    if len(body_text) > len(other_body):
        thin, full = full, thin
    if containment(thin[1], full[1]) >= EDIT_CONTAINMENT_MIN:
        return True
    if not speaks_of(thin[1], full[0], full[1]):
        return False
    (mine, my_names), (theirs, their_names) = facts(*thin), facts(*full)
    least = 1 if too_thin_to_tell(thin[1]) else OTHER_FIGURES
    return (
        not other_figures(mine, theirs, least)
        and agreement(mine, theirs) >= MIN_NUMBERS_AGREEMENT
        and agreement(my_names, their_names) >= MIN_NAMES_AGREEMENT
    )


# A thinner copy that states this many figures or more, none of them among the story's, reports
# something else (agreement() calls two texts that state under 3 numbers agreed); a text too
# thin for its words to tell ("Period ended Jan 31") is told by one figure. On Reuters-21578
# (bench/wire_signals.py --only thin), of 3,000 stories each under its title with the first
# paragraph of another story of its topic and day, 955 were taken for the story (665 of them
# too thin for their words to tell); 416 of these state two figures or more, none the
# story's, and 223 more are thin and state one (316 left). Of the 24 same-title shorter
# copies sent within a day that were taken for the longer story, one states two, none the
# story's: the next day's "U.K. MONEY MARKET SHORTAGE FORECAST REVISED UP" (1.3 billion
# from 1.2, against two billion from 1.85), another report; two state one (kept: a figure
# written otherwise, "8.7 mln" for "8,700,000", is no other figure) and none is thin.
OTHER_FIGURES = 2


def other_figures(thin: frozenset[str], story: frozenset[str], least: int = OTHER_FIGURES) -> bool:
    """Whether a thin copy's numbers are all other than its story's: it states ``least`` or
    more, the story states some, and they have none in common."""
    return len(thin) >= least and bool(story) and not thin & story


class _Facts:
    """How far two copies' numbers and names agree, as the rules ask.

    The numbers are compared first; the names (the dearer half: a scan of every capitalized
    word) only when the numbers leave the answer open.
    """

    def __init__(self, incoming: _Incoming, title: str, body_text: str, sites: tuple[str, ...]):
        mine, theirs = incoming.numbers(), story_numbers(body_text)
        self.numbers = agreement(mine, theirs)
        self.proven = figures_prove(mine, theirs)
        self._names_of = (incoming, title, body_text, sites)
        self._names: float | None = None

    def names(self) -> float:
        """How far their names agree (read on the first call)."""
        if self._names is None:
            incoming, title, body_text, sites = self._names_of
            self._names = agreement(incoming.names(), story_names(title, body_text, sites))
        return self._names

    def agree(self, grey_zone: bool) -> bool:
        """Whether they agree enough for a rule (the grey zone asks more)."""
        if self.proven:
            return True
        if grey_zone:
            return self.numbers >= GREY_ZONE_AGREEMENT and self._names_agree(GREY_ZONE_AGREEMENT)
        return self.numbers >= MIN_NUMBERS_AGREEMENT and self._names_agree(MIN_NAMES_AGREEMENT)

    def _names_agree(self, minimum: float) -> bool:
        """Whether their names agree at least ``minimum``, or they are one subject's notices.

        A short notice's capitalized words are the labels of its lines, joined without an
        end mark ("Qtly div 69 cts vs 69 cts prior Payable May one Record APril 10"): a
        re-send that writes them otherwise ("Pay May One Record April 10") disagreed with
        it on half its "names". Its title names whose notice it is: two short notices
        whose titles start with the same two words (CAROLINA POWER ...) are not told apart
        by their labels. On Reuters-21578 (``bench/wire_signals.py --only notices``) 8 pairs
        of short notices within 72 hours were kept apart by their names alone: the 7 under
        titles of one subject are each one notice sent twice; the other, two funds'
        ("FRANKLIN PUERTO RICO TAX-FREE", "FRANKLIN HIGH-YIELD TAX-FREE"), stays two.
        """
        if self.names() >= minimum:
            return True
        incoming, title, body_text, sites = self._names_of
        if not incoming.short() or len(body_text.split()) >= SHORT_NOTICE_WORDS:
            return False
        mine = _subject(normalized_title(incoming.title, incoming.sites_of(incoming.source)))
        return mine is not None and mine == _subject(normalized_title(title, sites))

    def may_agree(self) -> bool:
        """Whether they agree enough for any rule."""
        return self.agree(grey_zone=False) or self.agree(grey_zone=True)


#: The rule of a copy that links to the other one (see :func:`~feeds.core.signals.cites_enough`).
CITED_RULE = "links to the other copy"


def _rule(
    incoming: _Incoming,
    cand: Candidate,
    measures: tuple[float, float, float],
    other: bool,
    options: DedupeOptions,
) -> str | None:
    """The rule by which a candidate may be the same story (its facts are asked next)."""
    body, contained, heading = measures
    if contained >= options.containment_min:
        return "contained in the other copy"
    if cand.cited and other and cites_enough(body, contained, heading, options):
        return CITED_RULE
    if body < options.body_min:
        return None
    if body >= options.body_threshold and _titles_allow(incoming, cand, heading, other, options):
        return "near-identical body"
    if heading >= options.title_threshold:
        return "similar body and title"
    return None


def _titles_allow(
    incoming: _Incoming, cand: Candidate, heading: float, other: bool, options: DedupeOptions
) -> bool:
    """Whether the titles of two near-identical texts let them be one story.

    One publisher's two items with no title word in common are two items, even over
    near-identical text (a templated page). A short notice's text is a template that cannot
    tell one company's from another's ("Qtly div 20 cts vs 20 cts prior Pay June 16 Record
    May 22"): its title must say it is the same, as much as in the grey zone or by naming
    the same subject first ("Southeast banking corp stb sets quarterly", "Southeast banking
    corp stb declares qtly div"); a few words in common ("Perini corp sets quarterly",
    "Enserch corp sets quarterly") do not.
    """
    if not incoming.short():
        return heading > 0 or other
    if heading >= options.title_threshold:
        return True
    mine = _subject(normalized_title(incoming.title, incoming.sites_of(incoming.source)))
    theirs = _subject(normalized_title(cand.title, incoming.sites_of(cand.source)))
    return mine is not None and mine == theirs


def _subject(title: str) -> tuple[str, ...] | None:
    """The first two words of a title (None for a shorter one): a notice's company."""
    found = words(title)[:2]
    return tuple(found) if len(found) == 2 else None


# Under one identity key (GUID, link, post id), a changed text is an edit of the same story
# when its body still resembles the stored one this much, or one body mostly contains the
# other (a story cut or extended), or the titles agree and the bodies share something.
EDIT_BODY_MIN = 0.3
EDIT_CONTAINMENT_MIN = 0.6
EDIT_TITLE_MIN = 0.5
EDIT_TITLE_BODY_MIN = 0.1


def different_story(
    existing: Existing,
    title: str,
    body_text: str,
    sig: tuple[int, ...] | None,
    stored_body: Callable[[], str],
    sites: tuple[str, ...] = (),
) -> str | None:
    """Why a changed text under a stored copy's identity key is another story, or None.

    None means an edit of the same story (an update). A text too thin to sign is judged
    by its title alone. ``sites``: the names of the source (see ``near_match``).
    """
    heading = title_resemblance(existing.title, title, sites, sites)
    if existing.signature is None or sig is None:
        same_title = normalized_title(title, sites) == normalized_title(existing.title, sites)
        if heading >= EDIT_TITLE_MIN or same_title:
            return None
        return f"title resemblance {heading:.2f} (bodies too short to compare)"
    body = resemblance(existing.signature, sig)
    if body >= EDIT_BODY_MIN or (heading >= EDIT_TITLE_MIN and body >= EDIT_TITLE_BODY_MIN):
        return None
    old = stored_body()
    short, long = sorted((body_text, old), key=len)
    contained = containment(short, long)
    if contained >= EDIT_CONTAINMENT_MIN:
        return None
    return f"body resemblance {body:.2f}, containment {contained:.2f}, title {heading:.2f}"
