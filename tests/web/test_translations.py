"""Every message of the pages has a Finnish and a Swedish translation, with the same placeholders.

The messages are extracted the way ``pybabel extract -F babel.cfg`` does (Babel, with Jinja2's
extractor for the templates), from every template and every Python module of ``service/web``.
"""

from __future__ import annotations

import io

import pytest
from babel.messages.pofile import read_po

from service.web.i18n import (
    LOCALES,
    Message,
    extract_messages,
    missing_translations,
    translation_problems,
    translations,
)

pytestmark = pytest.mark.unit


def test_every_message_is_translated_into_finnish_and_swedish() -> None:
    problems = missing_translations()
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_extraction_finds_the_messages_of_templates_and_python() -> None:
    found = {message.msgid: message.where for message in extract_messages()}
    assert found["Skip to main content"].startswith("service/web/templates/base.html:")
    assert found["The two new passwords differ."].startswith("service/web/routes/account.py:")
    assert (
        "service/web/templating.py"
        in found[
            "ESCO, ISCO and CPV labels are shown in English where no translation is available."
        ]
    )
    # Messages with placeholders are extracted as written.
    assert "Error code: %(status)s" in found


def _catalogue(entries: str) -> object:
    header = (
        'msgid ""\nmsgstr ""\n"Language: fi\\n"\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    )
    return read_po(io.BytesIO((header + entries).encode()), locale="fi")


def test_the_check_names_missing_empty_fuzzy_and_misplaced_translations() -> None:
    messages = [
        Message("Saved", None, "a.html:1"),
        Message("Empty", None, "a.html:2"),
        Message("Fuzzy", None, "a.html:3"),
        Message("%(n)s people", None, "a.html:4"),
        Message("Missing", None, "a.html:5"),
        Message("%(n)s hire", "%(n)s hires", "a.html:6"),
    ]
    catalogue = _catalogue(
        'msgid "Saved"\nmsgstr "Tallennettu"\n\n'
        'msgid "Empty"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "Fuzzy"\nmsgstr "Sumea"\n\n'
        'msgid "%(n)s people"\nmsgstr "%(count)s ihmistä"\n\n'
        'msgid "%(n)s hire"\nmsgid_plural "%(n)s hires"\n'
        'msgstr[0] "%(n)s palkkaus"\nmsgstr[1] "%(n)s palkkausta"\n'
    )
    problems = translation_problems(messages, {"fi": [catalogue]})  # type: ignore[list-item]
    assert len(problems) == 4, problems
    text = "\n".join(problems)
    for msgid in ("'Empty'", "'Fuzzy'", "'Missing'", "'%(n)s people'"):
        assert msgid in text
    assert "Saved" not in text and "hire" not in text


@pytest.mark.parametrize(
    ("locale", "expected"), [("fi", "Kirjaudu sisään"), ("sv", "Logga in"), ("en", "Sign in")]
)
def test_the_catalogues_of_every_audience_are_merged(locale: str, expected: str) -> None:
    assert translations(locale).gettext("Sign in") == expected
    assert set(LOCALES) == {"fi", "sv", "en"}
