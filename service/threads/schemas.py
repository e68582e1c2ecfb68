"""What the threads API reads and answers."""

from __future__ import annotations

from typing import Any

from flask_smorest.fields import Upload
from marshmallow import fields, validate

from service.api.schemas import Input, Output, PageArgs
from service.core.fields import MAX_ID, Text


class CommentInput(Input):
    body = Text(required=True, validate=validate.Length(1, 5000))
    mentions = fields.List(
        fields.Integer(validate=validate.Range(1, MAX_ID)),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "ids of people to tell; each must see the subject"},
    )


class CommentWithFiles(Input):
    """A comment sent as multipart/form-data: its text, the people it tells and its files."""

    body = Text(required=True, validate=validate.Length(1, 5000))
    mentions = fields.List(
        fields.Integer(validate=validate.Range(1, MAX_ID)),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "ids of people to tell; each must see the subject"},
    )
    files = fields.List(
        Upload(),
        load_default=list,
        validate=validate.Length(max=10),
        metadata={"description": "PDF, JPG, PNG, DOCX or XLSX, checked by their content"},
    )


class ThreadArgs(PageArgs):
    pass


class PersonOut(Output):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class AttachmentOut(Output):
    id = fields.Integer(required=True)
    name = fields.String(required=True, attribute="original_name")
    content_type = fields.String(required=True)
    size = fields.Integer(required=True)
    url = fields.Method("_url", metadata={"description": "the file (GET, as an attachment)"})

    def _url(self, attachment: Any) -> str:
        return f"/api/v1/comment-files/{attachment.id}"


class RevisionOut(Output):
    revision = fields.Integer(required=True)
    body = fields.String(required=True)
    written_at = fields.DateTime(required=True)
    replaced_at = fields.DateTime(required=True)


class CommentOut(Output):
    id = fields.Integer(required=True)
    subject_type = fields.String(required=True)
    subject_id = fields.Integer(required=True)
    author = fields.Nested(PersonOut, required=True)
    body = fields.Method(
        "_body", allow_none=True, metadata={"description": "null once the comment is withdrawn"}
    )
    opened_by = fields.String(
        metadata={"description": "the transition whose reason opened the thread, or empty"}
    )
    revision = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    edited_at = fields.DateTime(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)
    attachments = fields.Method("_attachments")
    revisions = fields.Method("_revisions", metadata={"description": "earlier wordings"})

    def _body(self, comment: Any) -> str | None:
        return None if comment.withdrawn_at else comment.body

    def _attachments(self, comment: Any) -> list[dict[str, Any]]:
        if comment.withdrawn_at:
            return []
        return list(AttachmentOut(many=True).dump(comment.attachments))

    def _revisions(self, comment: Any) -> list[dict[str, Any]]:
        if comment.withdrawn_at:
            return []
        return list(RevisionOut(many=True).dump(comment.revisions))
