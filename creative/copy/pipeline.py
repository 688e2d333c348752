"""One front for copy: preprocess (prompt or slots) -> forward (model or templates) -> postprocess (guardrails, ranking).

`CopyPipeline.titles` and `CopyPipeline.article` are what the CLI and the flows call; `store_titles` and
`store_article` turn the top accepted candidates into library elements.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from creative.catalog import Product
from creative.copy import grammar
from creative.copy.errors import CopyError
from creative.copy.guardrails import Guardrails, check_length, duplicate_reason
from creative.copy.limits import HEADLINE, LONG_HEADLINE, LengthLimit, cjk_count, word_count
from creative.copy.loading import load_model
from creative.copy.model import EMBEDDED_NAME, LanguageModel, SamplingConfig
from creative.copy.ranking import combined_score, rank
from creative.copy.styles import STYLES, fact_terms, label, mentions_fact, style_fit
from creative.copy.templates import EXAMPLE_NAMES, product_slots, render_messages

ENGINES = ("lm", "grammar")
ARTICLE_SECTIONS = ("headline", "lead", "point", "point", "point", "scene", "cta")
TITLE_SAMPLING = SamplingConfig(temperature=0.8, top_k=50, top_p=0.95, max_new_tokens=20, stop_at_newline=True)
SECTION_TOKENS = {"headline": 32, "lead": 96, "point": 80, "scene": 96, "cta": 40}
SECTION_MIN = {"en": 12, "zh": 25}  # words / characters for a paragraph section
# Below this length-normalised log-likelihood a small model's text is usually word salad.
MIN_MEAN_LOGPROB = -2.5
# Length-aware stopping for titles: from 60% of the budget on, each character adds this to the stop logits.
SOFT_LENGTH = 0.6
STOP_BIAS_PER_CHAR = 0.8
# A Latin word the tokenizer splits into this many pieces (and the catalog never uses) counts as invented.
INVENTED_PIECES = 3
# A title must show at least some cues of the style it is filed under (see styles.style_fit).
MIN_STYLE_FIT = 0.4
_QUOTES = (('"', '"'), ("“", "”"), ("'", "'"), ("「", "」"), ("《", "》"))
_SENTENCE_END = re.compile(r"[.!?。！？](?=\s|$)")


@dataclass
class Candidate:
    """One title (or article) candidate with everything a user needs to see why it was kept or not."""

    text: str
    style: str
    language: str
    engine: str
    product_id: str
    kind: str = "title"
    status: str = "rejected"
    reasons: list[str] = field(default_factory=list)
    score: float | None = None
    loglik: float | None = None  # mean token log-probability under the model
    style_fit: float = 0.0
    code: str | None = None
    sections: list[dict[str, Any]] | None = None  # articles: each section's text and engine
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["style_label"] = label(self.style, self.language) if self.kind == "title" else self.style
        if data["sections"] is None:
            data.pop("sections")
        return data


def _clean(text: str) -> str:
    text = " ".join(text.split())
    for a, b in _QUOTES:
        if len(text) > 2 and text.startswith(a) and text.endswith(b) and text.count(a) + (text.count(b) if a != b else 0) == 2:
            text = text[1:-1].strip()
    return text


def _trim_to_sentence(text: str) -> str | None:
    """The text up to its last complete sentence, or None when there is none."""
    ends = list(_SENTENCE_END.finditer(text))
    return text[: ends[-1].end()].strip() if ends else None


def _strip_dup_reasons(candidates: Iterable[Candidate]) -> None:
    for c in candidates:
        c.reasons = [r for r in c.reasons if not r.startswith(("duplicate:", "near duplicate:"))]


class CopyPipeline:
    """Holds the (lazily loaded) model and the catalog's brands; generation is per product."""

    def __init__(
        self,
        model: LanguageModel | None = None,
        model_spec: str | Path | None = None,
        cache_dir: str | Path | None = None,
        brands: Iterable[str] = (),
        per_style: int = 24,
        seed: int = 0,
        dtype: Any = None,
    ):
        if per_style < 1:
            raise CopyError(f"candidates per style must be at least 1, got {per_style}")
        self._model = model
        self.model_spec = model_spec
        self.cache_dir = cache_dir
        # other products' names count like other brands: naming them is a facts violation
        self.brands = tuple(dict.fromkeys([*brands, *EXAMPLE_NAMES]))
        self.per_style = per_style
        self.seed = seed
        self.dtype = dtype

    # ------------------------------------------------------------ model and engine

    @property
    def model(self) -> LanguageModel:
        if self._model is None:
            self._model = load_model(self.model_spec, cache_dir=self.cache_dir, dtype=self.dtype)
        return self._model

    @property
    def model_loaded(self) -> bool:
        return self._model is not None

    @property
    def model_name(self) -> str | None:
        """The loaded model's name, for stored copy's attributes; None when only grammar ran."""
        return self._model.name if self._model is not None else None

    def writes(self, language: str) -> bool:
        """Whether the model writes this language; the embedded model is known to write English only."""
        if language != "zh":
            return True
        if self._model is None and self.model_spec is None:
            return False
        return self.model.writes_chinese

    def resolve_engine(self, requested: str, language: str) -> tuple[str, str | None]:
        if requested not in ENGINES:
            raise CopyError(f"unknown engine {requested!r}; use one of {', '.join(ENGINES)}")
        if requested == "lm" and not self.writes(language):
            name = self._model.name if self._model else (self.model_spec or EMBEDDED_NAME)
            return "grammar", f"{name} does not write Chinese; used the grammar engine (pass --model with a Chinese-capable model for lm)"
        return requested, None

    # ------------------------------------------------------------ titles

    def preprocess_title(self, product: Product, style: str) -> list[int]:
        slots = product_slots(product)
        slots["show_price"] = style == "promotion"
        messages = render_messages(f"title_{style}_{product.language}.j2", slots)
        return self.model.chat_prompt(messages)

    def forward_titles(self, prompt_ids: list[int], n: int, seed: int, limit: LengthLimit = HEADLINE) -> list[Any]:
        """Sample `n` titles for one prompt with length-aware stopping; the benchmark times exactly this."""
        config = SamplingConfig(**{**asdict(TITLE_SAMPLING), "seed": seed, "max_chars": limit.max_chars,
                                   "soft_chars": int(limit.max_chars * SOFT_LENGTH), "stop_bias_per_char": STOP_BIAS_PER_CHAR})
        return self.model.generate(prompt_ids, n, config)

    def _invented_words(self, text: str, product: Product) -> list[str]:
        """Latin words the tokenizer needs 3+ pieces for and the catalog never uses: made-up names like 'Nuxtrain'.

        A 49k vocabulary holds common English words whole or in two pieces; invented brand-like words
        split further. Words from the product's own facts are always allowed.
        """
        if product.language != "en" or not self.model_loaded:
            return []
        known = set(re.findall(r"[a-z]+", " ".join([product.name, product.brand, product.category, *product.features, *product.keywords]).lower()))
        out = []
        for word in re.findall(r"[A-Za-z]+", text):
            low = word.lower()
            if len(low) < 5 or low in known or low.rstrip("s") in known:
                continue
            if len(self.model.tokenizer(" " + low, add_special_tokens=False)["input_ids"]) >= INVENTED_PIECES:
                out.append(word)
        return out

    def _judge(self, c: Candidate, guard: Guardrails, product: Product, finished: bool = True, overflow: bool = False) -> Candidate:
        if overflow:  # stopped while generating: it had already passed the limit
            c.reasons = [f"length: passed the {guard.limit.name} limit of {guard.limit.max_chars} characters while generating (stopped early)"]
        else:
            c.reasons = guard.check_title(c.text, finished=finished)
        if c.engine == "lm" and not overflow:
            invented = self._invented_words(c.text, product)
            if invented:
                c.reasons.append(f"garbled: invented word(s) not in the catalog: {', '.join(invented)}")
        if c.engine == "lm" and c.loglik is not None and c.loglik < MIN_MEAN_LOGPROB and not overflow:
            c.reasons.append(f"garbled: the model was unsure of its own text (mean log-prob {c.loglik:.2f} < {MIN_MEAN_LOGPROB})")
        c.style_fit = round(style_fit(c.text, c.style, product), 3)
        c.score = combined_score(c.loglik, c.style_fit)
        if c.style_fit < MIN_STYLE_FIT and not overflow:
            c.reasons.append(f"style: reads poorly as {label(c.style, c.language)} (style fit {c.style_fit:.2f} < {MIN_STYLE_FIT})")
        return c

    def titles(
        self,
        product: Product,
        styles: Sequence[str] = STYLES,
        n: int = 5,
        engine: str = "lm",
        fill: bool = True,
        limit: LengthLimit = HEADLINE,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Candidate]:
        """Candidates for every style, accepted first (best first) then rejected with reasons.

        With the `lm` engine, when fewer than `n` model titles of a style pass, grammar titles
        (labelled engine=grammar) top it up unless `fill` is False. `progress(styles done, styles)`
        is called after each style.
        """
        if n < 1:
            raise CopyError(f"--n must be at least 1, got {n}")
        used, note = self.resolve_engine(engine, product.language)
        guard = Guardrails.for_product(product, self.brands, limit)
        out: list[Candidate] = []
        for i, style in enumerate(styles):
            if style not in STYLES:
                raise CopyError(f"unknown style {style!r}; use one of {', '.join(STYLES)}")
            cands: list[Candidate] = []
            prompt_ids = None
            if used == "lm":
                prompt_ids = self.preprocess_title(product, style)
                for g in self.forward_titles(prompt_ids, self.per_style, self.seed * 1000 + i, limit):
                    c = Candidate(_clean(g.text) + ("…" if g.overflow else ""), style, product.language, "lm", product.product_id, loglik=round(g.mean_logprob, 4))
                    cands.append(self._judge(c, guard, product, g.finished, g.overflow))
                cands = rank(cands, product.language)
            if used == "grammar" or (fill and sum(c.status == "accepted" for c in cands) < n):
                texts = grammar.title_candidates(product, style)
                seen = {c.text for c in cands}
                texts = [t for t in texts if t not in seen]
                scores = self.model.score(prompt_ids, texts) if prompt_ids is not None and texts else [None] * len(texts)
                for text, lp in zip(texts, scores):
                    cands.append(self._judge(Candidate(text, style, product.language, "grammar", product.product_id, loglik=None if lp is None else round(lp, 4)), guard, product))
                _strip_dup_reasons(cands)
                cands = rank(cands, product.language)
            if note:
                for c in cands:
                    c.notes.append(note)
            out.extend(cands)
            if progress is not None:
                progress(i + 1, len(styles))
        return out

    def judge_title(self, candidate: Candidate, product: Product, limit: LengthLimit = HEADLINE) -> Candidate:
        """Run the title guardrails, style fit and score on one candidate (a reviewer's edit, say); sets its reasons and score."""
        return self._judge(candidate, Guardrails.for_product(product, self.brands, limit), product)

    # ------------------------------------------------------------ articles

    def _section_prompt(self, product: Product, section: str, keywords: list[str], feature: str | None) -> list[int]:
        slots = product_slots(product, keywords)
        slots["show_price"] = section == "cta"
        extra = {"feature": feature} if feature is not None else {}
        return self.model.chat_prompt(render_messages(f"article_{section}_{product.language}.j2", slots, **extra))

    def _section_reasons(self, guard: Guardrails, product: Product, section: str, text: str, finished: bool, feature: str | None) -> list[str]:
        reasons = guard.check_section(text, finished)
        lang = product.language
        if section == "headline":
            reasons += check_length(text, LONG_HEADLINE)
        elif section != "cta":
            size = cjk_count(text) if lang == "zh" else word_count(text)
            if size < SECTION_MIN[lang]:
                reasons.append(f"length: section has {size} {'characters' if lang == 'zh' else 'words'}, under {SECTION_MIN[lang]}")
        if feature is not None:
            terms = fact_terms(Product(**{**asdict(product), "features": [feature]}))
            numbers = re.findall(r"\d+", feature)
            if not (mentions_fact(text, terms) or any(x in text for x in numbers)):
                reasons.append(f"not tied to its fact: does not mention {feature!r}")
        return reasons

    def _lm_section(self, guard: Guardrails, product: Product, section: str, keywords: list[str], feature: str | None,
                    n: int, seed: int, rejected: list[Candidate]) -> tuple[str, float] | None:
        ids = self._section_prompt(product, section, keywords, feature)
        config = SamplingConfig(temperature=0.7, top_k=40, top_p=0.9, max_new_tokens=SECTION_TOKENS[section],
                                stop_at_newline=section in ("headline", "cta"), seed=seed)
        best: tuple[str, float] | None = None
        for g in self.model.generate(ids, n, config):
            text, finished = _clean(g.text), g.finished
            if not finished and section not in ("headline", "cta"):
                trimmed = _trim_to_sentence(text)
                text, finished = (trimmed, True) if trimmed else (text, False)
            reasons = self._section_reasons(guard, product, section, text, finished, feature)
            if not reasons and best is not None:
                why = duplicate_reason(text, [best[0]], product.language)
                reasons = [why] if why else []
            if reasons:
                rejected.append(Candidate(text, section, product.language, "lm", product.product_id, kind="section", reasons=reasons, loglik=round(g.mean_logprob, 4)))
            elif best is None or g.mean_logprob > best[1]:
                best = (text, g.mean_logprob)
        return best

    def article(self, product: Product, keywords: Sequence[str] | None = None, engine: str = "lm", per_section: int = 6) -> list[Candidate]:
        """Article candidates: the model's, section by section with grammar standing in for failed sections, and the grammar one."""
        keywords = [k.strip() for k in (keywords if keywords is not None else product.keywords) if k.strip()] or list(product.keywords)
        if not keywords:
            raise CopyError(f"product {product.product_id} has no keywords; pass --keywords k1,k2")
        used, note = self.resolve_engine(engine, product.language)
        guard = Guardrails.for_product(product, self.brands, LONG_HEADLINE)
        features = list(product.features[:3])
        gram = grammar.article_sections(product, keywords)
        rejected: list[Candidate] = []
        plans: list[tuple[str, list[dict[str, Any]]]] = []

        def grammar_section(section: str, index: int) -> dict[str, Any]:
            texts = gram[section]
            return {"section": section, "text": texts[min(index, len(texts) - 1)], "engine": "grammar", "loglik": None}

        if used == "lm":
            sections, point_i = [], 0
            for s_i, section in enumerate(ARTICLE_SECTIONS):
                feature = None
                if section == "point":
                    if point_i >= len(features):
                        continue
                    feature = features[point_i]
                best = self._lm_section(guard, product, section, keywords, feature, per_section, self.seed * 1000 + s_i, rejected)
                if best is not None and section == "point":
                    others = [s["text"] for s in sections]
                    if duplicate_reason(best[0], others, product.language):
                        best = None
                if best is not None:
                    sections.append({"section": section, "text": best[0], "engine": "lm", "loglik": round(best[1], 4), "feature": feature})
                else:
                    sections.append({**grammar_section(section, point_i if section == "point" else 0), "feature": feature})
                if section == "point":
                    point_i += 1
            plans.append(("lm", sections))
        gsections, point_i = [], 0
        for section in ARTICLE_SECTIONS:
            if section == "point":
                if point_i >= len(features):
                    continue
                gsections.append({**grammar_section("point", point_i), "feature": features[point_i]})
                point_i += 1
            else:
                gsections.append(grammar_section(section, 0))
        plans.append(("grammar", gsections))

        out = []
        for kind, sections in plans:
            engines = {s["engine"] for s in sections}
            engine_label = "lm" if engines == {"lm"} else "grammar" if engines == {"grammar"} else "lm+grammar"
            text = self._assemble(sections, product.language)
            reasons = guard.check_article_text(text)
            if len(features) < 3:
                reasons.append(f"structure: {len(features)} catalog features for three selling points; add features to the product")
            liks = [s["loglik"] for s in sections if s["loglik"] is not None]
            mean_lp = sum(liks) / len(liks) if liks else None
            covered = sum(mentions_fact(text, fact_terms(Product(**{**asdict(product), "features": [f]}))) for f in features)
            fit = 0.5 * covered / max(1, len(features)) + 0.5 * (sum(k.lower() in text.lower() for k in keywords) / len(keywords))
            notes = [note] if note else []
            if engine_label == "lm+grammar":
                lm_parts = [s["section"] for s in sections if s["engine"] == "lm"]
                notes.append(f"model wrote: {', '.join(lm_parts) or 'none'}; the grammar engine wrote the sections the model failed")
            cand = Candidate(text, "article", product.language, engine_label, product.product_id, kind="article", reasons=reasons,
                             loglik=None if mean_lp is None else round(mean_lp, 4), style_fit=round(fit, 3),
                             score=combined_score(mean_lp, fit), sections=sections, notes=notes)
            out.append(cand)
        ranked = rank(out, product.language)
        return ranked + rejected

    @staticmethod
    def _assemble(sections: list[dict[str, Any]], language: str) -> str:
        paragraphs = [s["text"].strip() for s in sections]
        return "\n\n".join(paragraphs)


