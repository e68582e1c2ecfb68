"""Evidence files of step results: checked by their first bytes (not their names), stored under
random names in UPLOAD_FOLDER (outside the web root), served only as attachments."""

from __future__ import annotations

import io
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.audit.operations import record
from service.core.db import utcnow
from service.core.translate import gettext as _
from service.org.models import User
from service.projects.models import EvidenceFile, ResultState, StepResult
from service.projects.permissions import can_see_result, may_report_result
from service.workflow.engine import Refused

#: Extension → content type of the kinds of evidence accepted.
ACCEPTED = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def sniff(head: bytes, data: IO[bytes]) -> str | None:
    """The kind ("pdf", "jpg", "png", "docx", "xlsx") the content really is, or None.

    `head` is the first bytes; an Office file is a zip, told apart by the part it holds."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(data) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return None
        if "[Content_Types].xml" in names:
            if "word/document.xml" in names:
                return "docx"
            if "xl/workbook.xml" in names:
                return "xlsx"
    return None


_UNSHOWN = frozenset(("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


def display_name(filename: str) -> str:
    """The name to keep and show for an uploaded file: its last path part without control
    and format characters (a right-to-left override makes "gnp.exe" read as "exe.png"),
    NUL or lone surrogates; at most 255 characters; "file" when nothing is left."""
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    kept = "".join(c for c in name if unicodedata.category(c) not in _UNSHOWN).strip()
    return kept[:255] or "file"


def check_upload(upload: Upload, max_bytes: int) -> str:
    """The content type to store for `upload`. Raises Refused(422) for an empty or too large
    file, an extension not accepted, or content that is not what the extension says."""
    name = display_name(upload.filename)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""

    def refused(message: str) -> Refused:
        # The field's message is the reason itself: the page marks the file field with it,
        # and the upload script shows what `fields` says (a name alone told nobody why).
        return Refused(422, message, fields={"files": message})

    if extension not in ACCEPTED:
        raise refused(
            _("%(name)s: only PDF, JPG, PNG, DOCX and XLSX files are accepted", name=name)
        )
    if not upload.content:
        raise refused(_("%(name)s is empty", name=name))
    if len(upload.content) > max_bytes:
        raise refused(
            _("%(name)s is larger than %(size)s MB", name=name, size=max_bytes // (1024 * 1024))
        )
    kind = sniff(upload.content[:16], io.BytesIO(upload.content))
    wanted = "jpg" if extension == "jpeg" else extension
    if kind != wanted:
        raise refused(
            _("%(name)s is not really a %(kind)s file", name=name, kind=extension.upper())
        )
    return ACCEPTED[extension]


def store_evidence(
    session: Session,
    actor: User,
    result: StepResult,
    upload: Upload,
    folder: Path,
    max_bytes: int,
) -> tuple[EvidenceFile, Path]:
    """Check `upload`, write it under a random name in `folder` and add its row (flushed).
    Returns the row and the path written, so a caller whose transaction fails can remove it.
    Raises Refused(422) as `check_upload` does."""
    content_type = check_upload(upload, max_bytes)
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_hex(24)
    path = folder / stored_name
    with path.open("xb") as target:
        target.write(upload.content)
    original = display_name(upload.filename)
    evidence = EvidenceFile(
        result=result,
        original_name=original,
        stored_name=stored_name,
        content_type=content_type,
        size=len(upload.content),
        uploaded_by_id=actor.id,
    )
    session.add(evidence)
    session.flush()
    record(
        session,
        action="evidence.upload",
        object_type="step_result",
        object_id=result.id,
        actor=actor,
        changes={"evidence_id": evidence.id, "name": original, "size": evidence.size},
    )
    return evidence, path


#: A result whose files the unit may still withdraw: not yet decided by the district. A
#: submitted result is still waiting for review, so a wrong file may be taken back before the
#: officer looks at it; an accepted one is decided and its files are part of the record.
WITHDRAWABLE = frozenset(
    (ResultState.NOT_STARTED, ResultState.IN_PROGRESS, ResultState.SUBMITTED, ResultState.RETURNED)
)


def _last_accepted_at(session: Session, result: StepResult) -> datetime | None:
    """When the district last accepted `result` (None if it never did): the files it had then
    were reviewed, and stay even when the school resubmits."""
    if result.accepted_completion is None:
        return None
    return session.scalar(
        select(func.max(AuditEntry.occurred_at)).where(
            AuditEntry.object_type == "step_result",
            AuditEntry.object_id == result.id,
            AuditEntry.action == "step_result.accept",
        )
    )


def withdrawable(session: Session, actor: User, result: StepResult) -> frozenset[int]:
    """The ids of the result's current files the page offers `actor` to withdraw or replace."""
    if result.state not in WITHDRAWABLE or not may_report_result(session, actor, result):
        return frozenset()
    accepted_at = _last_accepted_at(session, result)
    return frozenset(
        e.id for e in result.current_evidence if accepted_at is None or e.uploaded_at > accepted_at
    )


def withdraw_evidence(session: Session, actor: User, evidence: EvidenceFile) -> None:
    """Mark `evidence` withdrawn by `actor` (flushed, audited). Nothing is deleted: the row and
    the file on disk stay, listed in the result's history and no longer offered for review.

    Raises Refused: 404 when the actor may not see the result, 403 when they may not report
    it (only its school, or the officer for a district step), 409 when the file is already
    withdrawn, the result is accepted, or the file was part of a result accepted before (a
    resubmission after acceptance may not take back what the district accepted)."""
    result = evidence.result
    if not can_see_result(session, actor, result):
        raise Refused(404, _("No such evidence file"))
    allowed = may_report_result(session, actor, result)
    if not allowed:
        raise Refused(403, allowed.reason)
    if evidence.withdrawn_at is not None:
        raise Refused(
            409,
            _("“%(name)s” is already withdrawn", name=evidence.original_name),
            state="withdrawn",
        )
    if result.state not in WITHDRAWABLE:
        raise Refused(
            409,
            _(
                "%(name)s cannot be withdrawn: the result is already accepted",
                name=evidence.original_name,
            ),
            state=result.state.value,
        )
    accepted_at = _last_accepted_at(session, result)
    if accepted_at is not None and evidence.uploaded_at <= accepted_at:
        raise Refused(
            409,
            _(
                "%(name)s cannot be withdrawn: the district accepted the result with it",
                name=evidence.original_name,
            ),
            state=result.state.value,
        )
    evidence.withdrawn_at = utcnow()
    evidence.withdrawn_by_id = actor.id
    session.flush()
    record(
        session,
        action="evidence.withdraw",
        object_type="step_result",
        object_id=result.id,
        actor=actor,
        changes={"evidence_id": evidence.id, "name": evidence.original_name},
    )


def replace_evidence(
    session: Session,
    actor: User,
    evidence: EvidenceFile,
    upload: Upload,
    folder: Path,
    max_bytes: int,
) -> tuple[EvidenceFile, Path]:
    """Withdraw `evidence` and store `upload` on the same result, as one change: both or
    neither once the caller commits or rolls back. Returns what `store_evidence` returns.
    Raises Refused as `withdraw_evidence` and `check_upload` do (checked before any write)."""
    withdraw_evidence(session, actor, evidence)
    return store_evidence(session, actor, evidence.result, upload, folder, max_bytes)
