"""Prices as a shopper reads them, one formatter per language shared by copy and banners."""

from __future__ import annotations

CURRENCY_SIGN = {"en": "$", "zh": "¥"}


def format_money(value: float, language: str) -> str:
    """$69, $1,299, $312.80; ¥399, ¥312.80: whole amounts without cents, others with two decimals."""
    sign = CURRENCY_SIGN.get(language, "")
    whole = abs(value - round(value)) < 0.005
    return f"{sign}{value:,.0f}" if whole else f"{sign}{value:,.2f}"
