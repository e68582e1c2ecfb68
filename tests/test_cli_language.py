"""Click's own words on our command line (a mistyped option, a missing one, a wrong choice)
are in the language `--lang` names, else the deployment's: Thai unless told otherwise."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from flask import Flask

from service.core.terminal import CLICK_WORDS, click_plural_words
from service.core.translate import in_language

CLICK_SOURCE = "\n".join(p.read_text() for p in Path(click.__file__).parent.glob("*.py"))


@pytest.mark.parametrize(
    ("args", "thai", "english"),
    [
        (["admin", "create-user", "--bogus"], "ไม่มีตัวเลือก '--bogus'", "No such option"),
        (["admin", "--lang", "th", "create-user", "--as", "x"], "ขาดตัวเลือก", "Missing option"),
        (
            ["admin", "grant-role", "a@b", "nobody", "U1", "--as", "x"],
            "ไม่ใช่ค่าที่เลือกได้",
            "is not one of",
        ),
        (["audit", "verify", "--nope"], "ไม่มีตัวเลือก '--nope'", "No such option"),
        (["admin", "add-fiscal-year", "two", "--as", "x"], "ไม่ใช่ค่า", "is not a valid"),
    ],
)
def test_usage_errors_speak_the_deployments_language(
    app: Flask, args: list[str], thai: str, english: str
) -> None:
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 2, result.output
    assert "วิธีใช้:" in result.output and "ผิดพลาด:" in result.output
    assert thai in result.output and english not in result.output


def test_lang_en_keeps_clicks_english(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["admin", "--lang", "en", "create-user", "--x"])
    assert result.exit_code == 2
    assert "Usage:" in result.output and "No such option '--x'." in result.output


def test_the_words_are_clicks_own_and_all_have_thai(app: Flask) -> None:
    """A Click release that rewords a message fails here, not silently in English."""
    plural_calls = re.findall(r'ngettext\(\s*"([^"]+)",\s*"([^"]+)"', CLICK_SOURCE)
    for word in CLICK_WORDS:
        assert f'"{word._args[0]}"' in CLICK_SOURCE, word._args[0]
    with app.app_context(), in_language("en"):
        english = click_plural_words()
    for singular in english:
        assert any(singular == one for one, _ in plural_calls), singular
    with app.app_context(), in_language("th"):
        assert all(str(word) != word._args[0] for word in CLICK_WORDS)
        assert all(thai != one for thai, one in zip(click_plural_words(), english, strict=True))
