"""Assembling written sentences into sections and the formats people paste: plain text, Markdown, HTML, JSON."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from creative.copy.article.generate import Article, Sentence

FORMATS = ("text", "markdown", "html", "json")


@dataclass(frozen=True)
class Section:
    """Consecutive sentences of one part of the article (the headline, the lead, one point, one scene, the close)."""

    kind: str
    heading: str | None
    sentences: tuple[Sentence, ...]
    fact: str | None = None
    keyword: str | None = None

    def text(self, language: str) -> str:
        return ("" if language == "zh" else " ").join(s.text for s in self.sentences)

    @property
    def engine(self) -> str:
        engines = {s.engine for s in self.sentences}
        return engines.pop() if len(engines) == 1 else "lm+grammar"


def _heading(kind: str, fact: str | None, keyword: str | None) -> str | None:
    if kind == "point" and fact:
        return fact[:1].upper() + fact[1:]
    if kind == "scene" and keyword:
        return keyword[:1].upper() + keyword[1:]
    return None


def sections(article: Article) -> list[Section]:
    out: list[Section] = []
    key = None
    for s in article.sentences:
        this = (s.slot.section, s.slot.group)
        if this != key:
            fact = s.slot.fact.text if s.slot.fact else None
            out.append(Section(s.slot.section, _heading(s.slot.section, fact, s.slot.keyword), (s,), fact, s.slot.keyword))
            key = this
        else:
            last = out[-1]
            out[-1] = Section(last.kind, last.heading, (*last.sentences, s), last.fact, last.keyword)
    return out


def engine_label(article: Article) -> str:
    engines = {s.engine for s in article.sentences}
    return engines.pop() if len(engines) == 1 else "lm+grammar"


def to_text(secs: list[dict[str, Any]], language: str) -> str:
    """Paragraphs separated by blank lines: the text the guardrails check and the element stores."""
    return "\n\n".join(sec["text"] for sec in secs)


def to_markdown(secs: list[dict[str, Any]], language: str) -> str:
    parts = []
    for sec in secs:
        if sec["section"] == "headline":
            parts.append(f"# {sec['text']}")
            continue
        if sec.get("heading"):
            parts.append(f"## {sec['heading']}")
        parts.append(sec["text"])
    return "\n\n".join(parts) + "\n"


def to_html(secs: list[dict[str, Any]], language: str) -> str:
    parts = [f'<article lang="{html.escape(language)}">']
    for sec in secs:
        if sec["section"] == "headline":
            parts.append(f"<h1>{html.escape(sec['text'])}</h1>")
            continue
        if sec.get("heading"):
            parts.append(f"<h2>{html.escape(sec['heading'])}</h2>")
        parts.append(f"<p>{html.escape(sec['text'])}</p>")
    parts.append("</article>")
    return "\n".join(parts) + "\n"


def render_as(fmt: str, secs: list[dict[str, Any]], language: str) -> str:
    """The article in one of FORMATS ('json' is the caller's: it carries more than the text)."""
    return {"text": to_text, "markdown": to_markdown, "html": to_html}[fmt](secs, language)


def section_dicts(article: Article) -> list[dict[str, Any]]:
    """Sections as plain data, each sentence with its engine and scores (the JSON format and stored attributes)."""
    lang = article.product.language
    return [{"section": sec.kind, "heading": sec.heading, "fact": sec.fact, "keyword": sec.keyword, "engine": sec.engine,
             "text": sec.text(lang),
             "sentences": [{"text": s.text, "engine": s.engine, "loglik": s.loglik, "relevance": s.relevance} for s in sec.sentences]}
            for sec in sections(article)]
