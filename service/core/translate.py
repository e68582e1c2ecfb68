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

from typing import Any

import flask_babel
from babel.support import NullTranslations
from flask import Flask, current_app, has_request_context
from flask_babel.speaklater import LazyString
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

_KEY = "tidtam.translations"


#: Outside a request (the command line, the worker) the words stay in English: asking
#: flask_babel there would run the locale selector, which reads the request.
_UNTRANSLATED = NullTranslations()


def translations() -> Any:
    """The translations of the current request's language (the untranslated strings outside
    a request)."""
    if not has_request_context():
        return _UNTRANSLATED
    from service.core.web import current_language

    language = current_language()
    catalogs: dict[str, Any] = current_app.extensions[_KEY]
    found = catalogs.get(language)
    if found is None:
        found = catalogs[language] = flask_babel.get_translations()
    return found


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
