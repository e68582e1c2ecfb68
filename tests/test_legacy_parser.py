"""The legacy page parser: the real sample page, its HTML rendering, and one fixture per way
real pages vary (tests/data/legacy/variant-*, truncated-*, not-*)."""

from __future__ import annotations

import json
import re
import shutil
import time
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from service.legacy import ParsedPage, parse_html, parse_page, parse_path, parse_text
from service.legacy.parser import _BLOCK_TAGS, _SKIPPED_TAGS, SECTIONS, html_to_text

DATA = Path(__file__).parent / "data" / "legacy"
SAMPLE = DATA / "project-50230000-3598.txt"
SAMPLE_HTML = DATA / "project-50230000-3598.html"

JSON_KEYS = [
    "source",
    "status",
    "missing",
    "code",
    "name",
    "agency",
    "division",
    "fiscal_year",
    "progress",
    "evaluation",
    "contact",
    "unit_codes",
    "rationale",
    "objectives",
    "targets",
    "strategies",
    "steps",
    "reports",
    "kpis",
    "errors",
]


def load(name: str) -> ParsedPage:
    (page,) = parse_path(DATA / name)
    return page


def without_source(page: ParsedPage) -> dict[str, object]:
    data = page.to_json_dict()
    del data["source"]
    return data


def sample_rationale() -> str:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    return lines[lines.index("หลักการและเหตุผล") + 2]


def step(order: int, name: str, weight: str, start: str, end: str) -> dict[str, object]:
    return {"order": order, "name": name, "weight": weight, "start": start, "end": end}


def quarter(q: int, result: str | None, num: str | None, den: str | None) -> dict[str, object]:
    return {"quarter": q, "result": result, "numerator": num, "denominator": den}


SAMPLE_STEPS = [
    step(1, "ขออนุมัติเงินประจำงวด ,ขออนุมัติโครงการ", "20", "2022-10-01", "2022-10-01"),
    step(2, "จัดสรรงบประมาณให้โรงเรียนดำเนินการ", "20", "2022-11-01", "2022-11-01"),
    step(3, "โรงเรียนดำเนินการกำหนดแนวทางการดำเนินงานโครงการ", "20", "2022-12-01", "2022-12-01"),
    step(4, "ดำเนินโครงการ", "20", "2023-01-01", "2023-01-01"),
    step(5, "รายงานผลการดำเนินโครงการให้ผู้บริหารเขตทราบ", "20", "2023-06-01", "2023-06-01"),
]
SAMPLE_KPI_NAME = "ร้อยละของโครงการที่เป็นงานประจำของหน่วยงานดำเนินการสำเร็จตามเป้าหมาย"
ZERO_QUARTERS = [quarter(q, "0.00", "0", "0") for q in range(1, 5)]


# --------------------------------------------------------------------------------------------
# The real page


