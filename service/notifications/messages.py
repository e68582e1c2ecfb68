"""What a notification says, in Thai and in English: one summary line per kind, filled from
the object it is about and the event's or reminder's payload. Mail templates
(templates/mail/*.txt) lay the lines out; the notification centre shows them as they are."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.budget.models import Allocation, BudgetTransfer, Installment
from service.core.thai import format_baht, format_date
from service.evaluations.models import Evaluation
from service.org.models import Delegation, OrgUnit, User
from service.projects.models import PlanStep, Project, StepResult

SUMMARIES: dict[str, dict[str, str]] = {
    "step_result.return": {
        "th": "ผลการดำเนินงานขั้นตอน “{step}” โครงการ {project} ถูกส่งกลับให้แก้ไข {reason}",
        "en": "Your result for step “{step}” of project {project} was returned for changes. "
        "{reason}",
    },
    "step_result.submit": {
        "th": "{unit} ส่งผลการดำเนินงานขั้นตอน “{step}” โครงการ {project} รอท่านตรวจสอบ",
        "en": "{unit} submitted a result for step “{step}” of project {project}; "
        "it waits for your review",
    },
    "allocation.submit": {
        "th": "คำขอจัดสรรงบประมาณ {amount} บาท ให้{unit} โครงการ {project} รอท่านพิจารณา",
        "en": "An allocation of {amount} baht to {unit} in project {project} waits for you",
    },
    "allocation.endorse": {
        "th": "การจัดสรรงบประมาณ {amount} บาท ให้{unit} โครงการ {project} ผ่านการเห็นชอบแล้ว รอท่านอนุมัติ",
        "en": "The allocation of {amount} baht to {unit} in project {project} was endorsed "
        "and waits for your approval",
    },
    "evaluation.publish": {
        "th": "ผลการประเมิน{subject} ไตรมาสที่ {quarter}/{year} เผยแพร่แล้ว คะแนน {score}",
        "en": "The evaluation of {subject} for Q{quarter} FY{year} is published: score {score}",
    },
    "step_result.accept": {
        "th": "ผลการดำเนินงานขั้นตอน “{step}” ของ{unit} โครงการ {project} ได้รับการรับรองแล้ว",
        "en": "The result of {unit} for step “{step}” of project {project} was accepted",
    },
    "installment.request": {
        "th": "คำขอเงินประจำงวด {amount} บาท ของ{unit} โครงการ {project} รอท่านอนุมัติ",
        "en": "An installment of {amount} baht for {unit} in project {project} waits for "
        "your approval",
    },
    "installment.approve": {
        "th": "เงินประจำงวด {amount} บาท ของ{unit} โครงการ {project} ได้รับอนุมัติแล้ว",
        "en": "The installment of {amount} baht for {unit} in project {project} was approved",
    },
    "installment.pay": {
        "th": "จ่ายเงินประจำงวด {amount} บาท ให้{unit} โครงการ {project} แล้ว",
        "en": "The installment of {amount} baht for {unit} in project {project} was paid",
    },
    "budget_transfer.create": {
        "th": "คำขอโอนงบประมาณ {amount} บาท จากโครงการ {project} ไปยังโครงการ {target} รอท่านเห็นชอบ",
        "en": "A transfer of {amount} baht from project {project} to project {target} waits"
        " for your endorsement",
    },
    "budget_transfer.endorse": {
        "th": "การโอนงบประมาณ {amount} บาท จากโครงการ {project} ไปยังโครงการ {target}"
        " ผ่านการเห็นชอบ รอท่านอนุมัติ",
        "en": "The transfer of {amount} baht from project {project} to project {target} was"
        " endorsed and waits for your approval",
    },
    "budget_transfer.approve": {
        "th": "การโอนงบประมาณ {amount} บาท จากโครงการ {project} ไปยังโครงการ {target} ได้รับอนุมัติแล้ว",
        "en": "The transfer of {amount} baht from project {project} to project {target} was"
        " approved",
    },
    "budget_transfer.return": {
        "th": "คำขอโอนงบประมาณ {amount} บาท จากโครงการ {project} ถูกส่งกลับให้แก้ไข {reason}",
        "en": "The transfer of {amount} baht from project {project} was returned for changes."
        " {reason}",
    },
    "budget_transfer.reject": {
        "th": "คำขอโอนงบประมาณ {amount} บาท จากโครงการ {project} ไม่ได้รับอนุมัติ {reason}",
        "en": "The transfer of {amount} baht from project {project} was rejected. {reason}",
    },
    "installment.payment": {
        "th": "จ่ายเงินประจำงวดบางส่วน {paid} บาท จาก {amount} บาท ให้{unit} โครงการ {project} แล้ว",
        "en": "{paid} baht of the installment of {amount} baht for {unit} in project {project}"
        " was paid",
    },
    "installment.reject": {
        "th": "คำขอเงินประจำงวด {amount} บาท ของ{unit} โครงการ {project} ไม่ได้รับอนุมัติ {reason}",
        "en": "The installment of {amount} baht for {unit} in project {project} was rejected. "
        "{reason}",
    },
    "allocation.approve": {
        "th": "การจัดสรรงบประมาณ {amount} บาท ให้{unit} โครงการ {project} ได้รับอนุมัติแล้ว",
        "en": "The allocation of {amount} baht to {unit} in project {project} was approved",
    },
    "allocation.return": {
        "th": "คำขอจัดสรรงบประมาณ {amount} บาท ให้{unit} โครงการ {project} ถูกส่งกลับให้แก้ไข {reason}",
        "en": "The allocation of {amount} baht to {unit} in project {project} was returned "
        "for changes. {reason}",
    },
    "allocation.reject": {
        "th": "คำขอจัดสรรงบประมาณ {amount} บาท ให้{unit} โครงการ {project} ไม่ได้รับอนุมัติ {reason}",
        "en": "The allocation of {amount} baht to {unit} in project {project} was rejected. "
        "{reason}",
    },
    "project.submit": {
        "th": "แผนโครงการ {project} ส่งมาแล้ว รอท่านอนุมัติและล็อกแผน",
        "en": "The plan of project {project} was submitted and waits for you to lock it",
    },
    "project.lock": {
        "th": "แผนโครงการ {project} ได้รับอนุมัติและล็อกแล้ว",
        "en": "The plan of project {project} was approved and locked",
    },
    "project.return": {
        "th": "แผนโครงการ {project} ถูกส่งกลับให้แก้ไข {reason}",
        "en": "The plan of project {project} was returned for changes. {reason}",
    },
    "project.request_revision": {
        "th": "โครงการ {project} ขอปรับแผน รอท่านพิจารณาเปิดให้ปรับ {reason}",
        "en": "A revision of the plan of project {project} was requested; it waits for you. "
        "{reason}",
    },
    "project.reopen": {
        "th": "แผนโครงการ {project} เปิดให้ปรับแผนแล้ว",
        "en": "The plan of project {project} is open for revision",
    },
    "evaluation.reopen": {
        "th": "ผลการประเมิน{subject} ไตรมาสที่ {quarter}/{year} ถูกเปิดแก้ไขอีกครั้ง {reason}",
        "en": "The evaluation of {subject} for Q{quarter} FY{year} was reopened. {reason}",
    },
    "evaluation.self_assess": {
        "th": "{subject} ไตรมาสที่ {quarter}/{year} ประเมินตนเองแล้ว รอท่านให้คะแนน",
        "en": "{subject} for Q{quarter} FY{year} is self-assessed and waits for your score",
    },
    "delegation.create": {
        "th": "{principal} มอบหมายให้ {delegate} ปฏิบัติหน้าที่แทน ตั้งแต่ {starts} ถึง {ends}",
        "en": "{principal} delegated their work to {delegate} from {starts} to {ends}",
    },
    "delegation.withdraw": {
        "th": "ยกเลิกการมอบหมายจาก {principal} ให้ {delegate} ({starts} – {ends}) แล้ว",
        "en": "The delegation from {principal} to {delegate} ({starts} – {ends}) was withdrawn",
    },
    "digest": {
        "th": "สรุปการแจ้งเตือนประจำวัน",
        "en": "Daily digest",
    },
    "deadline.step_due": {
        "th": "{unit}: ขั้นตอน “{step}” โครงการ {project} ครบกำหนด {due} (อีก {days_left} วัน)",
        "en": "{unit}: step “{step}” of project {project} is due on {due} (in {days_left} days)",
    },
    "deadline.step_overdue": {
        "th": "{unit}: ขั้นตอน “{step}” โครงการ {project} เลยกำหนด {due} มาแล้ว {days} วัน "
        "และยังไม่มีผลที่ได้รับการยอมรับ",
        "en": "{unit}: step “{step}” of project {project} is {days} days past its due date "
        "{due} with no accepted result",
    },
    "deadline.review_waiting": {
        "th": "{unit}: ผลการดำเนินงานขั้นตอน “{step}” โครงการ {project} รอการตรวจสอบมาแล้ว {days} วัน",
        "en": "{unit}: the result for step “{step}” of project {project} has waited {days} "
        "days for review",
    },
    "deadline.installment_waiting": {
        "th": "{unit}: คำขอเงินประจำงวด {amount} บาท โครงการ {project} รออนุมัติมาแล้ว {days} วัน",
        "en": "{unit}: an installment request of {amount} baht for project {project} has "
        "waited {days} days for approval",
    },
    "deadline.report_missing": {
        "th": "{unit}: โครงการ {project} ยังไม่ได้รายงานผลการดำเนินงานประจำเดือน {period}",
        "en": "{unit}: project {project} has no progress report for {period}",
    },
    "deadline.evaluation_self": {
        "th": "ยังไม่ได้ประเมินตนเอง{subject} ไตรมาสที่ {quarter}/{year} เลยกำหนดมาแล้ว {days} วัน",
        "en": "{subject} for Q{quarter} FY{year} is not self-assessed, {days} days late",
    },
    "deadline.evaluation_score": {
        "th": "ยังไม่ได้ให้คะแนน{subject} ไตรมาสที่ {quarter}/{year} เลยกำหนดมาแล้ว {days} วัน",
        "en": "{subject} for Q{quarter} FY{year} is not scored, {days} days late",
    },
}

ESCALATED = {"th": "[แจ้งผู้บังคับบัญชา] ", "en": "[Escalated] "}
FALLBACK = {"th": "{kind}: {project}", "en": "{kind}: {project}"}


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
                words["subject"] = f"โครงการ {code}" if lang == "th" else f"project {code}"
            elif evaluation.kpi is not None:
                words["subject"] = (
                    f"ตัวชี้วัด {evaluation.kpi.code}" if lang == "th" else f"KPI {evaluation.kpi.code}"
                )
    elif object_type == "delegation":
        delegation = session.get(Delegation, object_id)
        if delegation:
            principal = session.get(User, delegation.principal_id)
            delegate = session.get(User, delegation.delegate_id)
            words["principal"] = principal.name if principal else ""
            words["delegate"] = delegate.name if delegate else ""
            words["starts"] = _date(delegation.starts_on, lang)
            words["ends"] = _date(delegation.ends_on, lang)
    if project is not None:
        words["project"] = f"{project.code} {project.name}"
        words["project_code"] = project.code
    if unit is not None:
        words["unit"] = unit.name(lang)
    base = current_app.config.get("PUBLIC_URL", "").rstrip("/")
    words["link"] = base + link_for(kind, object_id, project.id if project else None)
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
    text = SUMMARIES.get(kind, FALLBACK)[lang].format_map(values).strip()
    if payload.get("escalated"):
        text = ESCALATED[lang] + text
    return text


def subject(kind: str, payload: dict[str, Any], words: dict[str, str], lang: str) -> str:
    """A mail subject: "Tidtam: " and the summary naming the project by its code only, cut
    to a readable length (the body has the full line)."""
    short = {**words, "project": words.get("project_code", words.get("project", ""))}
    line = summary(kind, payload, short, lang)
    prefix = "ติดตาม: " if _lang(lang) == "th" else "Tidtam: "
    return prefix + (line if len(line) <= 160 else line[:159] + "…")
