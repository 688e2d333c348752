"""One front for copy: preprocess (prompt or slots) -> forward (model or templates) -> postprocess (guardrails, ranking).

`CopyPipeline.titles` and `CopyPipeline.article` are what the CLI and the flows call; `store_titles` and
`store_article` turn the top accepted candidates into library elements.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from creative.brands import brand_key
from creative.catalog import Product
from creative.copy import grammar
from creative.copy.article import assemble
from creative.copy.article.checks import catalog_false_alarms
from creative.copy.article.generate import MODEL_SECTIONS, Article, ArticleWriter, used_up
from creative.copy.article.plan import ArticlePlan, plan_article
from creative.copy.article.sections import SectionKey, section_plan
from creative.copy.article.variety import repeated_sentences
from creative.copy.entities import decoy_products
from creative.copy.errors import CopyError
from creative.copy.guardrails import Guardrails, check_length
from creative.copy.limits import HEADLINE, LONG_HEADLINE, LengthLimit
from creative.copy.loading import load_model
from creative.copy.model import EMBEDDED_NAME, LanguageModel, SamplingConfig
from creative.copy.ranking import combined_score, rank
from creative.copy.styles import STYLES, label, style_fit
from creative.copy.templates import EXAMPLE_NAMES, product_slots, render_messages

ENGINES = ("lm", "grammar")
TITLE_SAMPLING = SamplingConfig(temperature=0.8, top_k=50, top_p=0.95, max_new_tokens=20, stop_at_newline=True)
# Below this length-normalised log-likelihood a small model's text is usually word salad.
MIN_MEAN_LOGPROB = -2.5
# Length-aware stopping for titles: from 60% of the budget on, each character adds this to the stop logits.
SOFT_LENGTH = 0.6
STOP_BIAS_PER_CHAR = 0.8
# A title must show at least some cues of the style it is filed under (see styles.style_fit).
MIN_STYLE_FIT = 0.4
# Contrastive relevance: a model title's mean log-likelihood after its own product's prompt minus the
# mean after decoy products' prompts (entities.decoy_products). Below this, it fits any product as well.
MIN_CONTRAST = 0.0
_QUOTES = (('"', '"'), ("“", "”"), ("'", "'"), ("「", "」"), ("《", "》"))


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


def title_reasons(text: str, style: str, guard: Guardrails, finished: bool = True, engine: str = "lm") -> tuple[list[str], float]:
    """Reasons to refuse a title and its style fit: every check that needs no model (the labelled benchmark runs this).

    A poetic or benefit line need not name the product when the grammar wrote it (those lines are written
    per kind of product); a model's title, of any style, must name the product, its brand or its kind.
    """
    reasons = guard.check_title(text, finished=finished)
    if engine != "grammar" or style not in ("poetic", "benefit"):
        # a model's title must name the product, brand or kind: its feature-only fragments rarely read as copy
        reasons += guard.check_grounding(text, names_only=engine != "grammar")
    fit = round(style_fit(text, style, guard.product), 3)
    if fit < MIN_STYLE_FIT:
        reasons.append(f"style: reads poorly as {label(style, guard.product.language)} (style fit {fit:.2f} < {MIN_STYLE_FIT})")
    return reasons, fit


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
        brand_banned: Mapping[str, Sequence[str]] | None = None,
    ):
        if per_style < 1:
            raise CopyError(f"candidates per style must be at least 1, got {per_style}")
        self._model = model
        self.model_spec = model_spec
        self.cache_dir = cache_dir
        # other products' names count like other brands: naming them is a facts violation
        self.brands = tuple(dict.fromkeys([*brands, *EXAMPLE_NAMES]))
        self.brand_banned = dict(brand_banned or {})  # brand_key -> the words that brand's kit bans
        self.per_style = per_style
        self.seed = seed
        self.dtype = dtype

    def guardrails(self, product: Product, limit: LengthLimit = HEADLINE) -> Guardrails:
        """The checks for one product: the catalog's brands, and its own brand kit's banned words."""
        return Guardrails.for_product(product, self.brands, limit, self.brand_banned.get(brand_key(product.brand), ()))

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

    def _judge(self, c: Candidate, guard: Guardrails, product: Product, finished: bool = True, overflow: bool = False) -> Candidate:
        if overflow:  # stopped while generating: it had already passed the limit
            c.reasons = [f"length: passed the {guard.limit.name} limit of {guard.limit.max_chars} characters while generating (stopped early)"]
            c.style_fit = round(style_fit(c.text, c.style, product), 3)
        else:
            c.reasons, c.style_fit = title_reasons(c.text, c.style, guard, finished, c.engine)
        if c.engine == "lm" and c.loglik is not None and c.loglik < MIN_MEAN_LOGPROB and not overflow:
            c.reasons.append(f"garbled: the model was unsure of its own text (mean log-prob {c.loglik:.2f} < {MIN_MEAN_LOGPROB})")
        c.score = combined_score(c.loglik, c.style_fit)
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
        guard = self.guardrails(product, limit)
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
                self._contrast(product, style, prompt_ids, cands)
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

    def _contrast(self, product: Product, style: str, prompt_ids: list[int], cands: list[Candidate]) -> None:
        """Refuse model titles no likelier for this product than for decoys of other kinds (generic or wrong-product copy)."""
        todo = [c for c in cands if c.engine == "lm" and not c.reasons]
        decoys = decoy_products(product)
        if not todo or not decoys:
            return
        texts = [c.text for c in todo]
        own = self.model.score(prompt_ids, texts)
        others = [self.model.score(self.preprocess_title(d, style), texts) for d in decoys]
        for j, c in enumerate(todo):
            margin = own[j] - sum(o[j] for o in others) / len(others)
            if margin < MIN_CONTRAST:
                c.reasons.append(f"relevance: as likely for another product (contrast {margin:+.2f} < {MIN_CONTRAST:+.2f})")

    def judge_title(self, candidate: Candidate, product: Product, limit: LengthLimit = HEADLINE) -> Candidate:
        """Run the title guardrails, style fit and score on one candidate (a reviewer's edit, say); sets its reasons and score."""
        return self._judge(candidate, self.guardrails(product, limit), product)

    # ------------------------------------------------------------ articles

    def article(self, product: Product, keywords: Sequence[str] | None = None, engine: str = "lm", per_section: int = 6,
                avoid: Iterable[str] = ()) -> list[Candidate]:
        """The article (kind=article, sentence by sentence, see creative.copy.article) and the model's unused drafts.

        `avoid` holds the product's earlier articles: none of their sentences is written again.
        """
        return self.written_article(product, keywords, engine, per_section, avoid)[0]

    def _writer(self, product: Product, engine: str, per_section: int, seed: int,
                progress: Callable[[int, int], None] | None, total: int) -> tuple[ArticleWriter, str, str | None]:
        used, note = self.resolve_engine(engine, product.language)
        model: Any = None
        if used == "lm":
            model = self.model if progress is None else _Drafting(self.model, progress, total)
        return ArticleWriter(self.guardrails(product, LONG_HEADLINE), model, per_section, seed), used, note

    def written_article(self, product: Product, keywords: Sequence[str] | None = None, engine: str = "lm", per_section: int = 6,
                        avoid: Iterable[str] = (), progress: Callable[[int, int], None] | None = None) -> tuple[list[Candidate], Article]:
        """`article`'s candidates and the written article itself (its plan and each draft's slot, for a section review).

        `progress(sentences drafted, model sentences planned)` is called as the model drafts each sentence.
        """
        keywords = [k.strip() for k in (keywords if keywords is not None else product.keywords) if k.strip()] or list(product.keywords)
        if not keywords:
            raise CopyError(f"product {product.product_id} has no keywords; pass --keywords k1,k2")
        plan = plan_article(product, keywords)
        writer, used, note = self._writer(product, engine, per_section, self.seed, progress, _model_slots(plan))
        guard = writer.guard
        written = writer.write(plan, avoid)
        text = assemble.to_text(assemble.section_dicts(written), product.language)
        reasons = [*used_up(written), *catalog_false_alarms(guard.check_article_text(text), guard),
                   *check_length(written.headline, LONG_HEADLINE)]
        repeats = repeated_sentences(s.text for s in written.sentences)
        if repeats:
            reasons.append(f"repetition: {len(repeats)} sentence(s) repeated, e.g. {repeats[0]!r}")
        lm = [s for s in written.sentences if s.engine == "lm"]
        liks = [s.loglik for s in lm if s.loglik is not None]
        mean_lp = sum(liks) / len(liks) if liks else None
        notes = [note] if note else []
        notes += written.plan.notes
        if used == "lm":
            notes.append(f"model wrote {len(lm)} of {len(written.sentences)} sentences; the rest are the grammar's "
                         f"(catalog-filled headline and price, and slots where no model draft passed)")
        fit = round(sum(f.fact is not None for f in written.plan.fits) / max(1, len(written.plan.fits)), 3)
        best = Candidate(text, "article", product.language, assemble.engine_label(written), product.product_id, kind="article",
                         status="rejected" if reasons else "accepted", reasons=reasons,
                         loglik=None if mean_lp is None else round(mean_lp, 4), style_fit=fit,
                         score=combined_score(mean_lp, fit), sections=assemble.section_dicts(written), notes=notes)
        drafts = [Candidate(d.text, d.slot.section, product.language, "lm", product.product_id, kind="sentence",
                            reasons=d.reasons, loglik=d.loglik) for d in written.drafts]
        return [best, *drafts], written

    def article_section(self, product: Product, keywords: Sequence[str], key: SectionKey, engine: str = "lm", per_section: int = 6,
                        avoid: Iterable[str] = (), seed: int = 0) -> tuple[Article, str | None]:
        """One section of the product's article written anew (the plan of `keywords` cut to `key`), never repeating `avoid`.

        The article holds no sentence when every one the engine could write is in `avoid`; the note says when
        the model was asked but the grammar wrote (a language the model does not write).
        """
        plan = section_plan(plan_article(product, list(keywords)), key)
        if plan is None:
            raise CopyError(f"the article of {product.product_id} has no {key.kind} section about {key.fact or key.keyword or 'it'} "
                            "any more (its catalog entry changed); write a new article")
        writer, _, note = self._writer(product, engine, per_section, seed, None, 0)
        return writer.write(plan, avoid), note


class _Drafting:
    """The pipeline's model, reporting each sentence it drafts: the writer asks it once per model-written sentence."""

    def __init__(self, model: LanguageModel, progress: Callable[[int, int], None], total: int):
        self._model, self._progress, self._total, self._done = model, progress, total, 0

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        out = self._model.generate(*args, **kwargs)
        self._done += 1
        self._progress(min(self._done, self._total), self._total)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _model_slots(plan: ArticlePlan) -> int:
    """Sentences the model is asked for: the points' and scenes' (generate.MODEL_SECTIONS)."""
    return sum(s.section in MODEL_SECTIONS for s in plan.slots)


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


def store_article(store: Any, product: Product, candidates: Sequence[Candidate], model_name: str | None = None,
                  keywords: Sequence[str] | None = None) -> Candidate | None:
    """Save the best accepted article as an `article` element (A-...); `keywords` are those its plan was made of."""
    for c in candidates:
        if c.kind == "article" and c.status == "accepted":
            attrs = _attributes(c, product, model_name)
            attrs["sections"] = [{"section": s["section"], "engine": s["engine"]} for s in c.sections or []]
            if keywords is not None:
                attrs["keywords"] = list(keywords)
            if c.notes:
                attrs["notes"] = list(c.notes)  # a keyword left out, the model not writing the language, its share
            element = store.add_text("article", c.text, name=f"{product.product_id} article", attributes=attrs, brand=product.brand)
            c.code = element.code
            return c
    return None