def test_sample_page_gives_exactly_the_values_on_the_page() -> None:
    page = parse_path(SAMPLE)
    data = next(page).to_json_dict()

    assert list(data) == JSON_KEYS
    assert data == {
        "source": str(SAMPLE),
        "status": "complete",
        # The legacy page carries no contact line; listed as absent, it does not block import.
        "missing": ["contact"],
        "code": "50230000-3598",
        "name": "ค่าใช้จ่ายในการพัฒนาคุณภาพเครือข่ายโรงเรียน",
        "agency": "สำนักงานเขตบางขุนเทียน",
        "division": "ฝ่ายการศึกษา",
        "fiscal_year": 2566,
        "progress": "20.00",
        "evaluation": {"quarter": 2, "score": "100"},
        "contact": {"names": [], "phones": []},
        "unit_codes": ["50230700", "50230700"],
        "rationale": sample_rationale(),
        "objectives": [
            {
                "number": "2.1",
                "text": "เพื่อส่งเสริมให้เครือข่ายโรงเรียนเกิดการพัฒนาคุณภาพร่วมกันเกี่ยวกับการแสดงผลงาน"
                "การคัดเลือกผู้นำทางวิชาการ และการประกวดหรือแข่งขันความสามารถ",
            },
            {
                "number": "2.2",
                "text": "เพื่อพัฒนาความรู้ความเข้าใจแนวทางในการพัฒนาคุณภาพของเครือข่ายโรงเรียน",
            },
        ],
        "targets": [
            {
                "kind": "quantity",
                "text": "เครือข่ายโรงเรียนในสังกัดสำนักงานเขตบางขุนเทียน จำนวน 2 เครือข่าย (71,72) "
                "มีผลงานนำเสนอต่อสาธารณชน",
            },
            {
                "kind": "quantity",
                "text": "เครือข่ายโรงเรียนได้รับงบประมาณในการพัฒนาคุณภาพในโรงเรียน เครือข่ายละ 90,000 บาท "
                "(เก้าหมื่นบาทถ้วน)",
            },
            {
                "kind": "quality",
                "text": "เครือข่ายโรงเรียนได้ร่วมกันจัดนิทรรศการแสดงผลงาน การคัดเลือก “ครูดีเด่น” "
                "ซึ่งเป็นผู้นำทางวิชาการ และการประกวดหรือแข่งขันความสามารถ",
            },
            {
                "kind": "quality",
                "text": "ผู้เข้าร่วมโครงการมีความรู้ความเข้าใจแนวทางพัฒนาคุณภาพในทิศทางเดียวกัน",
            },
        ],
        "strategies": [
            {"code": "7", "level": 1, "name": "การสร้างความเป็นมืออาชีพในการบริหารจัดการมหานคร"},
            {"code": "7.2", "level": 2, "name": "การบริหารแผนและประเมินผล"},
            {
                "code": "7.2.2",
                "level": 3,
                "name": "การพัฒนาระบบการบริหารแผนและการประเมินผลที่มีประสิทธิภาพ",
            },
            {
                "code": "7.2.2.2",
                "level": 4,
                "name": "การผลักดันผลการประเมินเพื่อเพิ่มประสิทธิภาพในการปฏิบัติงาน",
            },
        ],
        "steps": SAMPLE_STEPS,
        "reports": [
            {
                "number": 1,
                "date": "2022-12-30",
                "percent": "20.00",
                "narrative": "ได้รับอนุมัติเงินประจำงวดอยู่ระหว่างดำเนินโครงการ",
                "problems": "ไม่มี",
                "obstacles": "ไม่มี",
            }
        ],
        "kpis": [
            {
                "code": "5023-6525",
                "name": SAMPLE_KPI_NAME,
                "target": "100",
                "unit": "ร้อยละ",
                "achieved": None,
                "type": "routine",
                "level": "output",
                "quarters": ZERO_QUARTERS,
            }
        ],
        "errors": [],
    }
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data


def test_sample_rationale_is_the_whole_paragraph() -> None:
    rationale = load(SAMPLE.name).rationale

    assert rationale is not None
    assert rationale.startswith("พระราชบัญญัติการศึกษาแห่งชาติ พ.ศ. 2542 และที่แก้ไขเพิ่มเติม(ฉบับที่ 2)")
    assert "(สมศ.) และผลการประเมินโดยรวมอยู่ในระดับดี" in rationale
    assert rationale.endswith("และเป็นที่ยอมรับของผู้เกี่ยวข้องโดยทั่วไป")
    assert "\n" not in rationale and len(rationale) > 1500


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.iterdir()))
def test_every_fixture_keeps_the_status_promises(name: str) -> None:
    page = load(name)

    assert list(page.to_json_dict()) == JSON_KEYS
    assert set(page.missing) <= set(SECTIONS)
    assert page.importable == (page.status == "complete") == (page.errors == [])
    if page.status == "complete":
        assert page.steps and page.code and page.name and page.agency and page.fiscal_year
        assert "page_end" not in page.missing


# --------------------------------------------------------------------------------------------
# HTML


