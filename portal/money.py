"""Money formatting: ``1 234,56 €`` in French, ``€1,234.56`` in English.

Why our own function rather than Babel's ``format_currency``: CLDR updates have changed the
French separators over the years (U+00A0 vs U+202F), which would silently change pages, tests
and screen-reader output. The rule here is fixed and documented:

* French: thousands grouped by U+202F NARROW NO-BREAK SPACE, decimal comma, then U+00A0
  NO-BREAK SPACE before ``€`` (the amount never wraps away from its currency), and a
  minus sign U+2212 for negative amounts (``−45,00 €``).
* English: ``€1,234.56``, ``−€45.00``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

NARROW_NBSP = "\u202f"
NBSP = "\u00a0"
MINUS = "\u2212"


def format_amount(cents: int, locale: str = "fr") -> str:
    """Format an amount in euro cents for display in ``locale`` (``fr`` or ``en``)."""
    sign = MINUS if cents < 0 else ""
    units, rest = divmod(abs(int(cents)), 100)
    if locale.startswith("en"):
        return f"{sign}€{units:,}.{rest:02d}"
    grouped = f"{units:,}".replace(",", NARROW_NBSP)
    return f"{sign}{grouped},{rest:02d}{NBSP}€"


def parse_amount(value: object) -> int:
    """Parse ``"1234.56"``, ``"1 234,56"``, ``1234.5`` or ``1234`` into cents.

    Raises ``ValueError`` for anything else (a negative amount included: debits and credits
    are separate columns, so a sign would be ambiguous).
    """
    if isinstance(value, bool) or value is None:
        raise ValueError("amount required")
    if isinstance(value, int | float):
        text = repr(value)
    else:
        text = str(value).strip().replace(NARROW_NBSP, "").replace(NBSP, "").replace(" ", "")
        text = text.removesuffix("€").replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not a positive amount: {value!r}")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"more than two decimals: {value!r}")
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
