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
    all_catalogues,
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


def test_a_message_translated_in_two_catalogues_has_the_same_translation() -> None:
    # The catalogues are merged in AUDIENCES order and a later one wins, so a differing
    # duplicate would silently rename a shared code (templates/_codes.html) on some pages.
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for locale, path in all_catalogues():
        with path.open("rb") as handle:
            catalogue = read_po(handle, locale=locale, domain=path.stem)
        for message in catalogue:
            if message.id and not message.fuzzy and message.string:
                key = message.id if isinstance(message.id, str) else message.id[0]
                seen.setdefault((locale, key), {})[path.stem] = repr(message.string)
    conflicts = [
        f"{locale}: {msgid!r} is {wordings}"
        for (locale, msgid), wordings in seen.items()
        if len(set(wordings.values())) > 1
    ]
    assert not conflicts, f"{len(conflicts)} conflict(s):\n" + "\n".join(conflicts)


def test_the_shared_codes_have_one_name_for_every_audience() -> None:
    from service.web.templating import environment

    template = environment.from_string(
        '{% import "coach/_labels.html" as coach with context %}'
        '{% import "employer/_labels.html" as employer with context %}'
        '{% import "procurement/_labels.html" as procurement with context %}'
        "{{ coach.target_group(code) }}|{{ employer.target_group(code) }}|"
        "{{ procurement.target_group(code) }}|{{ coach.stage(stage) }}|{{ employer.stage(stage) }}"
    )
    for locale in LOCALES:
        catalogue = translations(locale)
        text = template.render(
            _=catalogue.gettext, code="registered_unemployed", stage="declined_by_employer"
        )
        group, *others = text.split("|")
        assert others[:2] == [group, group] and others[2] == others[3], (locale, text)
        assert group == catalogue.gettext("Registered unemployed")
