"""What a notification says: one summary line per kind, a lazy gettext string (its Thai in
messages.po) filled from the object it is about and the event's or reminder's payload and
rendered in the recipient's language. Mail templates (templates/mail/*.txt) lay the lines
out; the notification centre shows them as they are."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app
from flask_babel.speaklater import LazyString
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.budget.models import Allocation, BudgetTransfer, Installment
from service.core.thai import format_baht, format_date
from service.core.translate import gettext as _
from service.core.translate import in_language
from service.core.translate import lazy_gettext as _l
from service.evaluations.models import Evaluation
from service.kpis.models import Kpi, KpiQuarterResult
from service.notifications.models import LineGroup
from service.org.models import Delegation, OrgUnit, User
from service.projects.models import PlanStep, Project, StepResult

SUMMARIES: dict[str, LazyString] = {
    "step_result.return": _l(
        "Your result for step “%(step)s” of project %(project)s was returned for changes. "
        "%(reason)s"
    ),
    "step_result.submit": _l(
        "%(unit)s submitted a result for step “%(step)s” of project %(project)s; it waits for "
        "your review"
    ),
    "allocation.submit": _l(
        "An allocation of %(amount)s baht to %(unit)s in project %(project)s waits for you"
    ),
    "allocation.endorse": _l(
        "The allocation of %(amount)s baht to %(unit)s in project %(project)s was endorsed "
        "and waits for your approval"
    ),
    "evaluation.publish": _l(
        "The evaluation of %(subject)s for Q%(quarter)s FY%(year)s is published: score %(score)s"
    ),
    "step_result.accept": _l(
        "The result of %(unit)s for step “%(step)s” of project %(project)s was accepted"
    ),
    "installment.request": _l(
        "An installment of %(amount)s baht for %(unit)s in project %(project)s waits for your "
        "approval"
    ),
    "installment.approve": _l(
        "The installment of %(amount)s baht for %(unit)s in project %(project)s was approved"
    ),
    "installment.pay": _l(
        "The installment of %(amount)s baht for %(unit)s in project %(project)s was paid"
    ),
    "installment.reject": _l(
        "The installment of %(amount)s baht for %(unit)s in project %(project)s was rejected. "
        "%(reason)s"
    ),
    "allocation.approve": _l(
        "The allocation of %(amount)s baht to %(unit)s in project %(project)s was approved"
    ),
    "allocation.return": _l(
        "The allocation of %(amount)s baht to %(unit)s in project %(project)s was returned "
        "for changes. %(reason)s"
    ),
    "allocation.reject": _l(
        "The allocation of %(amount)s baht to %(unit)s in project %(project)s was rejected. "
        "%(reason)s"
    ),
    "project.submit": _l(
        "The plan of project %(project)s was submitted and waits for you to lock it"
    ),
    "project.lock": _l("The plan of project %(project)s was approved and locked"),
    "project.return": _l("The plan of project %(project)s was returned for changes. %(reason)s"),
    "project.request_revision": _l(
        "A revision of the plan of project %(project)s was requested; it waits for you. %(reason)s"
    ),
    "project.reopen": _l("The plan of project %(project)s is open for revision"),
    "project.decline_revision": _l(
        "The revision of the plan of project %(project)s was declined; the plan stays locked. "
        "%(reason)s"
    ),
    "evaluation.reopen": _l(
        "The evaluation of %(subject)s for Q%(quarter)s FY%(year)s was reopened. %(reason)s"
    ),
    "evaluation.self_assess": _l(
        "%(subject)s for Q%(quarter)s FY%(year)s is self-assessed and waits for your score"
    ),
    "delegation.create": _l(
        "%(principal)s delegated their work to %(delegate)s from %(starts)s to %(ends)s"
    ),
    "delegation.withdraw": _l(
        "The delegation from %(principal)s to %(delegate)s (%(starts)s – %(ends)s) was withdrawn"
    ),
    "comment.mention": _l("%(author)s mentioned you in a comment on %(subject)s: “%(excerpt)s”"),
    "line_account.link": _l(
        "Your LINE account is linked to Tidtam: the notifications you chose come to LINE"
    ),
    "line_group.link": _l(
        "A LINE group is linked to %(unit)s: it hears of the unit's notifications"
    ),
    "webhook.test": _l("A test delivery from Tidtam to this endpoint"),
    "digest": _l("Daily digest of notifications"),
    "deadline.step_due": _l(
        "%(unit)s: step “%(step)s” of project %(project)s is due on %(due)s (in %(days_left)s days)"
    ),
    "deadline.step_overdue": _l(
        "%(unit)s: step “%(step)s” of project %(project)s is %(days)s days past its due date "
        "%(due)s with no accepted result"
    ),
    "deadline.review_waiting": _l(
        "%(unit)s: the result for step “%(step)s” of project %(project)s has waited %(days)s "
        "days for review"
    ),
    "deadline.installment_waiting": _l(
        "%(unit)s: an installment request of %(amount)s baht for project %(project)s has "
        "waited %(days)s days for approval"
    ),
    "deadline.report_missing": _l(
        "%(unit)s: project %(project)s has no progress report for %(period)s"
    ),
    "deadline.evaluation_self": _l(
        "%(subject)s for Q%(quarter)s FY%(year)s is not self-assessed, %(days)s days late"
    ),
    "deadline.evaluation_score": _l(
        "%(subject)s for Q%(quarter)s FY%(year)s is not scored, %(days)s days late"
    ),
    "budget_transfer.create": _l(
        "A transfer of %(amount)s baht from project %(project)s to project %(target)s waits for "
        "your endorsement"
    ),
    "budget_transfer.endorse": _l(
        "The transfer of %(amount)s baht from project %(project)s to project %(target)s was "
        "endorsed and waits for your approval"
    ),
    "budget_transfer.approve": _l(
        "The transfer of %(amount)s baht from project %(project)s to project %(target)s was "
        "approved"
    ),
    "budget_transfer.return": _l(
        "The transfer of %(amount)s baht from project %(project)s was returned for changes. "
        "%(reason)s"
    ),
    "budget_transfer.reject": _l(
        "The transfer of %(amount)s baht from project %(project)s was rejected. %(reason)s"
    ),
    "kpi.result": _l(
        "%(unit)s reported the result of %(subject)s for Q%(quarter)s FY%(year)s: %(value)s"
    ),
    "allocation.undecidable": _l(
        "Nobody may approve the allocation of %(amount)s baht to %(unit)s in project %(project)s"
        " as it stands: four eyes bars everyone who may approve it. Withdraw it, or have it"
        " returned, and have another officer prepare it"
    ),
    "installment.undecidable": _l(
        "Nobody may approve the installment of %(amount)s baht for %(unit)s in project"
        " %(project)s as it stands: it was asked for by, or in the name of, the only people who"
        " may approve it. Have it rejected, and request it again in your own name or by"
        " someone else"
    ),
    "installment.payment": _l(
        "%(paid)s baht of the installment of %(amount)s baht for %(unit)s in project %(project)s "
        "was paid"
    ),
}

#: Put before the summary of a reminder sent up to the recipient's superior.
ESCALATED = _l("[Escalated] %(summary)s")
#: A reason given with a decision, as a summary ends with it.
REASON = _l("Reason: %(reason)s")
#: The summary of a kind without an entry above.
FALLBACK = _l("%(kind)s: %(project)s")


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "–"


def _lang(lang: str) -> str:
    return "en" if lang == "en" else "th"


def _date(value: Any, lang: str) -> str:
    if not value:
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return format_date(day, lang)


def _amount(value: Any) -> str:
    try:
        return format_baht(Decimal(str(value)))
    except (InvalidOperation, TypeError, ValueError):
        return str(value or "")


#: Where a person acts on what they are told, by kind ("{id}": the object's id); a kind not
#: listed links to the project's page.
LINKS: dict[str, str] = {
    "step_result.submit": "/review#result-{id}",
    "deadline.review_waiting": "/review#result-{id}",
    "step_result.return": "/results/{id}",
    "step_result.accept": "/results/{id}",
    "deadline.step_due": "/results/{id}",
    "deadline.step_overdue": "/results/{id}",
    "allocation.submit": "/approvals#allocation-{id}",
    "allocation.endorse": "/approvals#allocation-{id}",
    "installment.request": "/approvals#installment-{id}",
    "deadline.installment_waiting": "/approvals#installment-{id}",
    "allocation.approve": "/budget",
    "allocation.undecidable": "/budget#allocation-{id}",
    "installment.undecidable": "/approvals#installment-{id}",
    "budget_transfer.create": "/budget/transfers#transfer-{id}",
    "budget_transfer.endorse": "/budget/transfers#transfer-{id}",
    "budget_transfer.return": "/budget/transfers#transfer-{id}",
    "allocation.return": "/budget",
    "allocation.reject": "/budget",
    "evaluation.self_assess": "/evaluations",
    "deadline.evaluation_self": "/evaluations",
    "deadline.evaluation_score": "/evaluations",
    "delegation.create": "/notifications",
    "delegation.withdraw": "/notifications",
    "line_account.link": "/notifications/settings",
    "line_group.link": "/line/groups",
    "kpi.result": "/kpis/{id}",
}


def link_for(kind: str, object_id: int, project_id: int | None) -> str:
    """The path of the page where the thing `kind` is about is acted on."""
    if kind in LINKS:
        return LINKS[kind].format(id=object_id)
    return f"/projects/{project_id}" if project_id else "/notifications"


def describe(
    session: Session,
    object_type: str,
    object_id: int,
    payload: dict[str, Any],
    lang: str,
    kind: str = "",
) -> dict[str, str]:
    """The words a summary needs about the object (`project`, `step`, `unit`, `amount`, …),
    read from the database in `lang`, plus a `link` to where it is acted on (see `LINKS`).
    Missing objects give dashes."""
    lang = _lang(lang)
    words: dict[str, str] = {}
    project: Project | None = None
    unit: OrgUnit | None = None
    if object_type == "step_result":
        row = session.execute(
            select(StepResult, PlanStep, Project)
            .join(PlanStep, PlanStep.id == StepResult.step_id)
            .join(Project, Project.id == PlanStep.project_id)
            .where(StepResult.id == object_id)
        ).one_or_none()
        if row:
            result, step, project = row
            words["step"] = step.name
            unit = session.get(OrgUnit, result.unit_id)
    elif object_type == "plan_step":
        plan_step = session.get(PlanStep, object_id)
        if plan_step:
            words["step"] = plan_step.name
            project = session.get(Project, plan_step.project_id)
    elif object_type in ("allocation", "installment"):
        allocation: Allocation | None
        if object_type == "installment":
            installment = session.get(Installment, object_id)
            allocation = session.get(Allocation, installment.allocation_id) if installment else None
            words["amount"] = _amount(installment.amount if installment else "")
        else:
            allocation = session.get(Allocation, object_id)
            words["amount"] = _amount(allocation.amount if allocation else "")
        if allocation:
            project = session.get(Project, allocation.project_id)
            unit = session.get(OrgUnit, allocation.recipient_unit_id)
    elif object_type == "budget_transfer":
        transfer = session.get(BudgetTransfer, object_id)
        if transfer:
            words["amount"] = _amount(transfer.amount)
            project = session.get(Project, transfer.source_id)
            target = session.get(Project, transfer.target_id)
            words["target"] = f"{target.code} {target.name}" if target else ""
            if project is not None:
                unit = session.get(OrgUnit, project.responsible_unit_id)
    elif object_type == "project":
        project = session.get(Project, object_id)
        if project is not None:
            unit = session.get(OrgUnit, project.responsible_unit_id)
    elif object_type == "evaluation":
        evaluation = session.get(Evaluation, object_id)
        if evaluation:
            words["quarter"] = str(evaluation.quarter)
            words["year"] = str(evaluation.fiscal_year.be_year)
            words["score"] = "" if evaluation.score is None else str(evaluation.score)
            if evaluation.project_id:
                project = session.get(Project, evaluation.project_id)
                code = project.code if project else ""
                with in_language(lang):
                    words["subject"] = _("project %(code)s", code=code)
            elif evaluation.kpi is not None:
                with in_language(lang):
                    words["subject"] = _("KPI %(code)s", code=evaluation.kpi.code)
    elif object_type == "kpi":
        kpi = session.get(Kpi, object_id)
        if kpi is not None:
            words["year"] = str(kpi.fiscal_year.be_year)
            with in_language(lang):
                words["subject"] = _("KPI %(code)s", code=kpi.code)
            unit = session.get(OrgUnit, kpi.owner_unit_id)
            reported = session.scalar(
                select(KpiQuarterResult.value).where(
                    KpiQuarterResult.kpi_id == kpi.id,
                    KpiQuarterResult.quarter == int(payload.get("quarter") or 0),
                )
            )
            if reported is not None:
                words["value"] = f"{reported.normalize():f} {kpi.unit_label}"
    elif object_type == "line_group":
        group = session.get(LineGroup, object_id)
        if group is not None and group.unit_id is not None:
            unit = session.get(OrgUnit, group.unit_id)
    elif object_type == "delegation":
        delegation = session.get(Delegation, object_id)
        if delegation:
            principal = session.get(User, delegation.principal_id)
            delegate = session.get(User, delegation.delegate_id)
            words["principal"] = principal.name if principal else ""
            words["delegate"] = delegate.name if delegate else ""
            words["starts"] = _date(delegation.starts_on, lang)
            words["ends"] = _date(delegation.ends_on, lang)
    elif object_type == "comment":
        from service.threads.queries import describe_comment

        found = describe_comment(session, object_id, lang)
        if found is not None:
            words.update(found.words)
            project = found.project
            unit = found.unit
    if project is not None:
        words["project"] = f"{project.code} {project.name}"
        words["project_code"] = project.code
    if unit is not None:
        words["unit"] = unit.name(lang)
    base = current_app.config.get("PUBLIC_URL", "").rstrip("/")
    path = words.pop("path", None) or link_for(kind, object_id, project.id if project else None)
    words["link"] = base + path
    return words


def summary(kind: str, payload: dict[str, Any], words: dict[str, str], lang: str) -> str:
    """The one-line summary of a notification in `lang` ("th" or "en")."""
    lang = _lang(lang)
    values = _Blank(words)
    values["kind"] = kind
    if "reason" in payload:
        values["reason"] = str(payload.get("reason") or "")
    if "amount" in payload and "amount" not in words:
        values["amount"] = _amount(payload["amount"])
    if "paid" in payload:
        values["paid"] = _amount(payload["paid"])
    if "days" in payload:
        days = int(payload["days"])
        values["days"] = str(days)
        values["days_left"] = str(-days)
    if payload.get("due"):
        values["due"] = _date(payload["due"], lang)
    if payload.get("period"):
        values["period"] = str(payload["period"])
    if payload.get("quarter") and "quarter" not in words:
        values["quarter"] = str(payload["quarter"])
    with in_language(lang):
        if values.get("reason"):
            # said as the reason, not run on into the sentence before it
            values["reason"] = str(REASON) % {"reason": values["reason"]}
        # The catalog's words, filled in here: `_Blank` gives a dash for a word the object
        # could not supply (gettext's own formatting would raise KeyError).
        text = (str(SUMMARIES.get(kind, FALLBACK)) % values).strip()
        if payload.get("escalated"):
            text = str(ESCALATED) % {"summary": text}
    return text


def subject(kind: str, payload: dict[str, Any], words: dict[str, str], lang: str) -> str:
    """A mail subject: "Tidtam: " and the summary naming the project by its code only, cut
    to a readable length (the body has the full line)."""
    short = {**words, "project": words.get("project_code", words.get("project", ""))}
    line = summary(kind, payload, short, lang)
    with in_language(_lang(lang)):
        return _("Tidtam: %(summary)s", summary=line if len(line) <= 160 else line[:159] + "…")
