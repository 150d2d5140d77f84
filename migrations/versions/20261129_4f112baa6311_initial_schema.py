"""initial schema

Revision ID: 4f112baa6311
Revises: 
Create Date: 2026-11-29 10:20:38.443484
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '4f112baa6311'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('halls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('event_seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_halls')),
    sa.UniqueConstraint('code', name=op.f('uq_halls_code'))
    )
    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hall_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_departments_hall_id_halls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('hall_id', 'code', name=op.f('uq_departments_hall_id_code'))
    )
    op.create_table('queues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hall_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=2), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('open', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_queues_hall_id_halls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queues')),
    sa.UniqueConstraint('hall_id', 'prefix', name=op.f('uq_queues_hall_id_prefix'))
    )
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_queues_hall_id'), ['hall_id'], unique=False)

    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hall_id', sa.Integer(), nullable=False),
    sa.Column('login', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_staff_hall_id_halls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('hall_id', 'login', name=op.f('uq_staff_hall_id_login'))
    )
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_hall_id'), ['hall_id'], unique=False)

    op.create_table('queue_counters',
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_queue_counters_queue_id_queues')),
    sa.PrimaryKeyConstraint('queue_id', 'business_day', name=op.f('pk_queue_counters'))
    )
    op.create_table('windows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hall_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('state', sa.Enum('closed', 'idle', 'serving', 'paused', name='windowstate', native_enum=False, length=16), nullable=False),
    sa.Column('pause_reason', sa.String(length=100), nullable=True),
    sa.Column('state_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_windows_hall_id_halls')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_windows_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_windows')),
    sa.UniqueConstraint('hall_id', 'number', name=op.f('uq_windows_hall_id_number'))
    )
    with op.batch_alter_table('windows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_windows_hall_id'), ['hall_id'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hall_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.Enum('kiosk', 'clerk', 'screen', 'pad', 'manager', 'admin', name='role', native_enum=False, length=16), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_api_tokens_hall_id_halls')),
    sa.ForeignKeyConstraint(['window_id'], ['windows.id'], name=op.f('fk_api_tokens_window_id_windows')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_table('tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hall_id', sa.Integer(), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('origin_queue_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=8), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('target_window_id', sa.Integer(), nullable=True),
    sa.Column('priority', sa.Enum('none', 'elderly', 'disabled', 'veteran', 'pregnant', 'appointment', 'enterprise', name='priority', native_enum=False, length=16), nullable=False),
    sa.Column('status', sa.Enum('waiting', 'called', 'serving', 'done', 'no_show', 'cancelled', name='ticketstatus', native_enum=False, length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sort_key', sa.Float(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=True),
    sa.Column('called_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sa.String(length=100), nullable=True),
    sa.Column('route', sa.JSON(), nullable=False),
    sa.Column('bundle', sa.String(length=32), nullable=True),
    sa.Column('matters', sa.JSON(), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('phone_hash', sa.String(length=64), nullable=True),
    sa.Column('phone_masked', sa.String(length=20), nullable=True),
    sa.Column('id_hash', sa.String(length=64), nullable=True),
    sa.Column('id_masked', sa.String(length=24), nullable=True),
    sa.Column('kiosk', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_tickets_hall_id_halls')),
    sa.ForeignKeyConstraint(['origin_queue_id'], ['queues.id'], name=op.f('fk_tickets_origin_queue_id_queues')),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_tickets_queue_id_queues')),
    sa.ForeignKeyConstraint(['target_window_id'], ['windows.id'], name=op.f('fk_tickets_target_window_id_windows')),
    sa.ForeignKeyConstraint(['window_id'], ['windows.id'], name=op.f('fk_tickets_window_id_windows')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('origin_queue_id', 'business_day', 'seq', name=op.f('uq_tickets_origin_queue_id_business_day_seq'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_hall_day', ['hall_id', 'business_day'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_id_hash'), ['id_hash'], unique=False)
        batch_op.create_index('ix_tickets_waiting', ['queue_id', 'status', 'sort_key'], unique=False)

    op.create_table('window_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hall_id', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=100), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_window_events_hall_id_halls')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_window_events_staff_id_staff')),
    sa.ForeignKeyConstraint(['window_id'], ['windows.id'], name=op.f('fk_window_events_window_id_windows')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_window_events'))
    )
    with op.batch_alter_table('window_events', schema=None) as batch_op:
        batch_op.create_index('ix_window_events_hall_at', ['hall_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_window_events_window_id'), ['window_id'], unique=False)

    op.create_table('window_queues',
    sa.Column('window_id', sa.Integer(), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_window_queues_queue_id_queues')),
    sa.ForeignKeyConstraint(['window_id'], ['windows.id'], name=op.f('fk_window_queues_window_id_windows')),
    sa.PrimaryKeyConstraint('window_id', 'queue_id', name=op.f('pk_window_queues'))
    )
    op.create_table('services',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hall_id', sa.Integer(), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('called_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_called_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recalls', sa.Integer(), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('matters', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_services_hall_id_halls')),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_services_queue_id_queues')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_services_staff_id_staff')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_services_ticket_id_tickets')),
    sa.ForeignKeyConstraint(['window_id'], ['windows.id'], name=op.f('fk_services_window_id_windows')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_services'))
    )
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.create_index('ix_services_hall_day', ['hall_id', 'business_day'], unique=False)
        batch_op.create_index(batch_op.f('ix_services_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hall_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('comment', sa.String(length=500), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('defaulted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_ratings_hall_id_halls')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_ratings_service_id_services')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ratings_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ratings')),
    sa.UniqueConstraint('service_id', name=op.f('uq_ratings_service_id'))
    )
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ratings_business_day'), ['business_day'], unique=False)
        batch_op.create_index(batch_op.f('ix_ratings_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('ticket_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hall_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=True),
    sa.Column('window_id', sa.Integer(), nullable=True),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_ticket_events_hall_id_halls')),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_ticket_events_queue_id_queues')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_ticket_events_service_id_services')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_events_ticket_id_tickets')),
    sa.ForeignKeyConstraint(['window_id'], ['windows.id'], name=op.f('fk_ticket_events_window_id_windows')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_events'))
    )
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_events_hall_at', ['hall_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_events_ticket_id'), ['ticket_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_events_ticket_id'))
        batch_op.drop_index('ix_ticket_events_hall_at')

    op.drop_table('ticket_events')
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ratings_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_ratings_business_day'))

    op.drop_table('ratings')
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_services_ticket_id'))
        batch_op.drop_index('ix_services_hall_day')

    op.drop_table('services')
    op.drop_table('window_queues')
    with op.batch_alter_table('window_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_window_events_window_id'))
        batch_op.drop_index('ix_window_events_hall_at')

    op.drop_table('window_events')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_waiting')
        batch_op.drop_index(batch_op.f('ix_tickets_id_hash'))
        batch_op.drop_index('ix_tickets_hall_day')

    op.drop_table('tickets')
    op.drop_table('api_tokens')
    with op.batch_alter_table('windows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_windows_hall_id'))

    op.drop_table('windows')
    op.drop_table('queue_counters')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_hall_id'))

    op.drop_table('staff')
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_queues_hall_id'))

    op.drop_table('queues')
    op.drop_table('departments')
    op.drop_table('halls')
