"""The WSGI entry point for production servers (README, "Running it for real").

[server] async_mode = "gevent" (thousands of screens and phones on one process; gunicorn's
gevent worker patches before it imports this module)::

    gunicorn -k gevent -w 1 --worker-connections 5000 'hall.wsgi:app'

async_mode = "threading" (the default): every websocket holds one of the worker's threads::

    gunicorn -w 1 --threads 100 'hall.wsgi:app'

Reads HALL_CONFIG, HALL_DATABASE_URL and HALL_CLOCK (an ISO 8601 start instant, for replays)
from the environment.
"""
from __future__ import annotations

import logging
import os
import sys

from hall.app import create_app
from hall.clock import Clock, parse_instant
from hall import gcpolicy
from hall.scheduler import start_scheduler

logging.basicConfig(level=os.environ.get("HALL_LOG_LEVEL", "INFO"), stream=sys.stderr,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
_start = os.environ.get("HALL_CLOCK")
app = create_app(clock=Clock(parse_instant(_start) if _start else None,
                             float(os.environ.get("HALL_CLOCK_SPEED", "1"))))
start_scheduler(app.extensions["hall"])
gcpolicy.install()  # no full garbage collection pauses during opening hours (hall/gcpolicy.py)
