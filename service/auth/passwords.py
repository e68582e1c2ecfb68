"""The password policy: long enough without padding (spaces repeated or at the ends do not
count), of enough different characters, not one of the commonest, not the person's own name or
e-mail. One function, `problems`, used by every door that sets a password (change, reset,
an admin's temporary password, account creation).

data/common-passwords.txt.gz holds the 10,000 commonest passwords of the list Django ships
(django/contrib/auth/common-passwords.txt.gz, compiled by Royce Williams from leaked
password sets; BSD and CC BY 3.0), one a line, lower case.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from functools import cache
from pathlib import Path

from flask import current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash

from service.core.translate import gettext as _

COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt.gz"
DEFAULT_MIN_LENGTH = 10
LONGEST = 200
#: The fewest different characters (spaces aside) a password is made of: "aaaaaaaaaa" and
#: "ababababab" are long enough and guessed at once.
FEWEST_DIFFERENT = 5


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def min_length() -> int:
    if has_app_context():
        return int(current_app.config.get("PASSWORD_MIN_LENGTH", DEFAULT_MIN_LENGTH))
    return DEFAULT_MIN_LENGTH


def _folded(text: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).casefold())


def problems(password: str, *, name: str = "", email: str = "") -> list[str]:
    """What is wrong with `password` for the person named `name` with `email`, in words a
    person can act on (empty when it is fine)."""
    found: list[str] = []
    shortest = min_length()
    if len(password) < shortest:
        found.append(_("a password needs at least %(count)s characters", count=shortest))
    elif len(" ".join(password.split())) < shortest:
        # Ten spaces and an "x" was taken: padding is no length. A passphrase's single spaces
        # between words count.
        found.append(
            _(
                "a password needs at least %(count)s characters besides spaces repeated or at"
                " its ends",
                count=shortest,
            )
        )
    if len({c for c in password if not c.isspace()}) < FEWEST_DIFFERENT:
        found.append(
            _(
                "a password needs at least %(count)s different characters besides spaces",
                count=FEWEST_DIFFERENT,
            )
        )
    if len(password) > LONGEST:
        found.append(_("at most %(count)s characters", count=LONGEST))
    if password.strip().lower() in common_passwords():
        found.append(_("this password is one of the most common ones; choose another"))
    folded = _folded(password)
    own = [_folded(email), _folded(email.split("@")[0]), *(_folded(part) for part in name.split())]
    # Words of three letters or more: "a" in any password is no leak of one's name.
    if folded and any(len(word) >= 3 and (word in folded or folded in word) for word in own):
        found.append(_("a password must not contain your name or e-mail"))
    return found


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def password_matches(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)
