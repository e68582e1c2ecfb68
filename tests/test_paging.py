"""Paging rows already read (lists filtered by a rule SQL cannot state, like /approvals)."""

from __future__ import annotations

from service.core.paging import PAGE_ROWS, page_number, paged_rows


def test_a_page_of_rows_read_already_holds_its_slice_and_the_total() -> None:
    rows = list(range(1, 121))
    second = paged_rows(rows, 2)
    assert second.rows == list(range(PAGE_ROWS + 1, 2 * PAGE_ROWS + 1))
    assert (second.total, second.page, second.pages) == (120, 2, 3)
    assert paged_rows(rows, 3).rows == list(range(2 * PAGE_ROWS + 1, 121))


def test_a_page_past_the_end_is_the_last_and_no_rows_is_one_empty_page() -> None:
    assert paged_rows(list(range(60)), 9).page == 2
    empty = paged_rows([], page_number("7"))
    assert (empty.rows, empty.total, empty.page, empty.pages) == ([], 0, 1, 1)
    assert page_number("x") == 1 and page_number("-3") == 1
