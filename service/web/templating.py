"""Rendering pages: one Jinja2 environment, the user's language, labels and the CSRF field.

``render(request, "coach/caseload.html", {...})`` is the only way a page handler answers
HTML. Every template gets:

- ``caller`` (the signed-in :class:`~service.api.security.Caller`, or None), ``username``,
  ``locale`` (``"fi"``, ``"sv"`` or ``"en"``), ``request``;
- ``csrf_input()``: the hidden ``csrf_token`` field to put in EVERY ``<form method="post">``;
- ``_()``, ``gettext()``, ``ngettext()`` and ``{% trans %}`` (Jinja2's i18n extension,
  "new style": ``_("%(n)s people", n=5)`` formats after translating, and autoescapes);
- filters ``date``, ``datetime``, ``number``, ``percent`` (the user's locale, via Babel;
  ``None`` shows as an empty string) and the label filters ``skill_label``,
  ``occupation_label``, ``isco_label``, ``cpv_label``, ``municipality``,
  ``employment_area``, ``region`` (a code the data does not know shows as itself);
- ``esco_language_notice()``: on a Finnish or Swedish page, the sentence saying that the
  classification labels are in English. ``base.html`` adds it below the content by itself
  when the page used an English-only label and did not place the notice itself.

In Python, ``translator(request)`` returns the request's ``_``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.ext import _make_new_gettext, _make_new_ngettext
from jinja2.runtime import Context
from markupsafe import Markup

from service.web.auth import CSRF_COOKIE, pre_session_token, set_page_cookie
from service.web.i18n import LANGUAGE_NAMES, LOCALES, babel_locale, negotiate, translations
from service.web.labels import Labels

__all__ = ["TEMPLATES_DIR", "environment", "labels", "locale_of", "render", "translator"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
#: The language cookie of people who are not signed in (the signed-in user's is stored).
LOCALE_COOKIE = "kohtaanto_locale"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(("html", "xml"), default_for_string=True),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
environment.newstyle_gettext = True  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Gettext:
    gettext: Callable[..., str]
    ngettext: Callable[..., str]
    plain: Callable[[str], str]


def _gettexts(locale: str) -> _Gettext:
    cached = _GETTEXTS.get(locale)
    if cached is None:
        catalogue = translations(locale)
        cached = _Gettext(
            _make_new_gettext(catalogue.gettext),
            _make_new_ngettext(catalogue.ngettext),
            catalogue.gettext,
        )
        _GETTEXTS[locale] = cached
    return cached


_GETTEXTS: dict[str, _Gettext] = {}


# ---- the request's language -----------------------------------------------------------------


def locale_of(request: Request) -> str:
    """The page's language: the signed-in user's choice, else the cookie, else the browser's."""
    cached = getattr(request.state, "locale", None)
    if cached is not None:
        return str(cached)
    identity = getattr(request.state, "web_identity", None)
    chosen = identity.locale if identity is not None else None
    if chosen not in LOCALES:
        chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen not in LOCALES:
        settings = request.app.state.settings
        chosen = negotiate(request.headers.get("accept-language"), settings.web.default_locale)
    request.state.locale = chosen
    return str(chosen)


def translator(request: Request) -> Callable[..., str]:
    """The request's ``_``: ``_("Saved")``, ``_("%(n)s saved", n=3)`` (formats after)."""
    plain = _gettexts(locale_of(request)).plain

    def translate(message: str, **variables: object) -> str:
        text = plain(message)
        return text % variables if variables else text

    return translate


# ---- labels -----------------------------------------------------------------------------


def labels(request: Request) -> Labels:
    """The worker's labels (built on first use from the serving vocabularies)."""
    state = request.app.state.serving
    built = state.caches.get("web.labels")
    if built is None:
        built = Labels.build(state.vocab, request.app.state.settings.paths.data_dir)
        state.caches["web.labels"] = built
    assert isinstance(built, Labels)
    return built


class _Page:
    """Per-render notes: whether an English-only label was shown, and the notice placed."""

    __slots__ = ("english_labels", "notice_shown")

    def __init__(self) -> None:
        self.english_labels = False
        self.notice_shown = False


def _page(context: Context) -> _Page:
    page = context.get("_page")
    return page if isinstance(page, _Page) else _Page()


def _locale(context: Context) -> str:
    return str(context.get("locale", "en"))


def _english_label(context: Context, text: str) -> str:
    if _locale(context) != "en":
        _page(context).english_labels = True
    return text


def _labels(context: Context) -> Labels:
    return labels(context["request"])


@pass_context
def _skill_label(context: Context, uri: object) -> str:
    return _english_label(context, _labels(context).skill(uri))


@pass_context
def _occupation_label(context: Context, uri: object) -> str:
    return _english_label(context, _labels(context).occupation(uri))


@pass_context
def _isco_label(context: Context, code: object) -> str:
    return _english_label(context, _labels(context).isco_group(code))


@pass_context
def _cpv_label(context: Context, code: object) -> str:
    locale = _locale(context)
    text = _labels(context).cpv_label(code, locale)
    return _english_label(context, text) if locale == "fi" else text


@pass_context
def _municipality(context: Context, code: object) -> str:
    return _labels(context).municipality(code, _locale(context))


