"""Celery workers. This package imports `service`; `service` knows tasks only by name."""
