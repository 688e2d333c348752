"""Checks on one model-written sentence, on top of the shared guardrails.

The shared guardrails judge the whole sentence (facts, banned claims, garbling); these judge the part
the model wrote: it may not state numbers (they come from the catalog), must be one finished sentence
of a readable length, and may not reach for puffery or claims nobody measured (claims_en.txt).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from creative.copy.article.variety import Ledger, sentences
from creative.copy.guardrails import Guardrails, check_length
from creative.copy.limits import LONG_HEADLINE, cjk_count, word_count

SENTENCE_WORDS = {"en": (8, 28), "zh": (12, 60)}  # words for en, characters for zh
MIN_WRITTEN = {"en": 5, "zh": 8}  # the model's own part of a sentence, at least
ECHO_RUN = {"en": 4, "zh": 6}  # words (en) or characters (zh) in a row that count as repeating a phrase
_END = re.compile(r"\.(?!\d)|[!?。！？]")  # a point between digits ("2.1 kg") is a decimal, not an end
_NOT_SUPERLATIVE = {"rest", "interest", "forest", "test", "honest", "suggest", "west", "chest", "guest", "nest", "request", "invest",
                    "harvest", "modest", "contest", "protest", "digest", "arrest", "lest", "manifest", "quest", "crest", "pest", "vest",
                    "zest", "earnest", "unrest", "attest", "infest", "wrest", "jest"}
_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I've|me|my|we|we're|our|us)\b")


@cache
def _claims(language: str) -> re.Pattern | None:
    try:
        text = resources.files("creative.copy.article").joinpath(f"claims_{language}.txt").read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    parts = []
    for line in text.splitlines():
        phrase = line.strip()
        if not phrase or phrase.startswith("#"):
            continue
        body = re.escape(phrase.rstrip("*")).replace(r"\ ", r"\s+")
        parts.append(r"(?<![A-Za-z])" + body + (r"[A-Za-z-]*" if phrase.endswith("*") else r"(?![A-Za-z])"))
    parts.sort(key=len, reverse=True)
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


_MISSPELT = re.compile(r"facts: '([^']+)' looks like a misspelt")


def catalog_false_alarms(reasons: list[str], guard: Guardrails) -> list[str]:
    """Reasons without 'misspelt name' alarms on words of the product's own features ('spout' beside 'Pour-Over')."""
    words = {w.casefold() for f in guard.product.features for w in re.findall(r"[A-Za-z]+", f)}
    return [r for r in reasons if not (_MISSPELT.match(r) and _MISSPELT.match(r).group(1).casefold() in words)]


def guarded(text: str, guard: Guardrails) -> list[str]:
    """The shared guardrails over a sentence or section, less the false alarms on catalog words."""
    return catalog_false_alarms(guard.check_section(text), guard)


# A line may end a sentence without its point (base models stop at the line's end), but not on one of these words.
_DANGLING = frozenset("a an the and or but so to of in on at for with from by as your you its their our it can will is are that "
                      "this which when while if than more very".split())


def first_sentence(text: str, line_ended: bool = False) -> str | None:
    """The text up to the end of its first sentence; None when no sentence ends.

    `line_ended`: the writer stopped at the end of its line, which ends an English sentence that lacks only its
    point ("... so you can use it in the pool") unless the last word leaves it hanging ("... keeps the shoe in the").
    """
    m = _END.search(text)
    if m:
        return text[: m.end()].strip()
    last = re.search(r"([A-Za-z']+)$", text.strip()) if line_ended else None
    return text.strip() + "." if last and last.group(1).lower() not in _DANGLING else None


