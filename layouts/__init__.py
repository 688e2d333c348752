"""Layout templates (data) and the layout engine: pure geometry, text fitting, colour and quality metrics.

Nothing here draws: `solve(template, size, content, measure)` returns a `SolvedLayout` of pixel boxes
and fitted text, `evaluate(layout, readability)` scores it, and `creative.compose` draws it.

    from layouts import builtin_templates, parse_sizes, solve, evaluate
"""

from layouts.errors import LayoutError, SizeError, TemplateError, TextDoesNotFit
from layouts.geometry import Box
from layouts.metrics import LayoutMetrics, Readability, Violation, evaluate, hard_violations
from layouts.sizes import ALL_SIZES, IAB_SIZES, SOCIAL_SIZES, Size, aspect_class, parse_size, parse_sizes
from layouts.solver import ImageContent, PlacedSlot, SolvedLayout, TextContent, solve
from layouts.template import LayoutTemplate, Slot, builtin_templates, get_template, load_template, parse_template, parse_templates
from layouts.text import FontSpec, TextFit, TextMeasurer, fit_text

__all__ = [
    "ALL_SIZES", "IAB_SIZES", "SOCIAL_SIZES", "Box", "FontSpec", "ImageContent", "LayoutError", "LayoutMetrics",
    "LayoutTemplate", "PlacedSlot", "Readability", "Size", "SizeError", "Slot", "SolvedLayout", "TemplateError",
    "TextContent", "TextDoesNotFit", "TextFit", "TextMeasurer", "Violation", "aspect_class", "builtin_templates",
    "evaluate", "fit_text", "get_template", "hard_violations", "load_template", "parse_size", "parse_sizes",
    "parse_template", "parse_templates", "solve",
]
