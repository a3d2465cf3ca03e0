"""The pages' languages: gettext catalogues per audience, merged per locale at start-up.

English is the source language: a message's msgid is its English text, and ``en`` uses no
catalogue. Finnish and Swedish come from ``locales/<fi|sv>/LC_MESSAGES/<audience>.po`` (one
catalogue per audience, so that each section's maintainers edit only their own), read with
Babel and merged into one translations object per locale. No compiled ``.mo`` file is kept:
the ``.po`` files are the source and are read once per worker.

A message without a translation (or a fuzzy one) shows in English;
``tests/web/test_translations.py`` fails for any such message. ``scripts/i18n-extract.sh``
lists every message of the templates and ``service/web`` for translators.
"""

from __future__ import annotations

import gettext
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

__all__ = [
    "AUDIENCES",
    "LOCALES",
    "LOCALES_DIR",
    "babel_locale",
    "catalogue_paths",
    "negotiate",
    "translations",
]

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
#: The pages' languages, in the order the language switcher lists them.
LOCALES = ("fi", "sv", "en")
#: One catalogue per audience of the pages; ``base`` holds the shared layout's messages.
AUDIENCES = ("base", "coach", "employer", "procurement", "operator", "performance", "targeting")
#: Each language's name in itself, for the switcher.
LANGUAGE_NAMES = {"fi": "suomi", "sv": "svenska", "en": "English"}


def catalogue_paths(locale: str) -> list[Path]:
    return [LOCALES_DIR / locale / "LC_MESSAGES" / f"{audience}.po" for audience in AUDIENCES]


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The merged catalogues of ``locale`` (English: the messages themselves)."""
    if locale not in LOCALES:
        raise ValueError(f"no such language: {locale!r}")
    if locale == "en":
        return NullTranslations()
    merged: Translations | None = None
    for path in catalogue_paths(locale):
        with path.open("rb") as handle:
            catalogue = read_po(handle, locale=locale, domain=path.stem)
        compiled = io.BytesIO()
        write_mo(compiled, catalogue)  # fuzzy and empty translations are left out
        compiled.seek(0)
        part = Translations(compiled, domain="messages")
        if merged is None:
            merged = part
        else:
            merged.merge(part)
    assert merged is not None
    return merged


@cache
def babel_locale(locale: str) -> Locale:
    """The Babel locale for dates and numbers.

    ``fi`` formats as ``fi_FI``, ``sv`` as ``sv_SE`` (the same dates and numbers as Finland's
    Swedish), ``en`` as British English (day before month, 24-hour clock), closer to Nordic
    use than ``en_US``.
    """
    return Locale.parse({"fi": "fi_FI", "sv": "sv_SE", "en": "en_GB"}[locale])


def negotiate(accept_language: str | None, default: str) -> str:
    """The first of fi/sv/en the browser asks for (``Accept-Language``), else ``default``."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = tag.strip().lower().split("-")[0]
        if language in LOCALES and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else default


#: Where the messages are: every template and every Python module of the web package.
WEB_DIR = Path(__file__).resolve().parent
#: Babel's method map (also in ``babel.cfg`` for ``pybabel extract``).
METHOD_MAP = [("templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS_MAP = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}}


@dataclass(frozen=True)
class Message:
    """One message of the pages: its English text (and plural), and where it is used."""

    msgid: str
    plural: str | None
    where: str


def extract_messages() -> list[Message]:
    """Every message of the templates and ``service/web``'s Python, in file order."""
    from babel.messages.extract import extract_from_dir

    found: list[Message] = []
    for filename, lineno, message, _comments, _context in extract_from_dir(
        WEB_DIR, METHOD_MAP, OPTIONS_MAP
    ):
        if isinstance(message, tuple):
            singular, plural = str(message[0]), str(message[1])
        else:
            singular, plural = str(message), None
        if singular:
            found.append(Message(singular, plural, f"service/web/{filename}:{lineno}"))
    return found


def missing_translations() -> list[str]:
    """A line per message without a Finnish or Swedish translation, or with other placeholders.

    Used by ``tests/web/test_translations.py`` and ``scripts/i18n-extract.sh``.
    """
    catalogues: dict[str, list[Catalog]] = {}
    for locale, path in all_catalogues():
        with path.open("rb") as handle:
            catalogues.setdefault(locale, []).append(
                read_po(handle, locale=locale, domain=path.stem)
            )
    return translation_problems(extract_messages(), catalogues)


def translation_problems(
    messages: Iterable[Message], catalogues: Mapping[str, Sequence[Catalog]]
) -> list[str]:
    """What :func:`missing_translations` reports, for given messages and catalogues."""
    problems: list[str] = []
    messages = list(messages)
    for locale, parts in catalogues.items():
        seen: set[str] = set()
        for message in messages:
            if message.msgid in seen:
                continue
            seen.add(message.msgid)
            key: str | tuple[str, str] = message.msgid
            entries = [part.get(key) for part in parts]
            translated = [
                entry
                for entry in entries
                if entry is not None and not entry.fuzzy and _translations(entry.string)
            ]
            if not translated:
                problems.append(f"{locale}: no translation of {message.msgid!r} ({message.where})")
                continue
            wanted = _placeholders(message.msgid) | _placeholders(message.plural or "")
            for text in _translations(translated[-1].string):
                if _placeholders(text) != wanted:
                    problems.append(
                        f"{locale}: {text!r} has the placeholders {sorted(_placeholders(text))}, "
                        f"{message.msgid!r} has {sorted(wanted)} ({message.where})"
                    )
    return problems


_PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]")


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def _translations(string: object) -> list[str]:
    """The non-empty msgstr (or every plural form's, all required)."""
    forms = [str(form) for form in string] if isinstance(string, tuple | list) else [str(string)]
    return forms if all(form.strip() for form in forms) else []


def all_catalogues() -> Iterable[tuple[str, Path]]:
    """Every (locale, .po path) the loader reads."""
    for locale in LOCALES:
        if locale != "en":
            for path in catalogue_paths(locale):
                yield locale, path