@pass_context
def _employment_area(context: Context, code: object) -> str:
    return _labels(context).employment_area(code, _locale(context))


@pass_context
def _region(context: Context, code: object) -> str:
    return _labels(context).region(code, _locale(context))


def N_(message: str) -> str:  # noqa: N802 (gettext's marker name)
    """Marks ``message`` for extraction; translated where it is shown."""
    return message


ENGLISH_LABELS_NOTICE = N_(
    "ESCO, ISCO and CPV labels are shown in English where no translation is available."
)


@pass_context
def esco_language_notice(context: Context, force: bool = True) -> Markup:
    """The notice that classification labels are in English (fi/sv pages only, once).

    ``force=False`` (base.html's use) shows it only when the page used such a label.
    """
    page = _page(context)
    if _locale(context) == "en" or page.notice_shown:
        return Markup("")
    if not force and not page.english_labels:
        return Markup("")
    page.notice_shown = True
    text = _gettexts(_locale(context)).plain(ENGLISH_LABELS_NOTICE)
    return Markup('<p class="notice language-notice" lang="{0}">{1}</p>').format(
        _locale(context), text
    )


# ---- dates and numbers ----------------------------------------------------------------------


@pass_context
def _date(context: Context, value: date | datetime | str | None, format: str = "medium") -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        value = _local(context, value).date()
    return babel_dates.format_date(value, format, locale=babel_locale(_locale(context)))


@pass_context
def _datetime(context: Context, value: datetime | str | None, format: str = "short") -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return _date(context, value)
    return babel_dates.format_datetime(
        _local(context, value), format, locale=babel_locale(_locale(context))
    )


def _local(context: Context, value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    zone = context.get("time_zone")
    return value.astimezone(zone) if isinstance(zone, ZoneInfo) else value


def _finite(value: object) -> float | int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, int) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if isinstance(number, int) or math.isfinite(number) else None


@pass_context
def _number(context: Context, value: object, digits: int | None = None) -> str:
    number = _finite(value)
    if number is None:
        return "" if value is None else str(value)
    locale = babel_locale(_locale(context))
    if digits is None:
        return babel_numbers.format_decimal(number, locale=locale)
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return babel_numbers.format_decimal(number, format=pattern, locale=locale)


@pass_context
def _percent(context: Context, value: object, digits: int = 0) -> str:
    """``0.125`` -> "13 %" (fi/sv), "13%" (en); a share, not a number of percent."""
    number = _finite(value)
    if number is None:
        return "" if value is None else str(value)
    locale = babel_locale(_locale(context))
    pattern = _percent_pattern(_locale(context), digits)
    return babel_numbers.format_percent(number, format=pattern, locale=locale)


_PERCENT_PATTERNS: dict[tuple[str, int], str] = {}


def _percent_pattern(locale: str, digits: int) -> str:
    """The locale's percent pattern (``#,##0 %`` in Finnish) with ``digits`` decimals."""
    key = (locale, digits)
    pattern = _PERCENT_PATTERNS.get(key)
    if pattern is None:
        base = str(babel_locale(locale).percent_formats[None].pattern).split(";", 1)[0]
        decimals = "." + "0" * digits if digits > 0 else ""
        pattern = re.sub(r"0(?=[^0]*$)", "0" + decimals, base, count=1)
        _PERCENT_PATTERNS[key] = pattern
    return pattern


environment.filters.update(
    date=_date,
    datetime=_datetime,
    number=_number,
    percent=_percent,
    skill_label=_skill_label,
    occupation_label=_occupation_label,
    isco_label=_isco_label,
    cpv_label=_cpv_label,
    municipality=_municipality,
    employment_area=_employment_area,
    region=_region,
)
environment.globals.update(
    esco_language_notice=esco_language_notice,
    LANGUAGE_NAMES=LANGUAGE_NAMES,
    LOCALES=LOCALES,
)


# ---- rendering ------------------------------------------------------------------------------


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The page ``template`` rendered in the request's language."""
    locale = locale_of(request)
    texts = _gettexts(locale)
    identity = getattr(request.state, "web_identity", None)
    new_cookie = False
    if identity is None:
        # Forms on pages without a session (sign-in, language) need the pre-session token.
        token, new_cookie = pre_session_token(request)
    else:
        token = str(identity.csrf_token)
    settings = request.app.state.settings

    def csrf_input() -> Markup:
        return Markup('<input type="hidden" name="csrf_token" value="{0}">').format(token)

    values: dict[str, Any] = {
        "request": request,
        "caller": identity.caller if identity is not None else None,
        "username": identity.username if identity is not None else None,
        "locale": locale,
        "csrf_token": token,
        "csrf_input": csrf_input,
        "gettext": texts.gettext,
        "_": texts.gettext,
        "ngettext": texts.ngettext,
        "time_zone": _zone(settings.web.time_zone),
        "_page": _Page(),
    }
    if context:
        values.update(context)
    html = environment.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
    if new_cookie:
        set_page_cookie(request, response, CSRF_COOKIE, token)
    return response


_ZONES: dict[str, ZoneInfo] = {}


def _zone(name: str) -> ZoneInfo:
    zone = _ZONES.get(name)
    if zone is None:
        zone = _ZONES[name] = ZoneInfo(name)
    return zone
