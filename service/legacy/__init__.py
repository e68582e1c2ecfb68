"""Reading pages of the legacy annual-plan monitoring site (no database access)."""

from service.legacy.parser import (
    SECTIONS,
    Contact,
    Evaluation,
    Kpi,
    KpiQuarter,
    Objective,
    ParsedPage,
    Report,
    Step,
    Strategy,
    Target,
    html_to_text,
    parse_html,
    parse_page,
    parse_path,
    parse_text,
)

__all__ = [
    "SECTIONS",
    "Contact",
    "Evaluation",
    "Kpi",
    "KpiQuarter",
    "Objective",
    "ParsedPage",
    "Report",
    "Step",
    "Strategy",
    "Target",
    "html_to_text",
    "parse_html",
    "parse_page",
    "parse_path",
    "parse_text",
]