def sentence_reasons(sentence: str, written: str, guard: Guardrails) -> list[str]:
    """Why a model sentence (`written` is the model's part of it) cannot be published."""
    lang = guard.product.language
    reasons = guarded(sentence, guard)
    if re.search(r"\d", written):
        reasons.append("facts: the model wrote a number; numbers come only from the catalog")
    size = cjk_count(sentence) if lang == "zh" else word_count(sentence)
    low, high = SENTENCE_WORDS[lang]
    if not low <= size <= high:
        unit = "characters" if lang == "zh" else "words"
        reasons.append(f"length: {size} {unit}, outside {low}-{high} for one sentence")
    claims = _claims(lang)
    found = sorted({m.group(0).lower() for m in claims.finditer(written)}) if claims else []
    if found:
        reasons.append(f"claim: {', '.join(found)} (puffery or a claim the catalog does not back)")
    superlative = [w for w in re.findall(r"\b[a-z]+est\b", written.lower()) if w not in _NOT_SUPERLATIVE]
    if lang == "en" and superlative:
        reasons.append(f"claim: superlative {superlative[0]!r}")
    if lang == "en" and _FIRST_PERSON.search(written):
        reasons.append(f"voice: first person ({_FIRST_PERSON.search(written).group(0)!r}) speaks for a seller nobody asked for")
    if re.search(r"[?:;!]", written) or written.count(",") + written.count("，") >= 2:
        reasons.append("form: a question, an exclamation or a list, not one plain sentence")
    if (cjk_count(written) if lang == "zh" else word_count(written)) < MIN_WRITTEN[lang]:
        reasons.append("form: the model added too little to make a sentence")
    if lang == "en":
        stems = [w[:5] for w in re.findall(r"[a-z]{4,}", written.lower())]
        looping = sorted({w for w in stems if stems.count(w) >= 3})
        if looping:
            reasons.append(f"garbled: says {looping[0]!r}... three times")
        fact_words = {w[:5] for f in guard.product.features for w in re.findall(r"[a-z]{4,}", f.lower())}
        echoed = sorted(fact_words & set(stems))
        if echoed:
            reasons.append(f"repetition: restates the catalog's words ({', '.join(echoed)}...) instead of saying what they do")
        named = [w for w in re.findall(r"\b[A-Z][A-Za-z]+", written) if w != "I"]
        if named:
            reasons.append(f"names: the model wrote {', '.join(named[:3])}; names come only from the catalog")
    return reasons


def echo_reason(written: str, earlier: list[str], language: str) -> str | None:
    """The model's words repeat a run of an earlier sentence (small models loop on their own phrases)."""
    n = ECHO_RUN[language]
    toks = re.findall(r"[\u3400-\u9fff]" if language == "zh" else r"[a-z']+", written.lower())
    runs = {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}
    for sentence in earlier:
        other = re.findall(r"[\u3400-\u9fff]" if language == "zh" else r"[a-z']+", sentence.lower())
        for i in range(len(other) - n + 1):
            if tuple(other[i : i + n]) in runs:
                return f"repetition: repeats {' '.join(other[i : i + n])!r} from an earlier sentence"
    return None


def _without_catalog(text: str, guard: Guardrails) -> str:
    """The text with the catalog's own words (name, brand, features, prices) cut out: what the writer chose to say."""
    p = guard.product
    for span in sorted({p.name, p.brand, p.category, *p.features}, key=len, reverse=True):
        text = re.sub(re.escape(span), " ", text, flags=re.IGNORECASE) if span else text
    return re.sub(r"[$¥￥€£]?\d+(?:[.,]\d+)*", " ", text)


def section_reasons(text: str, section: str, guard: Guardrails, earlier: list[str]) -> list[str]:
    """The writer's checks applied to a whole section by whoever wrote it (the benchmark judges labelled sections so)."""
    lang = guard.product.language
    reasons = guarded(text, guard)
    if section == "headline":
        reasons += check_length(text, LONG_HEADLINE)
    free = _without_catalog(text, guard)
    claims = _claims(lang)
    found = sorted({m.group(0).lower() for m in claims.finditer(free)}) if claims else []
    if found:
        reasons.append(f"claim: {', '.join(found)}")
    ledger = Ledger.for_product(guard.product, earlier)
    for sentence in sentences(text, lang):
        size = cjk_count(sentence) if lang == "zh" else word_count(sentence)
        if section != "headline" and size > SENTENCE_WORDS[lang][1] + 10:  # catalog-filled sentences may list every feature
            reasons.append(f"length: a sentence of {size}")
        why = ledger.reason(sentence)
        if why:
            reasons.append(why)
    echo = echo_reason(free, [_without_catalog(e, guard) for e in earlier], lang)
    if echo:
        reasons.append(echo)
    return reasons
