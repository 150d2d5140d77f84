"""day rollups

Revision ID: f18cf9c0be13
Revises: e229ba267a46
Create Date: 2026-11-29 12:17:57.795575
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'f18cf9c0be13'
down_revision = 'e229ba267a46'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('day_rollups',
    sa.Column('hall_id', sa.Integer(), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_day_rollups_hall_id_halls')),
    sa.PrimaryKeyConstraint('hall_id', 'business_day', name=op.f('pk_day_rollups'))
    )


def downgrade() -> None:
    op.drop_table('day_rollups')
