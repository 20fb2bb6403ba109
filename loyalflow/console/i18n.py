"""English and French for the console: the user's own choice, else the browser's
`Accept-Language`, else English.

Templates call `_("English text")`; French comes from `messages_fr.CATALOG`, keyed by the
English text (gettext's convention, so Babel's extractor can take it over). A text missing from
the catalog shows in English, and tests/console checks that none is missing.
"""

from collections.abc import Callable

from babel import negotiate_locale
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from loyalflow.console.messages_fr import CATALOG as FRENCH

LOCALES = ("en", "fr")
CATALOGS: dict[str, dict[str, str]] = {"en": {}, "fr": FRENCH}


def choose_locale(user_choice: str | None, accept_language: str | None) -> str:
    if user_choice in LOCALES:
        return user_choice
    if accept_language:
        ranges = [v for v, q in parse_accept_header(accept_language, LanguageAccept) if q]
        best = negotiate_locale(ranges, list(LOCALES), sep="-", aliases={})
        if best in LOCALES:
            return best
    return "en"


def translator(locale: str) -> Callable[..., str]:
    catalog = CATALOGS.get(locale, {})

    def gettext(text: str, **values: object) -> str:
        translated = catalog.get(text, text)
        return translated.format(**values) if values else translated

    return gettext
