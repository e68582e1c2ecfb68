"""Make docs/screenshots/line-message-360.png: a returned step result of the demo, pushed to
LINE by the dispatch path (line-bot-sdk) to the local stand-in for api.line.me, and the text
that stand-in received drawn as a chat bubble at 360 px in Chromium.

    .venv/bin/python docs/screenshots/line_message.py
"""

from __future__ import annotations

import html
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402

from service.audit.operations import emit  # noqa: E402
from service.core.db import db, utcnow  # noqa: E402
from service.notifications.dispatch import deliver  # noqa: E402
from service.notifications.models import Channel, LineAccount, LineGroup, Notification  # noqa: E402
from service.notifications.operations import DeliverySettings, relay_outbox  # noqa: E402
from service.org.models import OrgUnit, User  # noqa: E402
from tests.line_sink import line_sink  # noqa: E402
from tests.stack import committed_stack  # noqa: E402
from tests.work_data import school_result  # noqa: E402

OUT = ROOT / "docs" / "screenshots" / "line-message-360.png"
FONT = (ROOT / "static" / "fonts" / "NotoSansThai-Regular.woff2").as_uri()


def page(person: str, group: str) -> str:
    def bubble(title: str, text: str) -> str:
        lines = html.escape(text).replace("\n", "<br>")
        return f'<h2>{html.escape(title)}</h2><div class="row"><div class="avatar">ต</div><div class="bubble">{lines}</div></div>'  # noqa: E501

    return f"""<!doctype html><html lang="th"><meta charset="utf-8"><style>
@font-face {{ font-family: "Noto Sans Thai"; src: url("{FONT}") format("woff2"); }}
body {{ margin:0; font-family:"Noto Sans Thai",sans-serif; background:#8cabd9; }}
header {{ background:#06c755; color:#fff; padding:12px 16px; font-weight:bold; }}
h2 {{ font-size:12px; color:#fff; margin:14px 12px 4px; font-weight:normal; }}
.row {{ display:flex; gap:8px; padding:0 12px; align-items:flex-start; }}
.avatar {{ flex:none; width:36px; height:36px; border-radius:50%; background:#0b5c8a; color:#fff;
  display:flex; align-items:center; justify-content:center; }}
.bubble {{ background:#fff; border-radius:16px; padding:10px 12px; font-size:14px; line-height:1.6;
  overflow-wrap:anywhere; max-width:270px; }}
</style><header>ติดตาม (Tidtam) · LINE</header>
{bubble("ข้อความถึงบุคคล (ครูสมศรี ใจดี)", person)}
{bubble("ข้อความในกลุ่มไลน์ของโรงเรียน (หนึ่งข้อความต่อเหตุการณ์)", group)}
</html>"""


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        line_sink() as sink,
        committed_stack(Path(tmp), "shot", MAIL_PORT="9", **sink.env()) as stack,
        stack.app.app_context(),
    ):
        session = db.session()
        school = session.scalars(select(User).where(User.email == "school@demo.tidtam.local")).one()
        unit = session.scalars(select(OrgUnit).where(OrgUnit.code == "5023077101")).one()
        session.add(LineAccount(user_id=school.id, line_user_id="U" + "a" * 32, linked_at=utcnow()))
        session.add(LineGroup(group_id="C" + "b" * 32, unit_id=unit.id, linked_at=utcnow()))
        emit(
            session,
            kind="step_result.return",
            object_type="step_result",
            object_id=school_result(session).id,
            payload={"to": "returned", "reason": "แนบภาพถ่ายกิจกรรมไม่ครบ กรุณาแนบเพิ่ม"},
        )
        session.flush()
        relay_outbox(session, now=utcnow(), requeue_after=timedelta(minutes=10))
        session.commit()
        ids = list(
            session.scalars(select(Notification.id).where(Notification.channel == Channel.LINE))
        )
        deliver(session, ids, settings=DeliverySettings(), held_until=utcnow())
        person = sink.texts_to("U" + "a" * 32)[0]
        group = sink.texts_to("C" + "b" * 32)[0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
        )
        tab = browser.new_page(viewport={"width": 360, "height": 640})
        tab.set_content(page(person, group))
        tab.wait_for_timeout(300)
        tab.screenshot(path=str(OUT), full_page=True)
        browser.close()
    print(OUT)
    print(person)


if __name__ == "__main__":
    main()
