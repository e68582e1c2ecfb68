"""How tests/data/office-plan-2567.xlsx was made, kept so it can be made again.

Honestly: not in Excel or LibreOffice (neither is on the machine it was made on), but with
XlsxWriter 3.3.1, a writer independent of openpyxl (which our template and tests/plan_files.py
use, and which reads the file). XlsxWriter writes the parts the way Excel does: shared strings,
a styles part with number formats, merged ranges. Into it went what an office's hand-filled
plan has and our writer never makes: a title row merged across the projects sheet, a two-row
header on the steps sheet with "วันเริ่ม / วันสิ้นสุด" under a merged "ระยะเวลาดำเนินงาน", the project
code merged down its steps, Thai digits, Buddhist Era dates typed as text, one real date cell
shown in the Thai calendar, codes and money stored as text, stray spaces, an empty row of
spaces, a steps sheet named "ขั้นตอน " (a trailing space, as when Sheet2 is renamed by hand) and a
notes sheet the import must ignore.

XlsxWriter is not a dependency of the project; to run this:
    python3 -m venv /tmp/xw && /tmp/xw/bin/pip install xlsxwriter==3.3.1
    /tmp/xw/bin/python tests/data/make_office_plan.py
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import xlsxwriter  # type: ignore[import-not-found, unused-ignore]

OUT = Path(__file__).with_name("office-plan-2567.xlsx")


def main() -> None:
    book = xlsxwriter.Workbook(str(OUT))
    book.set_properties({"title": "แผนปฏิบัติการ ๒๕๖๗", "author": "งานแผน", "company": "สพป."})
    title = book.add_format({"bold": True, "align": "center", "font_size": 14})
    header = book.add_format(
        {"bold": True, "align": "center", "valign": "vcenter", "text_wrap": True, "border": 1}
    )
    money = book.add_format({"num_format": "#,##0.00"})
    thai_day = book.add_format({"num_format": "[$-th-TH,107]d/m/bbbb;@"})
    merged_code = book.add_format({"valign": "top"})

    projects = book.add_worksheet("โครงการ")
    projects.merge_range("A1:I1", "แผนปฏิบัติการประจำปีงบประมาณ พ.ศ. ๒๕๖๗ (ตัวอย่างของสำนักงาน)", title)
    for column, text in enumerate(
        (
            "รหัสโครงการ",
            "ชื่อโครงการ",
            "ปีงบประมาณ (พ.ศ.)",
            "รหัสหน่วยงานเจ้าของ",
            "รหัสหน่วยงานรับผิดชอบ",
            "ประเภทโครงการ",
            "งบประมาณ (บาท)",
            "หลักการและเหตุผล",
            "รหัสยุทธศาสตร์ (คั่นด้วย ,)",
        )
    ):
        projects.write_string(1, column, text, header)
    first = [
        "  50230000-8901",
        "โครงการส่งเสริมการอ่าน  ",
        "๒๕๖๗",
        "50230000",
        " 50230700",
        "งานประจำ",
        "๑๒๐,๐๐๐.๐๐",
        "เพื่อให้นักเรียน\u00a0อ่านคล่อง",
        "7.2 ,7.2.2",
    ]
    for column, value in enumerate(first):
        projects.write_string(2, column, value)
    projects.write_string(3, 0, "50230000-8902")
    projects.write_string(3, 1, "โครงการกีฬาสัมพันธ์")
    projects.write_number(3, 2, 2567)
    projects.write_number(3, 3, 50230000)
    projects.write_string(3, 4, "50230700")
    projects.write_string(3, 5, "ยุทธศาสตร์")
    projects.write_number(3, 6, 35000, money)
    projects.write_string(4, 0, "   ")  # a row of spaces left at the end
    projects.set_column("A:I", 18)

    steps = book.add_worksheet("ขั้นตอน ")
    for cells, text in (
        ("A1:A2", "รหัสโครงการ"),
        ("B1:B2", "ลำดับ"),
        ("C1:C2", "ขั้นตอนการดำเนินงาน"),
        ("D1:D2", "น้ำหนัก (ร้อยละ)"),
        ("E1:F1", "ระยะเวลาดำเนินงาน"),
        ("G1:G2", "รหัสหน่วยงานผู้รับผิดชอบ"),
    ):
        steps.merge_range(cells, text, header)
    steps.write_string(1, 4, "วันเริ่ม", header)
    steps.write_string(1, 5, "วันสิ้นสุด", header)
    steps.merge_range("A3:A5", "50230000-8901", merged_code)
    steps.write_number(2, 1, 1)
    steps.write_string(2, 2, "ขออนุมัติโครงการ")
    steps.write_string(2, 3, "๓๐")
    steps.write_string(2, 4, "1 ต.ค. 2566")
    steps.write_string(2, 5, "31 ต.ค. 2566")
    steps.write_number(3, 1, 2)
    steps.write_string(3, 2, "จัดซื้อหนังสือ")
    steps.write_number(3, 3, 30)
    steps.write_datetime(3, 4, datetime(2023, 11, 1), thai_day)  # shown as 1/11/2566
    steps.write_string(3, 5, "๓๑/๑๒/๒๕๖๖")
    steps.write_string(4, 1, "๓")
    steps.write_string(4, 2, "กิจกรรมรักการอ่าน ")
    steps.write_string(4, 3, "40")
    steps.write_string(4, 4, "1/1/2567")
    steps.write_string(4, 5, "30 ก.ย. 2567")
    steps.write_string(4, 6, "5023077101")
    steps.write_string(5, 0, "50230000-8902 ")
    steps.write_string(5, 1, "1")
    steps.write_string(5, 2, "แข่งขันกีฬา")
    steps.write_string(5, 3, "100")
    steps.write_string(5, 4, "๑/๑๒/๒๕๖๖")
    steps.write_string(5, 5, "๒๕/๑๒/๒๕๖๖")
    steps.set_column("A:G", 16)

    texts = book.add_worksheet("วัตถุประสงค์-เป้าหมาย-ตัวชี้วัด")
    for column, text in enumerate(("รหัสโครงการ", "ชนิด", "ข้อความ หรือ รหัสตัวชี้วัด")):
        texts.write_string(0, column, text, header)
    for row, values in enumerate(
        (
            ("50230000-8901", "วัตถุประสงค์", "เพื่อให้นักเรียนอ่านคล่อง"),
            ("50230000-8901", "เป้าหมายเชิงปริมาณ", "นักเรียน ๑๒๐ คน"),
            ("50230000-8901", "ตัวชี้วัด", " 5023-6525 "),
        ),
        start=1,
    ):
        for column, value in enumerate(values):
            texts.write_string(row, column, value)

    notes = book.add_worksheet("หมายเหตุ")
    notes.write_string(0, 0, "ตรวจทานโดยงานแผน ๒๐ ก.ย. ๒๕๖๖")
    book.close()


if __name__ == "__main__":
    main()