def test_html_rendering_gives_the_same_result_as_the_text_dump() -> None:
    html_page = load(SAMPLE_HTML.name)

    assert html_page.source == str(SAMPLE_HTML)
    assert without_source(html_page) == without_source(load(SAMPLE.name))


def test_parse_page_detects_html_and_text() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    html = SAMPLE_HTML.read_text(encoding="utf-8")

    assert parse_page(html).to_json_dict() == parse_html(html).to_json_dict()
    assert parse_page(text).to_json_dict() == parse_text(text).to_json_dict()
    assert parse_page(html, "x.html").to_json_dict() == parse_page(text, "x.html").to_json_dict()


def test_html_drops_scripts_styles_and_unescapes_entities() -> None:
    text = html_to_text(SAMPLE_HTML.read_text(encoding="utf-8"))

    assert "FusionCharts(" not in text and "font-family" not in text and "not text" not in text
    assert "&amp;" not in text and "&nbsp;" not in text and "&ldquo;" not in text
    assert "------------------&&&--------------------" in text
    assert "“ครูดีเด่น”" in text
    assert "ฝ่ายการศึกษา" in text  # written as &#x0E1D;&#3656;ายการศึกษา


class _ReferenceText(HTMLParser):
    """html.parser with the same tag rules, to check the fast tokenizer against."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self.skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self.skipping -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:  # HTML whitespace (not &nbsp;) collapses to one space
            self.parts.append(re.sub(r"[ \t\n\r\f]+", " ", data))


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("name", ["project-50230000-3598.html", "not-found.html"])
def test_html_tokenizer_agrees_with_html_parser(name: str) -> None:
    html = (DATA / name).read_text(encoding="utf-8")
    reference = _ReferenceText()
    reference.feed(html)
    reference.close()

    assert _lines(html_to_text(html)) == _lines("".join(reference.parts))


# --------------------------------------------------------------------------------------------
# Numbers of steps, reports and KPIs


def test_one_step() -> None:
    page = load("variant-steps-1.txt")

    assert page.status == "complete"
    assert page.to_json_dict()["steps"] == [
        step(1, "จัดซื้อวัสดุการศึกษาและส่งมอบให้โรงเรียน", "100", "2022-10-03", "2023-09-29")
    ]


def test_twelve_steps() -> None:
    page = load("variant-steps-12.txt")

    assert page.status == "complete", page.errors
    assert [s.order for s in page.steps] == list(range(1, 13))
    assert [s.weight for s in page.steps] == ["8"] * 10 + ["10", "10"]
    assert page.steps[0].start == "2022-10-01" and page.steps[11].end == "2023-09-28"
    assert page.steps[4].name == "จัดสรรงบประมาณให้เครือข่าย 71"
    assert page.steps[11].name == "รายงานผลการดำเนินโครงการให้ผู้บริหารเขตทราบ"


def test_three_reports_with_multi_line_narrative_and_empty_problems() -> None:
    page = load("variant-reports-3.txt")

    assert page.status == "complete", page.errors
    assert page.progress == "80.00"
    assert [(r.number, r.date, r.percent) for r in page.reports] == [
        (1, "2022-12-30", "20.00"),
        (2, "2023-03-31", "60.00"),
        (3, "2023-06-30", "80.00"),
    ]
    second, third = page.reports[1], page.reports[2]
    assert second.narrative == ("จัดสรรงบประมาณให้โรงเรียนแล้ว\nโรงเรียนกำหนดแนวทางการดำเนินงานเรียบร้อย")
    assert (second.problems, second.obstacles) == ("", "")
    assert (third.problems, third.obstacles) == (
        "โรงเรียนส่งเอกสารล่าช้า",
        "ฝนตกหนักช่วงจัดนิทรรศการ",
    )


def test_two_kpis_routine_and_strategic() -> None:
    page = load("variant-kpis-2.txt")

    assert page.status == "complete", page.errors
    routine, strategic = page.to_json_dict()["kpis"]
    assert routine == {
        "code": "5023-6525",
        "name": SAMPLE_KPI_NAME,
        "target": "100",
        "unit": "ร้อยละ",
        "achieved": None,
        "type": "routine",
        "level": "output",
        "quarters": ZERO_QUARTERS,
    }
    assert strategic == {
        "code": "1700-944",
        "name": "ระดับความสำเร็จของการพัฒนาคุณภาพเครือข่ายโรงเรียน",
        "target": "5",
        "unit": "ระดับ",
        "achieved": "3",
        "type": "strategic",
        "level": "outcome",
        "quarters": [
            quarter(1, "1.00", "1", "5"),
            quarter(2, "3.00", "3", "5"),
            quarter(3, "0.00", "0", "0"),
            quarter(4, "0.00", "0", "0"),
        ],
    }


def test_kpi_units_other_than_percent() -> None:
    page = load("variant-kpi-units.txt")

    assert page.status == "complete", page.errors
    assert [(k.code, k.unit, k.target, k.achieved, k.type, k.level) for k in page.kpis] == [
        ("5023-7001", "ระดับ", "5", None, "strategic", "outcome"),
        ("5023-7002", "ฉบับ", "2", "1", "routine", "output"),
        ("5023-7003", "ค่าเฉลี่ย", "3.51", "4.25", "strategic", "outcome"),
        ("502-3599", "ครบขั้นตอน", "5", "2", "routine", "output"),
    ]
    reports, average = page.to_json_dict()["kpis"][1:3]
    # Quarters 3 and 4 have empty result and fraction cells; the average KPI shows two quarters.
    assert reports["quarters"][2:] == [quarter(3, None, None, None), quarter(4, None, None, None)]
    assert average["quarters"] == [quarter(1, "0.00", "0", "0"), quarter(2, "4.25", "4.25", "5")]


# --------------------------------------------------------------------------------------------
# Values: numbers, dates, names, text normalisation


def test_numbers_keep_their_digits_without_thousands_separators() -> None:
    page = load("variant-numbers.txt")
    data = page.to_json_dict()

    assert page.status == "complete", page.errors
    assert data["progress"] == "22.50"
    assert data["evaluation"] == {"quarter": 2, "score": "87.5"}
    assert [s["weight"] for s in data["steps"]] == ["22.5", "27.5", "50"]
    assert data["steps"][1]["name"] == "จัดซื้อวัสดุ ราคา 1,407.52 บาท"  # text stays as written
    assert data["reports"][0]["percent"] == "22.50"
    (kpi,) = data["kpis"]
    assert (kpi["target"], kpi["achieved"]) == ("100.0000", "93.8347")
    assert kpi["quarters"] == [
        quarter(1, "22.5", "1407.52", "1500.00"),
        quarter(2, "93.8347", "1407.52", "1500"),
    ]


def test_buddhist_and_common_era_dates_on_one_page() -> None:
    page = load("variant-dates-mixed.txt")

    assert page.status == "complete", page.errors
    assert [(s.start, s.end) for s in page.steps] == [
        ("2022-10-01", "2022-10-01"),  # 01/10/2565 and 2022-10-01
        ("2022-11-01", "2022-11-30"),  # 2565-11-01 00:00:00 and 30/11/2022
        ("2022-12-01", "2022-12-31"),  # 1 ธ.ค. 2565 and 31 ธันวาคม 2565
        ("2023-01-01", "2023-05-31"),  # ISO and Thai digits ๓๑/๐๕/๒๕๖๖
        ("2023-06-01", None),  # ISO with T, and the legacy null date 0000-00-00 00:00:00
    ]
    assert [(r.number, r.date) for r in page.reports] == [(1, "2022-12-30"), (2, "2023-03-31")]


def test_an_impossible_date_makes_the_page_an_error() -> None:
    page = load("variant-bad-date.txt")

    assert page.status == "error"
    assert not page.importable
    assert "step 2: not a date: '2022-11-31 00:00:00'" in page.errors


def test_names_with_star_year_and_dash_are_kept_whole() -> None:
    page = load("variant-names-special.txt")

    assert page.status == "complete", page.errors
    assert page.code == "50230000-3611"
    assert page.name == "*โครงการพัฒนาคุณภาพเครือข่ายโรงเรียน (2563) - ระยะที่ 2 : ต่อเนื่อง*"
    assert page.agency == "สำนักงานเขตบางขุนเทียน - ฝ่ายการศึกษา"
    assert page.steps[3].name == "ดำเนินโครงการ - จัดนิทรรศการ * ครั้งที่ 1 (2563)"


def test_decomposed_vowels_and_zero_width_characters_read_like_the_clean_page() -> None:
    raw = (DATA / "variant-decomposed-zero-width.txt").read_text(encoding="utf-8")
    assert "\u0e4d\u0e32" in raw and "\u200b" in raw and "ำ" not in raw

    assert without_source(load("variant-decomposed-zero-width.txt")) == without_source(
        load(SAMPLE.name)
    )


def test_decomposed_sara_am_with_a_tone_mark_between() -> None:
    page = load("variant-decomposed-tone.txt")

    assert page.status == "complete", page.errors
    assert page.name == "ค่าใช้จ่ายโครงการน\u0e49\u0e33ดื่มสะอาดในโรงเรียน"  # น้ำ
    assert page.steps[3].name == "จัดหาเครื่องกรองน\u0e49\u0e33 ค\u0e48\u0e33นี้"  # น้ำ ค่ำนี้


# --------------------------------------------------------------------------------------------
# Contacts


@pytest.mark.parametrize(
    ("name", "names", "phones"),
    [
        ("variant-contact-one.txt", ["นางสาวสมศรี ใจดี"], ["024151234 ต่อ 1234"]),
        (
            "variant-contact-two.txt",
            ["นายสมชาย ดีมาก", "นางวิไล สุขใจ"],
            ["8812", "0812345678"],
        ),
        ("variant-contact-bare.txt", ["สมปอง"], ["024151234"]),
        (
            "variant-contact-shapes.txt",
            ["ว่าที่ร้อยตรีสมหมาย รักเรียน", "Ms. Jane Doe"],
            ["024151234 ext 12", "0812345678"],
        ),
    ],
)
def test_contact_line(name: str, names: list[str], phones: list[str]) -> None:
    page = load(name)

    assert page.status == "complete", page.errors
    assert page.to_json_dict()["contact"] == {"names": names, "phones": phones}
    assert "contact" not in page.missing
    assert page.division == "ฝ่ายการศึกษา"


# --------------------------------------------------------------------------------------------
# Missing sections, cut-off pages, pages that are not project pages


def test_absent_sections_are_listed_but_a_whole_page_is_complete() -> None:
    page = load("variant-sections-missing.txt")

    assert page.status == "complete", page.errors
    assert page.missing == ["evaluation", "contact", "kpis"]
    assert page.evaluation is None and page.kpis == []
    assert (page.reports[0].problems, page.reports[0].obstacles) == ("", "")


def test_a_page_without_steps_is_never_complete() -> None:
    page = load("variant-no-steps.txt")

    assert page.status == "incomplete"
    assert page.missing == ["contact", "steps"]
    assert "must not be imported" in page.errors[0]


def test_page_cut_off_in_the_plan() -> None:
    page = load("truncated-in-plan.txt")

    assert page.status == "incomplete"
    assert not page.importable
    assert page.missing == ["contact", "kpis", "page_end"]
    assert page.errors == [
        "page is cut off before its end marker (missing sections: contact, kpis, page_end); "
        "it must not be imported",
        "step 3: no weight, start, end",
    ]
    assert page.to_json_dict()["steps"] == [
        *SAMPLE_STEPS[:2],
        {"order": 3, "name": "โรงเรียนดำเนินการ", "weight": None, "start": None, "end": None},
    ]


def test_page_cut_off_before_the_plan() -> None:
    page = load("truncated-before-plan.txt")

    assert page.status == "incomplete"
    assert page.missing == ["contact", "steps", "kpis", "page_end"]
    assert page.steps == [] and "must not be imported" in page.errors[0]
    assert page.reports[0].narrative == "ได้รับ"


def test_no_prefix_of_the_sample_is_complete() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    end = text.index("(รายไตรมาส)") + len("(รายไตรมาส)")
    cuts = [*range(0, end, 13), *(i for i, c in enumerate(text[:end]) if c == "\n")]

    statuses = {parse_text(text[:cut]).status for cut in cuts}

    assert statuses <= {"incomplete", "error"}
    assert parse_text(text[:end]).status == "complete"


@pytest.mark.parametrize("name", ["not-a-project.txt", "not-found.html"])
def test_pages_that_are_not_project_pages(name: str) -> None:
    page = load(name)

    assert page.status == "error"
    assert page.errors == ["not a legacy project page: no 'name : project code' line"]
    assert page.code is None and page.steps == []


@pytest.mark.parametrize("content", ["", "\x00\x01garbage\ufffd", "<<<>>>&&&;", "ขั้นตอน 1\n:"])
def test_garbage_never_raises_and_is_never_complete(content: str) -> None:
    assert parse_page(content).status in ("error", "incomplete")


# --------------------------------------------------------------------------------------------
# Files, folders, archives


def test_parse_path_reads_folders_recursively_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "b" / "nested").mkdir(parents=True)
    shutil.copy(SAMPLE, tmp_path / "b" / "nested" / "page.txt")
    shutil.copy(SAMPLE_HTML, tmp_path / "a.HTML")
    shutil.copy(DATA / "variant-steps-1.txt", tmp_path / "b" / "one.txt")
    (tmp_path / "notes.md").write_text("not a page", encoding="utf-8")

    pages = list(parse_path(tmp_path))

    assert [p.source for p in pages] == [
        str(tmp_path / "a.HTML"),
        str(tmp_path / "b" / "nested" / "page.txt"),
        str(tmp_path / "b" / "one.txt"),
    ]
    assert [p.status for p in pages] == ["complete"] * 3


def test_parse_path_reads_zip_members_in_utf8_and_cp874(tmp_path: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    archive = tmp_path / "pages.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("2566/b-tis620.txt", text.encode("cp874"))
        zf.writestr("2566/a.html", SAMPLE_HTML.read_bytes())
        zf.writestr("readme.pdf", b"%PDF-1.4")
        zf.writestr("2566/", b"")

    pages = list(parse_path(archive))

    assert [p.source for p in pages] == [f"{archive}!2566/a.html", f"{archive}!2566/b-tis620.txt"]
    expected = without_source(load(SAMPLE.name))
    assert [without_source(p) for p in pages] == [expected, expected]


def test_undecodable_bytes_make_an_error_page(tmp_path: Path) -> None:
    broken = tmp_path / "broken.txt"
    broken.write_bytes(SAMPLE.read_bytes().replace(b"\n\n", b"\n\xdb\xfc\n", 1))

    (page,) = parse_path(broken)

    assert page.status == "error"
    assert page.errors[-1] == "bytes are neither UTF-8 nor cp874/TIS-620"


def test_parse_path_of_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(parse_path(tmp_path / "nope.txt"))


# --------------------------------------------------------------------------------------------
# Speed


def test_a_page_parses_well_under_five_milliseconds() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    html = SAMPLE_HTML.read_text(encoding="utf-8")
    runs = 50

    def best_mean(parse: object, content: str) -> float:
        assert callable(parse)
        means = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(runs):
                parse(content)
            means.append((time.perf_counter() - start) / runs)
        return min(means)

    assert best_mean(parse_text, text) < 0.005
    assert best_mean(parse_html, html) < 0.005
