"""What the notifications' words are called: channels, delivery modes and states, kinds of
reminder (whose rules are rows of this domain's models), the objects and the actions on them,
and the inputs of their forms."""

from __future__ import annotations

import enum

from flask_babel.speaklater import LazyString

from service.core.translate import lazy_gettext as _l
from service.notifications.models import Channel, DeliveryMode, DeliveryState, ReminderKind

REMINDER_KINDS: dict[str, LazyString] = {
    ReminderKind.STEP_DUE.value: _l("Step due soon"),
    ReminderKind.STEP_OVERDUE.value: _l("Step overdue"),
    ReminderKind.REVIEW_WAITING.value: _l("Result waiting for review"),
    ReminderKind.INSTALLMENT_WAITING.value: _l("Installment waiting for approval"),
    ReminderKind.REPORT_MISSING.value: _l("Monthly report missing"),
    ReminderKind.EVALUATION_SELF.value: _l("Self-assessment overdue"),
    ReminderKind.EVALUATION_SCORE.value: _l("Scoring overdue"),
}

LABELS: dict[type[enum.Enum], dict[str, LazyString]] = {
    ReminderKind: REMINDER_KINDS,
    Channel: {
        Channel.IN_APP.value: _l("In Tidtam"),
        Channel.EMAIL.value: _l("Email"),
        Channel.WEBHOOK.value: _l("Webhook"),
        Channel.LINE.value: _l("LINE"),
    },
    DeliveryMode: {
        DeliveryMode.IMMEDIATE.value: _l("Immediately"),
        DeliveryMode.DIGEST.value: _l("Daily digest"),
        DeliveryMode.OFF.value: _l("Off"),
    },
    DeliveryState: {
        DeliveryState.PENDING.value: _l("waiting"),
        DeliveryState.SENDING.value: _l("sending"),
        DeliveryState.SENT.value: _l("sent"),
        DeliveryState.FAILED.value: _l("failed"),
        DeliveryState.DIGEST.value: _l("held for the digest"),
    },
}

OBJECT_TYPES: dict[str, LazyString] = {
    "notification": _l("Notification"),
    "reminder_rule": _l("Reminder rule"),
    "webhook_endpoint": _l("Webhook"),
    "line_group": _l("LINE group"),
}

ACTIONS: dict[str, LazyString] = {
    # a reminder's notification kind is "deadline.<kind>", named as its kind
    **{f"deadline.{kind}": name for kind, name in REMINDER_KINDS.items()},
    "reminder_rule.create": _l("Reminder rule added"),
    "reminder_rule.activate": _l("Reminder rule switched on or off"),
    "webhook.create": _l("Webhook added"),
    "webhook.update": _l("Webhook changed"),
    "webhook.rotate_secret": _l("Webhook secret rotated"),
    "webhook.withdraw": _l("Webhook withdrawn"),
    "webhook.test": _l("Webhook test"),
    "notification.retry": _l("Notification retried"),
    "notification.retry_all": _l("Failed notifications retried"),
    "line_account.link": _l("LINE account linked"),
    "line_account.unlink": _l("LINE account unlinked"),
    "line_group.join": _l("Bot joined a LINE group"),
    "line_group.leave": _l("Bot left a LINE group"),
    "line_group.link": _l("LINE group linked"),
    "line_group.unlink": _l("LINE group unlinked"),
}

FIELDS: dict[str, LazyString] = {
    "channel": _l("Channel"),
    "kinds": _l("Kinds"),
    "url": _l("Address"),
    "offset_days": _l("Days from the anchor (negative: before)"),
    "repeat_days": _l("Repeat every (days)"),
    "escalate_after_days": _l("Escalate after (days)"),
}
