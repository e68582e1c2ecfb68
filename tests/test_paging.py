"""The page number read from a query string."""

from __future__ import annotations

from service.core.paging import page_number


def test_a_page_number_that_is_not_one_is_the_first() -> None:
    assert page_number("x") == 1 and page_number("-3") == 1
    assert page_number("7") == 7
