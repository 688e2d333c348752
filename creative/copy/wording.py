"""Does a text read as copy? Empty, cut off, garbled, the wrong script, a list of keywords or talk about the task.

Pure functions of the text (and, for a cut inside a feature, the product's features); the guardrails
combine them with the facts and names checks.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from creative.copy.entities import zh_words
from creative.copy.limits import cjk_count
from creative.text import unsafe_character

_DANGLING_EN = {"and", "or", "the", "a", "an", "with", "for", "of", "to", "in", "at", "your", "our", "my", "by", "from", "that",
                "is", "are", "was", "but", "than", "as", "like", "its", "their", "&", "can", "will", "be", "not",
                "this", "which", "who", "when", "if", "very", "highly", "really", "truly",
                "into", "onto", "through", "without", "every", "some", "get", "make",
                "keeps", "stays", "makes", "gives", "lets", "helps", "takes", "brings"}  # a verb with its object cut
_DANGLING_ZH = ("，", "、", "的", "和", "与", "及", "：", "；", "更", "很", "最", "让", "把", "被", "在")
_META = re.compile(
    r"\b(?:headlines?|slogans?|taglines?|here'?s|here is|here are|sure|certainly|as an ai|i can|i'm|i am|"
    r"ad copy|advertisement|assistant|user|catchy|write)\b|\b(?:product|brand|price|features?|title|category|keywords?)\s*:",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(r"\b(worst|hate[sd]?|terrible|awful|horrible|ugly|boring|useless|broken|disaster|nightmare|pain(?:ful)?|sad|die[sd]?|death|kill\w*)\b|糟糕|难用|讨厌|失望|垃圾", re.IGNORECASE)
_PLAIN_MARKS = "$¥￥€£%,.，。：:·｜|!！?？、'’-"  # currency and punctuation a title uses, not noise
# An HTML tag or comment, or Markdown link syntax: copy is plain text, and the Markdown an article downloads as
# carries its text as it is, so markup in a section would become a tag or a link wherever the Markdown is pasted.
_MARKUP = re.compile(r"</?[A-Za-z]|<[!?]|\]\s*[(\[:]")
_PAIRS = (("(", ")"), ("[", "]"), ("“", "”"), ("「", "」"), ("《", "》"), ("（", "）"))


def check_quality(text: str, language: str, finished: bool = True, title: bool = True, allowed_latin: Sequence[str] = ()) -> list[str]:
    """Empty, cut off, garbled, wrong script or talking about the task instead of doing it."""
    stripped = text.strip()
    if not stripped:
        return ["empty: no text"]
    reasons = []
    if not finished:
        reasons.append("cut off: stopped at the token limit")
    last_word = re.findall(r"[A-Za-z&]+", stripped.split()[-1]) if stripped.split() else []
    if stripped[-1] in ",:;-–—/($¥￥€£#" or (language == "en" and last_word and last_word[-1].lower() in _DANGLING_EN and stripped[-1].isalpha()):
        reasons.append(f"cut off: ends with {stripped.split()[-1]!r}")
    if language == "en" and re.search(r"\d\s*%$", stripped):
        reasons.append("cut off: a percentage without 'off'")
    if language == "zh" and stripped.endswith(_DANGLING_ZH) and (not cjk_count(stripped[-1]) or zh_words(stripped)[-1:] == [stripped[-1]]):
        reasons.append(f"cut off: ends with {stripped[-1]!r}")  # a function word on its own, not the end of 自在
    for a, b in _PAIRS:
        if stripped.count(a) != stripped.count(b):
            reasons.append(f"cut off: unbalanced {a}{b}")
    if stripped.count('"') % 2:
        reasons.append('cut off: unbalanced "')
    if ("\ufffd" in stripped or any(unicodedata.category(ch) in ("Co", "Cs") for ch in stripped)
            or unsafe_character(re.sub("[\n\t]", "", stripped))):  # bidi controls too: they reorder what readers see
        reasons.append("garbled: broken or control characters")
    if _MARKUP.search(stripped):
        reasons.append("garbled: contains markup (an HTML tag or a Markdown link); copy is plain text")
    letters = sum(ch.isalpha() for ch in stripped)
    symbols = sum(not (ch.isalnum() or ch.isspace() or ch in _PLAIN_MARKS) for ch in stripped)
    if letters < 2 or symbols > 0.25 * len(stripped.replace(" ", "")):
        reasons.append("garbled: too few letters")
    if re.search(r"(.)\1{3,}", stripped) or re.search(r"\b(\w+)(?:\W+\1\b){2,}", stripped, re.IGNORECASE):
        reasons.append("garbled: repeated characters or words")
    if re.search(r"https?://|www\.|@\w|<\|", stripped):
        reasons.append("garbled: contains a link, handle or special token")
    if title and "\n" in stripped:
        reasons.append("garbled: more than one line")
    if language == "en" and cjk_count(stripped):
        reasons.append("garbled: Chinese characters in English copy")
    if language == "zh":
        latin = re.sub("|".join(re.escape(w) for w in allowed_latin if w) or "$^", "", stripped)
        words = re.findall(r"[A-Za-z]{2,}", latin)
        if cjk_count(stripped) < 0.5 * max(1, sum(ch.isalpha() for ch in stripped)):
            reasons.append("garbled: not mainly Chinese")
        elif words:
            reasons.append(f"garbled: English words in Chinese copy ({', '.join(words[:3])})")
    negative = _NEGATIVE.search(stripped)
    if title and negative:
        reasons.append(f"off-message: negative wording ({negative.group(0)!r})")
    if title and language == "en" and _META.search(stripped):
        reasons.append(f"not copy: talks about the task ({_META.search(stripped).group(0)!r})")
    if title and language == "en":
        words = [w.lower().removesuffix("s")[:5] for w in re.findall(r"[A-Za-z]{3,}|\d{2,}", stripped)]  # stems: grind, grinder
        words = [w for w in words if w not in _DANGLING_EN]
        again = next((w for i, w in enumerate(words) if w in words[:i]), None)
        if again:
            reasons.append(f"garbled: says {again!r} twice")
    if title and language == "en" and _keyword_list(stripped):
        reasons.append("not copy: a list of keywords, not a sentence or a phrase")
    if title and language == "zh":
        words = [w for w in zh_words(stripped) if len(w) >= 2]
        again = next((w for i, w in enumerate(words) if w in words[:i]), None)
        if again:
            reasons.append(f"garbled: says {again!r} twice")
    return reasons


_ARTICLES = {"a", "an", "the", "your", "my", "our", "their", "its"}


def _keyword_list(text: str) -> bool:
    """Fragments of one word strung with commas or semicolons ("Gym, outdoor; leak-proof"): keywords, not copy."""
    parts = [p.split() for p in re.split(r"[,;:]", text) if p.strip()]
    if len(parts) == 2:
        return all(len(p) == 1 for p in parts)
    bare = [[w for w in p if w.lower() not in _ARTICLES] or p for p in parts]  # "a gift, a work" are single words
    return len(parts) >= 3 and sum(len(p) == 1 for p in bare) >= 2


def check_cut_feature(text: str, features: Sequence[str], language: str = "en") -> list[str]:
    """A title ending inside a catalog feature: a clause ("keeps drinks" of "keeps drinks cold for 24 hours"),
    a measure ("water resistant to 50" of "... 50 m", "a 20 L" of "20 L capacity") or, in Chinese, a word cut short."""
    stripped = text.strip().rstrip("。！!")
    if language == "zh":
        for feature in features:
            for k in range(2, len(feature)):
                prefix = feature[:k]
                if cjk_count(prefix[-1]) and stripped.endswith(prefix) and not stripped.endswith(feature) and not _continues(stripped, prefix):
                    return [f"cut off: stops inside the feature {feature!r}"]
        return []
    low = " ".join(re.findall(r"[\w'-]+", text.lower()))
    for feature in features:
        words = re.findall(r"[\w'-]+", feature.lower())
        clause = words and words[0].endswith("s") and len(words) >= 3
        measure = words and words[0][:1].isdigit()
        for k in range(2, len(words)):
            prefix = words[:k]
            if not (clause or measure or prefix[-1][:1].isdigit()):
                continue
            joined = " ".join(prefix)
            if low == joined or low.endswith(" " + joined):
                return [f"cut off: stops inside the feature {feature!r}"]
    return []


def _continues(text: str, prefix: str) -> bool:
    """A Chinese prefix that is itself a whole word here (the feature's first word), not a cut."""
    return len(prefix) >= 2 and prefix in zh_words(text)
