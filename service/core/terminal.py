"""The language of the command line: `flask … admin|audit --lang th|en`, else the deployment's
default (BABEL_DEFAULT_LOCALE, as for pages nobody chose a language for).

What our commands print goes through the catalogue as everything else does. Click's own words
(a mistyped option, a missing argument, "Usage:", "Try … for help.") come from the standard
library's gettext, in its default domain, which has our catalogue's name ("messages"), in the
language the environment names (LANGUAGE). `--lang` points that domain at our catalogue and
names the language there for the rest of the process: a command line is one person's. The
words are listed below so that `make messages` keeps them in the catalogue with their Thai.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import os

import click
from flask import current_app
from flask.cli import ScriptInfo

from service.core.i18n import DOMAIN, TRANSLATIONS
from service.core.translate import lazy_gettext as _l
from service.core.translate import ngettext

_CHOSEN = "tidtam.language"


def _speak(context: click.Context, _param: click.Parameter, chosen: str | None) -> None:
    context.meta[_CHOSEN] = chosen
    if not current_app:  # as flask.cli.with_appcontext does: the default is the app's
        context.with_resource(context.ensure_object(ScriptInfo).load_app().app_context())
    stdlib_gettext.bindtextdomain(DOMAIN, str(TRANSLATIONS))
    # For the rest of the process, not the context: Click prints "Usage:" and "Error:" after
    # the command's context has closed.
    os.environ["LANGUAGE"] = language()


#: `--lang` on a command group: the language of everything printed under it, Click's own
#: usage errors included (the group's option is read before its commands' are).
lang_option = click.option(
    "--lang",
    type=click.Choice(["th", "en"]),
    default=None,
    expose_value=False,
    is_eager=True,
    callback=_speak,
    help="the language of what is printed (default: BABEL_DEFAULT_LOCALE)",
)


def language() -> str:
    """The language chosen with `--lang`, else the deployment's default."""
    context = click.get_current_context(silent=True)
    chosen = context.find_root().meta.get(_CHOSEN) if context else None
    return str(chosen or current_app.config.get("BABEL_DEFAULT_LOCALE", "th"))


#: Click's words a person meets on our command line (msgids exactly as Click writes them).
CLICK_WORDS = (
    _l("Usage:"),
    _l("Try '{command} {option}' for help."),
    _l("Error: {message}"),
    _l("Options"),
    _l("Commands"),
    _l("Show this message and exit."),
    _l("Aborted!"),
    _l("Missing command."),
    _l("Invalid value: {message}"),
    _l("Invalid value for {param_hint}: {message}"),
    _l("Missing argument"),
    _l("Missing option"),
    _l("Missing parameter"),
    _l("Missing {param_type}"),
    _l("Missing parameter: {param_name}"),
    _l("No such option {name!r}."),
    _l("No such command {name!r}."),
    _l("Option {name!r} does not take a value."),
    _l("Argument {name!r} takes {nargs} values."),
    _l("{value!r} is not a valid {number_type}."),
    _l("{value} is not in the range {range}."),
    _l("{value!r} is not a valid boolean. Recognized values: {states}"),
    _l("default: {default}"),
    _l("Do you want to continue?"),
    _l("Repeat for confirmation"),
    _l("Error: The two entered values do not match."),
    _l("Error: invalid input"),
    _l("{name} {filename!r} does not exist."),
    _l("file"),
    _l("directory"),
    _l("path"),
)


def click_plural_words() -> tuple[str, ...]:
    """Click's words that have a plural (Thai has one form), in the current language: written
    out as calls so that extraction finds them."""
    return (
        ngettext(
            "Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", 1
        ),
        ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", 1),
        ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", 1),
        ngettext(
            "Option {name!r} requires an argument.",
            "Option {name!r} requires {nargs} arguments.",
            1,
        ),
        ngettext(
            "{value!r} does not match the format {format}.",
            "{value!r} does not match the formats {formats}.",
            1,
        ),
    )
