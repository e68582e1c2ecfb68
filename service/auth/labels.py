"""What signing in's words are called: sessions and API tokens, the actions on an account's
sign-in and the inputs of their forms."""

from __future__ import annotations

from flask_babel.speaklater import LazyString

from service.core.translate import lazy_gettext as _l

OBJECT_TYPES: dict[str, LazyString] = {
    "api_token": _l("API token"),
    "user_session": _l("Sign-in session"),
}

ACTIONS: dict[str, LazyString] = {
    "token.create": _l("API token created"),
    "token.revoke": _l("API token revoked"),
    "api_token.create": _l("API token created"),
    "api_token.revoke": _l("API token revoked"),
    "user.sign_in": _l("Signed in"),
    "user.sign_in_failed": _l("Sign-in failed"),
    "user.sign_out": _l("Signed out"),
    "user.session_end": _l("Session ended"),
    "user.sessions_end": _l("All sessions ended"),
    "user.password_change": _l("Password changed"),
    "user.password_reset": _l("Password reset by e-mail link"),
    "user.password_reset_request": _l("Password reset link asked for"),
    "user.password_set": _l("Temporary password set by an admin"),
    "user.totp_enrol": _l("Authenticator app enrolled"),
    "user.totp_remove": _l("Authenticator app removed"),
    "user.totp_reset": _l("Second factor reset by an admin"),
    "user.recovery_code_use": _l("Recovery code used"),
    "user.sso_link": _l("Linked to single sign-on"),
}

FIELDS: dict[str, LazyString] = {
    "user_id": _l("User"),
    "password": _l("Password"),
    "current_password": _l("Current password"),
    "new_password": _l("New password"),
}
