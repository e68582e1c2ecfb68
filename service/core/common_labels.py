"""The words no single domain owns: inputs that many domains' forms, filters and lists share.

A domain's own words are in its `labels.py`; `service.core.labels` merges both.
"""

from __future__ import annotations

from flask_babel.speaklater import LazyString

from service.core.translate import lazy_gettext as _l

FIELDS: dict[str, LazyString] = {
    "reason": _l("Reason"),
    "comment": _l("Comment"),
    "narrative": _l("What was done"),
    "name": _l("Name"),
    "code": _l("Code"),
    "kind": _l("Kind"),
    "state": _l("State"),
    "file": _l("File"),
    "files": _l("Attached files"),
    "starts_on": _l("From"),
    "ends_on": _l("To"),
    "parent_id": _l("Parent"),
    "unit": _l("Unit"),
    "unit_id": _l("Unit"),
    "owner_unit_id": _l("Owner unit"),
    "project": _l("Project"),
    "project_id": _l("Project"),
    "fiscal_year": _l("Fiscal year"),
    "quarter": _l("Quarter"),
    "format": _l("File format"),
    "ids": _l("Items"),
    "versions": _l("Versions read"),
    "page": _l("Page"),
    "per_page": _l("Per page"),
    "after": _l("Next page's position"),
}
