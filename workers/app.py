"""The one worker entry module: `celery -A workers.app worker` / `beat`."""

from __future__ import annotations

from celery import Celery

from service import create_app
from workers.schedule import BEAT_SCHEDULE

flask_app = create_app()
celery_app: Celery = flask_app.extensions["celery"]
celery_app.conf.beat_schedule = BEAT_SCHEDULE
celery_app.autodiscover_tasks(["workers"], related_name="tasks", force=True)
app = celery_app
