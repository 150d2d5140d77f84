"""day rollup parts: the report sums of each closed day per grouping (days closed before keep being
read from their tickets by the reports)

Revision ID: a37388c69e84
Revises: f18cf9c0be13
Create Date: 2026-11-29 13:48:13.525145
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'a37388c69e84'
down_revision = 'f18cf9c0be13'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('day_rollup_parts',
    sa.Column('hall_id', sa.Integer(), nullable=False),
    sa.Column('dim', sa.String(length=8), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('ref', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('target_wait_s', sa.Integer(), nullable=False),
    sa.Column('issued', sa.Integer(), nullable=False),
    sa.Column('no_show', sa.Integer(), nullable=False),
    sa.Column('served', sa.Integer(), nullable=False),
    sa.Column('services', sa.Integer(), nullable=False),
    sa.Column('extended', sa.Integer(), nullable=False),
    sa.Column('waits', sa.Integer(), nullable=False),
    sa.Column('wait_ms', sa.BigInteger(), nullable=False),
    sa.Column('max_wait_ms', sa.BigInteger(), nullable=False),
    sa.Column('within', sa.Integer(), nullable=False),
    sa.Column('durations', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.BigInteger(), nullable=False),
    sa.Column('busy_ms', sa.BigInteger(), nullable=False),
    sa.Column('open_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_day_rollup_parts_hall_id_halls')),
    sa.PrimaryKeyConstraint('hall_id', 'dim', 'business_day', 'ref', name=op.f('pk_day_rollup_parts'))
    )


def downgrade() -> None:
    op.drop_table('day_rollup_parts')
