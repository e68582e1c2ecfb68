"""What a notification says comes from the catalog: every SUMMARIES entry is a lazy gettext
string with a Thai translation that fills in the same words, rendered in the language asked
for (the recipient's), in a request or in a worker (no request at all)."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from service.core.translate import in_language
from service.notifications.messages import ESCALATED, FALLBACK, SUMMARIES, summary

_THAI = re.compile("[\u0e00-\u0e7f]")
_SLOT = re.compile(r"%\((\w+)\)s")


@pytest.mark.parametrize("kind", sorted(SUMMARIES))
def test_every_summary_has_a_thai_translation(app: Flask, kind: str) -> None:
    with app.app_context():
        with in_language("en"):
            english = str(SUMMARIES[kind])
        with in_language("th"):
            thai = str(SUMMARIES[kind])
    assert thai != english and _THAI.search(thai), f"{kind}: no Thai for {english!r}"
    assert set(_SLOT.findall(thai)) == set(_SLOT.findall(english)), kind


def test_the_frame_words_are_translated_too(app: Flask) -> None:
    with app.app_context(), in_language("th"):
        assert str(ESCALATED).startswith("[แจ้งผู้บังคับบัญชา]")
        assert set(_SLOT.findall(str(FALLBACK))) == {"kind", "project"}


def test_a_summary_is_in_the_language_asked_for_outside_any_request(app: Flask) -> None:
    words = {"project": "50230000-3598 โครงการหนึ่ง", "unit": "โรงเรียนวัดหัวกระบือ"}
    payload = {"amount": "90000", "escalated": True}
    with app.app_context():
        thai = summary("installment.approve", payload, words, "th")
        english = summary("installment.approve", payload, words, "en")
        missing = summary("step_result.return", {}, {}, "th")
    assert thai == (
        "[แจ้งผู้บังคับบัญชา] เงินประจำงวด 90,000.00 บาท ของโรงเรียนวัดหัวกระบือ "
        "โครงการ 50230000-3598 โครงการหนึ่ง ได้รับอนุมัติแล้ว"
    )
    assert english == (
        "[Escalated] The installment of 90,000.00 baht for โรงเรียนวัดหัวกระบือ in project "
        "50230000-3598 โครงการหนึ่ง was approved"
    )
    assert "“–”" in missing  # a word the object could not give is a dash, not an error


def test_a_reason_is_said_as_the_reason(app: Flask) -> None:
    """A return's reason ran on into the sentence ("…ถูกส่งกลับให้แก้ไข ไฟล์รูปไม่ชัด"): it is
    now named as the reason, in the summary's language; none given, nothing is added."""
    words = {"project": "50230000-3598", "step": "อบรมครู"}
    with app.app_context():
        thai = summary("step_result.return", {"reason": "ไฟล์รูปไม่ชัด"}, words, "th")
        english = summary("step_result.return", {"reason": "blurred photo"}, words, "en")
        none = summary("step_result.return", {"reason": ""}, words, "th")
    assert thai.endswith("ถูกส่งกลับให้แก้ไข เหตุผล: ไฟล์รูปไม่ชัด"), thai
    assert english.endswith("Reason: blurred photo"), english
    assert none.endswith("ถูกส่งกลับให้แก้ไข"), none
