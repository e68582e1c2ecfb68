"""The API's blueprint class: flask-smorest's, with unknown query parameters refused like
unknown body fields (webargs ignores them by default, so `?fiscalyear=2566` would silently
list every year)."""

from __future__ import annotations

from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser


class StrictParser(FlaskParser):
    # None: each schema's own Meta.unknown (RAISE) decides, in the query string too.
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = StrictParser()
