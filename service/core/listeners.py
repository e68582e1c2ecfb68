"""Every SQLAlchemy listener Tidtam relies on, registered from this one place.

Each listener is written beside the operation that needs it and named after it; this module
only says which event runs it. `register_listeners` is called by the app factory (and so by
the worker, which builds the app) and by any script that opens sessions without the app;
calling it again changes nothing.

The engine-level listeners that make SQLite behave (foreign keys, WAL, BEGIN IMMEDIATE) are
attached to each engine as it is made, in `service.core.db.make_engine`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session


def listeners() -> list[tuple[Any, str, Callable[..., Any]]]:
    """(target, event name, listener) for every listener, in the order they are registered."""
    from service.api.auth import write_token_use
    from service.audit.chain import chain_audit_entries, note_unchained_entry
    from service.audit.models import AuditEntry
    from service.core import tasks
    from service.notifications.operations import relay_outbox_after_commit
    from service.org.scope import ROLE_SOURCES, forget_cached_roles, forget_cached_roles_of_writer
    from service.projects.due_on import copy_planned_end_to_results, hand_planned_end_to_results
    from service.projects.figures import (
        forget_pending_figures,
        keep_figures_current,
        settle_figures,
    )
    from service.projects.participants import record_participants_of_new_results
    from service.workflow.engine import forget_display_facts

    found: list[tuple[Any, str, Callable[..., Any]]] = [
        # enqueue_after_commit / nudge_after_commit: send once the transaction has committed,
        # forget on rollback.
        (Session, "after_commit", tasks.send_pending_tasks),
        (Session, "after_soft_rollback", tasks.drop_pending_tasks),
        (Session, "after_commit", tasks.release_nudges),
        (Session, "after_soft_rollback", tasks.drop_nudges),
        # A workflow transition (or any operation) that emits an outbox event kicks the relay.
        (Session, "before_flush", relay_outbox_after_commit),
        # A result carries its step's planned end (what the result lists sort on): a new
        # result takes it before it is written, a step's new end reaches its results in the
        # same flush.
        (Session, "before_flush", copy_planned_end_to_results),
        (Session, "after_flush", hand_planned_end_to_results),
        # Recording a step result records who takes part in the project (the scope index).
        (Session, "after_flush", record_participants_of_new_results),
        # A change to a step, result, budget, allocation or installment recomputes the
        # project's figures in its transaction (the lists read them): noted at each flush,
        # recomputed just before the commit, before the audit chain takes its lock.
        (Session, "after_flush", keep_figures_current),
        (Session, "after_transaction_end", forget_pending_figures),
        # The roles and scope read once per session are forgotten when they may have changed.
        (Session, "after_commit", forget_cached_roles),
        (Session, "after_soft_rollback", forget_cached_roles),
        # An API token's last use is stamped in the transaction its request commits.
        (Session, "before_commit", write_token_use),
        # Audit entries are chained (hash of the one before) just before their transaction
        # commits, under the chain head's row lock: the last lock the transaction takes.
        (AuditEntry, "after_insert", note_unchained_entry),
        (Session, "before_commit", settle_figures),
        (Session, "before_commit", chain_audit_entries),
    ]
    for model in ROLE_SOURCES:
        for name in ("after_insert", "after_update", "after_delete"):
            found.append((model, name, forget_cached_roles_of_writer))
    # The facts a page read in bulk for `options` never outlive a write or the transaction.
    for name in ("after_flush", "after_commit", "after_soft_rollback"):
        found.append((Session, name, forget_display_facts))
    return found


def register_listeners() -> None:
    """Register every listener once (idempotent)."""
    for target, name, listener in listeners():
        if not event.contains(target, name, listener):
            event.listen(target, name, listener)
