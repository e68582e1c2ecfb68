"""Sign-in tasks: the forgotten-password mail. Thin: the work is in service.auth.reset."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from service.auth.reset import send_reset_mail
from service.core.db import db
from service.core.queues import retry_countdown
from service.core.tasks import TaskName
from service.notifications.mail import DeliveryError

log = logging.getLogger("tidtam.workers")


@shared_task(name=TaskName.AUTH_PASSWORD_RESET_MAIL, bind=True, max_retries=3)
def password_reset_mail(self: Task, user_id: int) -> bool:
    """Mail a reset link to `user_id`; a refusing mail server is tried again a few times
    (the link is made at each try, so it is always fresh)."""
    try:
        return send_reset_mail(db.session(), user_id)
    except DeliveryError as error:
        log.warning("password reset mail to user %s not sent: %s", user_id, error)
        raise self.retry(countdown=retry_countdown(self.request.retries)) from error
    finally:
        db.session.remove()
