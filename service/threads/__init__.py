"""Conversations on the work itself: a thread of comments under every step result,
allocation, installment, evaluation and project."""
