from portal.money import format_amount, parse_amount

NNBSP, NBSP = "\u202f", "\u00a0"


def test_french_format_uses_narrow_nbsp_groups_and_nbsp_before_euro():
    assert format_amount(123456, "fr") == f"1{NNBSP}234,56{NBSP}€"
    assert format_amount(0, "fr") == f"0,00{NBSP}€"
    assert format_amount(123456789, "fr") == f"1{NNBSP}234{NNBSP}567,89{NBSP}€"
    assert format_amount(-24530, "fr") == f"\u2212245,30{NBSP}€"


def test_english_format():
    assert format_amount(123456, "en") == "€1,234.56"
    assert format_amount(-5, "en") == "\u2212€0.05"


def test_parse_amount_accepts_common_spellings_and_rejects_the_rest():
    assert parse_amount("1234.56") == 123456
    assert parse_amount(f"1{NNBSP}234,56{NBSP}€") == 123456
    assert parse_amount(1100) == 110000
    assert parse_amount(12.5) == 1250
    for bad in ("abc", "-3", "1.234", None, True, "NaN"):
        try:
            parse_amount(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")