# ---------------------------------------------------------------- storing


def _attributes(c: Candidate, product: Product, model_name: str | None, reviewer: str | None = None) -> dict[str, Any]:
    attrs = {"product_id": product.product_id, "style": c.style, "language": c.language, "engine": c.engine,
             "score": c.score, "loglik": c.loglik, "style_fit": c.style_fit}
    if reviewer:
        attrs["reviewer"] = reviewer
    if c.kind == "title":
        attrs["style_label"] = label(c.style, c.language)
    if c.engine != "grammar" and model_name:
        attrs["model"] = model_name
    return attrs


def store_titles(store: Any, product: Product, candidates: Sequence[Candidate], n: int, model_name: str | None = None,
                 reviewer: str | None = None) -> list[Candidate]:
    """Save the top `n` accepted titles per style as `title` elements (T-...); returns the stored ones."""
    stored, per_style = [], {}
    for c in candidates:
        if c.kind != "title" or c.status != "accepted" or per_style.get(c.style, 0) >= n:
            continue
        element = store.add_text("title", c.text, name=f"{product.product_id} {c.style} title", attributes=_attributes(c, product, model_name, reviewer), brand=product.brand)
        c.code = element.code
        per_style[c.style] = per_style.get(c.style, 0) + 1
        stored.append(c)
    return stored


def store_article(store: Any, product: Product, candidates: Sequence[Candidate], model_name: str | None = None) -> Candidate | None:
    """Save the best accepted article as an `article` element (A-...)."""
    for c in candidates:
        if c.kind == "article" and c.status == "accepted":
            attrs = _attributes(c, product, model_name)
            attrs["sections"] = [{"section": s["section"], "engine": s["engine"]} for s in c.sections or []]
            element = store.add_text("article", c.text, name=f"{product.product_id} article", attributes=attrs, brand=product.brand)
            c.code = element.code
            return c
    return None
