"""The message catalogs: the Thai ``.po`` is kept in git, its ``.mo`` is built from it.

``python -m service.core.i18n`` compiles every ``messages.po`` under the translations folder
whose ``.mo`` is missing or older. The Makefile runs it before anything serves or tests, so a
clean clone never runs without Thai. The app factory does not: it has no side effects, and the
package folder may be read-only where the app is deployed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
DOMAIN = "messages"


def stale_catalogs(root: Path = TRANSLATIONS) -> list[Path]:
    """The ``.po`` files under `root` whose ``.mo`` is missing or older than them."""
    stale = []
    for po in sorted(root.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            stale.append(po)
    return stale


def compile_catalogs(root: Path = TRANSLATIONS) -> list[Path]:
    """Compile each stale ``.po`` under `root` to its ``.mo``; return the ``.mo`` files written.

    Fuzzy entries are left out, as ``pybabel compile`` does. Writes through a temporary file
    and renames it, so a server reading the catalog never sees half a file. Raises whatever
    Babel raises for a malformed ``.po``.
    """
    written = []
    for po in stale_catalogs(root):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name, domain=DOMAIN)
        mo = po.with_suffix(".mo")
        partial = mo.with_suffix(".mo.tmp")
        with partial.open("wb") as target:
            write_mo(target, catalog, use_fuzzy=False)
        partial.replace(mo)
        written.append(mo)
    return written


if __name__ == "__main__":
    for path in compile_catalogs():
        print(
            f"compiled {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}"
        )
    sys.exit(0)
