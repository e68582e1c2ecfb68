"""What the comment threads' words are called: comments, the actions on them and the inputs
of a comment's form."""

from __future__ import annotations

from flask_babel.speaklater import LazyString

from service.core.translate import lazy_gettext as _l

OBJECT_TYPES: dict[str, LazyString] = {
    "comment": _l("Comment"),
}

ACTIONS: dict[str, LazyString] = {
    "comment.add": _l("Comment added"),
    "comment.edit": _l("Comment reworded"),
    "comment.withdraw": _l("Comment withdrawn"),
    "comment.mention": _l("Mentioned in a comment"),
}

FIELDS: dict[str, LazyString] = {
    "body": _l("Comment"),
    "mentions": _l("People mentioned"),
}
