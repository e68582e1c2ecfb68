"""gettext for pages: flask_babel's catalogs, looked up at the cost of a dict access.

flask_babel resolves its domain, its context and the locale again for every string (about
20 µs); the largest project page translates 3,500 strings (state names of its history rows,
column names, durations), which made translation a fifth of its rendering. Here each app
keeps one translations object per language, chosen by `service.core.web.current_language`
(the same selector flask_babel is given), and templates get functions bound to it once per
render. Same signatures as flask_babel's: `gettext(string, **variables)`, `ngettext(singular,
plural, num, **variables)`, `lazy_gettext(string, **variables)`; extraction keywords stay
`_`, `_l`, `gettext`, `ngettext`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import flask_babel
from babel.support import NullTranslations, Translations
from flask import Flask, current_app, has_app_context, has_request_context
from flask_babel.speaklater import LazyString
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

_KEY = "tidtam.translations"


#: Outside a request (the command line, the worker) the words stay in English unless
#: `in_language` says otherwise: asking flask_babel there would run the locale selector,
#: which reads the request.
_UNTRANSLATED = NullTranslations()

#: The language `in_language` chose for the words made inside it, request or not.
_chosen: ContextVar[str | None] = ContextVar("tidtam_language", default=None)


@contextmanager
def in_language(language: str) -> Iterator[None]:
    """Translate into `language` ("th", "en") whatever is made inside, with or without a
    request: a mail in its recipient's language, a command's output in the one it was asked
    for (Flask-Babel's `force_locale`, which needs a request, does this for pages)."""
    token = _chosen.set(language)
    try:
        yield
    finally:
        _chosen.reset(token)


def _load(language: str) -> Any:
    """The catalog of `language` from every translation folder the app was given, read once
    per app (flask_babel's Domain.get_translations, without its request-bound locale)."""
    found = Translations()
    config = flask_babel.get_babel(current_app)
    for folder in config.translation_directories:
        catalog = Translations.load(folder, [language], config.default_domain)
        if isinstance(catalog, Translations):  # NullTranslations: no catalog (English)
            found.merge(catalog)
            found.plural = catalog.plural
    return found


def translations() -> Any:
    """The translations of the language `in_language` chose, else of the current request's
    (the untranslated strings outside both)."""
    language = _chosen.get()
    if language is None:
        if not has_request_context():
            return _UNTRANSLATED
        from service.core.web import current_language

        language = current_language()
    elif not has_app_context():
        return _UNTRANSLATED
    catalogs: dict[str, Any] = current_app.extensions[_KEY]
    found = catalogs.get(language)
    if found is None:
        found = catalogs[language] = _load(language)
    return found


def current() -> str:
    """The language words are being translated into now ("en" outside any request)."""
    language = _chosen.get()
    if language is not None:
        return language
    if not has_request_context():
        return "en"
    from service.core.web import current_language

    return current_language()


def gettext(string: str, **variables: Any) -> str:
    text: str = translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    text: str = translations().ungettext(singular, plural, num)
    return text % variables


def lazy_gettext(string: str, **variables: Any) -> LazyString:
    return LazyString(gettext, string, **variables)


def _newstyle_gettext(lookup: Any) -> Any:
    """Jinja's "newstyle" gettext (jinja2.ext._make_new_gettext) for a plain catalog method:
    called directly rather than through the context, and formatted only when there is
    something to format (`text % {}` is `text` when it holds no "%"), which were most of the
    cost of a page's few hundred strings."""

    @pass_context
    def gettext(context: Context, string: str, **variables: Any) -> str:
        text = lookup(string)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables if variables or "%" in text else text

    return gettext


def _newstyle_ngettext(lookup: Any) -> Any:
    """Jinja's "newstyle" ngettext (jinja2.ext._make_new_ngettext), likewise."""

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        text = lookup(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return ngettext


def _bound_to_this_render() -> dict[str, Any]:
    """`_`, `gettext` and `ngettext` for one template render, bound to the request's
    catalog: a page's strings then cost one method call each. (Macros imported without
    context use the environment's globals below, which look the catalog up per string.)"""
    catalog = translations()
    gettext_ = _newstyle_gettext(catalog.ugettext)
    return {"_": gettext_, "gettext": gettext_, "ngettext": _newstyle_ngettext(catalog.ungettext)}


def init_app(app: Flask) -> None:
    """After flask_babel's own init_app: replace the template callables it installed."""
    app.extensions[_KEY] = {}
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
    )
    app.context_processor(_bound_to_this_render)
