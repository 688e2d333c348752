"""A font-free text measurer for the layout engine's tests."""


class FakeMeasurer:
    """Deterministic widths: Latin 0.55 em, CJK 1 em; close enough to real fonts for the geometry."""

    def width(self, text, font):
        return sum(font.size * (1.0 if ord(c) >= 0x2E80 else 0.55) for c in text)

    def ascent_descent(self, font):
        return round(font.size * 0.8), round(font.size * 0.25)
