"""Amounts of money: integers in a currency's minor unit, as Stripe counts them.

Most currencies have cents; some have no minor unit at all (KRW, JPY, …), where Stripe's
amount 5000 means ₩5,000. Every conversion between what a person types or reads and what
we store goes through here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Stripe's zero-decimal currencies (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg",
                          "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"})

# The currencies a page may take, with the symbol shown before an amount. A short list on
# purpose: each is one Stripe settles in, and each has been seen on a page in a test.
CURRENCIES = {
    "usd": "$", "eur": "€", "gbp": "£", "cad": "CA$", "aud": "A$", "chf": "CHF ",
    "sek": "SEK ", "nok": "NOK ", "dkk": "DKK ", "nzd": "NZ$", "krw": "₩", "jpy": "¥",
}


class AmountError(ValueError):
    """What a person typed is not an amount of this currency; the message says why."""


def is_supported(currency: str) -> bool:
    return currency in CURRENCIES


def decimals(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL else 2


def to_minor(typed: str, currency: str) -> int:
    """'25', '25.5', '1,000.00' in `currency` → minor units. Refuses negatives, more
    decimals than the currency has, and anything that is not a plain number."""
    cleaned = (typed or "").strip().replace(",", "").replace(" ", "")
    symbol = CURRENCIES.get(currency, "").strip()
    if symbol and cleaned.startswith(symbol):
        cleaned = cleaned[len(symbol):]
    if not cleaned:
        raise AmountError("Enter an amount.")
    if not all(ch.isdigit() or ch == "." for ch in cleaned) or cleaned.count(".") > 1:
        raise AmountError("Enter the amount as a number, such as 25 or 25.50.")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise AmountError("Enter the amount as a number, such as 25 or 25.50.") from None
    places = decimals(currency)
    if -value.as_tuple().exponent > places:  # type: ignore[operator]
        raise AmountError("This currency has no smaller unit than 1." if places == 0
                          else "Enter at most two digits after the point.")
    minor = int(value.scaleb(places))
    if minor <= 0:
        raise AmountError("Enter an amount above zero.")
    if minor > 10**10:
        raise AmountError("That amount is too large.")
    return minor


def plain(amount: int, currency: str) -> str:
    """Minor units → '25.50' / '25' / '5000' (no symbol): what a form field shows."""
    places = decimals(currency)
    if places == 0:
        return str(amount)
    whole, cents = divmod(amount, 10**places)
    return str(whole) if cents == 0 else f"{whole}.{cents:0{places}d}"


def format_money(amount: int, currency: str) -> str:
    """Minor units → '$25.50', '$25', '₩5,000', '-$3.00'."""
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    symbol = CURRENCIES.get(currency, currency.upper() + " ")
    places = decimals(currency)
    whole, cents = divmod(amount, 10**places) if places else (amount, 0)
    text = f"{whole:,}"
    if places and cents:
        text += f".{cents:0{places}d}"
    return f"{sign}{symbol}{text}"


def fee_for(amount: int, basis_points: int) -> int:
    """What covering the processing fee adds to a gift of `amount` (rounded half up)."""
    if basis_points <= 0:
        return 0
    return int((Decimal(amount) * basis_points / 10000).quantize(Decimal(1), ROUND_HALF_UP))
