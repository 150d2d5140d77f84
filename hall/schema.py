"""Every table of the application in one metadata: models live in several modules, and
Alembic and the migration tests must see them all. A module that adds tables is listed here."""
from __future__ import annotations

import hall.appointments  # noqa: F401
import hall.audit  # noqa: F401
import hall.invitations  # noqa: F401
import hall.notices  # noqa: F401
import hall.rectification  # noqa: F401
import hall.rollups  # noqa: F401
import hall.staff  # noqa: F401
from hall.models import Base

metadata = Base.metadata
