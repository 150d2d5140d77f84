"""Helpers shared by the tests: the small test hall T1, settings, a clock that moves on demand.

Import them from here (``from support import …``), not from conftest: pytest has several
conftest modules, and the name ``conftest`` is ambiguous across test folders.
"""
from __future__ import annotations

import datetime as dt
import pathlib
import sys
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hall.clock import ManualClock  # noqa: E402
from hall.config import parse_config  # noqa: E402

MONDAY_9 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def hall_dict(code: str = "T1", **overrides: Any) -> dict[str, Any]:
    """A small hall: A and B at window 1, B at 2, A and C by weight at 3, K at 4."""
    hall = {
        "code": code, "name": "测试政务服务中心", "timezone": "Asia/Shanghai",
        "hours": {"weekdays": ["08:30-12:00", "13:30-17:30"]},
        "departments": [{"code": "RS", "name": "人社局"}, {"code": "SW", "name": "税务局"}],
        "matters": [{"code": "M1", "name": "社保卡补办", "department": "RS"},
                    {"code": "M2", "name": "发票申领", "department": "SW", "kind": "promised",
                     "promised_days": 3}],
        "queues": [
            {"prefix": "A", "name": "综合受理", "matters": ["M1"], "avg_service_s": 300},
            {"prefix": "B", "name": "税务", "department": "SW", "avg_service_s": 600},
            {"prefix": "C", "name": "企业开办", "daily_cap": 3},
            {"prefix": "K", "name": "办不成事", "last_ticket": "17:00"},
        ],
        "windows": [
            {"number": 1, "kind": "comprehensive", "queues": ["A", "B"]},
            {"number": 2, "queues": ["B"]},
            {"number": 3, "kind": "comprehensive", "queues": ["A", "C"], "mode": "weighted",
             "weights": {"A": 1, "C": 3}},
            {"number": 4, "kind": "complaints", "queues": ["K"]},
        ],
        "staff": [{"login": "clerk01", "name": "王芳", "windows": [1]},
                  {"login": "clerk02", "name": "李强", "windows": [2, 3]},
                  {"login": "boss", "name": "赵敏", "role": "manager"}],
        "bundles": [{"code": "QY", "name": "企业开办一件事", "queues": ["C", "B"]}],
        "notices": ["请提前准备好身份证件"],
    }
    hall.update(overrides)
    return hall


def settings_for(tmp_path: pathlib.Path, halls: list[dict[str, Any]] | None = None,
                 database: str | None = None):
    data = {"server": {"database": database or f"sqlite:///{tmp_path}/hall.db",
                       "secret_key_file": str(tmp_path / "secret_key")},
            "halls": halls or [hall_dict()]}
    return parse_config(data, source="test", base_dir=tmp_path)


# The tests' clock: moves only when a test says so (set, advance).
FrozenClock = ManualClock
