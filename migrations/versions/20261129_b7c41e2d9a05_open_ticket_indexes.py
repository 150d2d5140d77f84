"""indexes of the hot path: tickets sent to a window, a hall's waiting tickets, a queue's services

Without them, every call scanned all of the tickets ever issued for those sent to its window,
the hall's waiting counts read every past day of the hall, and the forecast read all of the
hall's services of the day for one queue's latest ones.

Revision ID: b7c41e2d9a05
Revises: a37388c69e84
Create Date: 2026-11-29 14:05:00
"""
from __future__ import annotations

from alembic import op


revision = 'b7c41e2d9a05'
down_revision = 'a37388c69e84'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_tickets_targeted', 'tickets', ['target_window_id', 'status', 'sort_key'])
    op.create_index('ix_tickets_hall_status', 'tickets', ['hall_id', 'status', 'queue_id'])
    op.create_index('ix_services_queue_day', 'services', ['queue_id', 'business_day', 'ended_at'])


def downgrade() -> None:
    op.drop_index('ix_services_queue_day', table_name='services')
    op.drop_index('ix_tickets_hall_status', table_name='tickets')
    op.drop_index('ix_tickets_targeted', table_name='tickets')
