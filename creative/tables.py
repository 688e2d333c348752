"""Tables of the creative library (SQLAlchemy Core). Their DDL history lives in creative/migrations."""

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    cast,
)

metadata = MetaData()

elements = Table(
    "elements",
    metadata,
    Column("code", String(24), primary_key=True),
    Column("kind", String(16), nullable=False, index=True),
    Column("sha256", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("brand", String(200)),
    Column("width", Integer),
    Column("height", Integer),
    Column("text", Text),
    Column("attributes", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("kind", "sha256", name="uq_elements_kind_sha256"),
)

products = Table(
    "products",
    metadata,
    Column("product_id", String(100), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("brand", String(200), nullable=False),
    Column("category", String(200), nullable=False),
    Column("price", Float, nullable=False),
    Column("sale_price", Float),
    Column("discount_pct", Float),
    Column("features", JSON, nullable=False),
    Column("keywords", JSON, nullable=False),
    Column("language", String(8), nullable=False),
    Column("landing_url", String(2000), nullable=False),
    Column("images", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The registry of composed creatives (creative.creatives): serving, experiments and the web read it.
creatives = Table(
    "creatives",
    metadata,
    Column("creative_id", String(200), primary_key=True),
    Column("template", String(100), nullable=False),
    Column("size", String(20), nullable=False),
    Column("elements", JSON, nullable=False),
    Column("offer_id", String(100), index=True),  # the catalog product: its landing page is the creative's
    Column("attributes", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("warnings", JSON, nullable=False),
    Column("violations", JSON, nullable=False),
    Column("file", String(1000), nullable=False),
    Column("files", JSON, nullable=False),
    Column("batch", String(100), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# A reviewer's approve/reject of a composed banner (c0005); kept apart so recomposing the banner keeps it.
creative_reviews = Table(
    "creative_reviews",
    metadata,
    Column("creative_id", String(200), primary_key=True),
    Column("decision", String(16), nullable=False),  # approved | rejected
    Column("reviewer", String(100), nullable=False),
    Column("reviewed_at", DateTime(timezone=True), nullable=False),
)

# A brand's kit (creative.brands, c0006): colours, font, tone and banned words; keyed by the case-folded brand name.
brand_kits = Table(
    "brand_kits",
    metadata,
    Column("brand_key", String(200), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("primary_colour", String(7)),
    Column("accent_colour", String(7)),
    Column("font", String(100)),
    Column("tone", JSON, nullable=False),
    Column("banned", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


# The sections of a stored article (an `article` element, c0007) as a reviewer works on them: each one's text and
# who wrote each sentence, accepted or still a draft, why its checks refuse it, and the texts it held before.
# The element keeps the article as first written; the accepted sections are the article people paste.
article_sections = Table(
    "article_sections",
    metadata,
    Column("article_code", String(24), ForeignKey("elements.code", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # headline | lead | point | scene | cta
    Column("heading", Text),
    Column("fact", Text),  # the catalog feature a point or scene is written about
    Column("keyword", String(200)),  # a scene's keyword
    Column("text", Text, nullable=False),
    Column("sentences", JSON, nullable=False),  # [{text, engine (lm | grammar | edited), loglik, relevance}]
    Column("status", String(16), nullable=False),  # draft | accepted
    Column("reasons", JSON, nullable=False),  # why the checks refuse the current text (empty: it passes)
    Column("drafts", JSON, nullable=False),  # the model's unused sentences for this section, with why
    Column("replaced", JSON, nullable=False),  # texts the section held before (regenerating never brings them back)
    Column("reviewer", String(100)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

def json_mentions(column: Column, value: str) -> ColumnElement[bool]:
    """A JSON column whose text holds `value` as a whole string: a cheap pre-filter on SQLite and PostgreSQL alike
    (callers check the decoded value, since the text could hold it as a key)."""
    return cast(column, Text).contains(f'"{value}"', autoescape=True)
