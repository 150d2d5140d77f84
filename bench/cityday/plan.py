"""The city day's plan: the visitors of make_day.py, the city of halls and its config, and which
/live clients connect to which server process."""
from __future__ import annotations

import collections
import csv
import dataclasses
import datetime as dt
import io
import json
import pathlib
import re
import shutil
import subprocess
import tomllib
from typing import Any

from common import set_async_mode, set_server_key, without_issue_limit

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
MAKE_DAY = ROOT / "bench" / "workloads" / "make_day.py"  # ../shared/workloads, copied
DAY = "2026-11-30"  # a Monday
CLOCK_START = "07:30"  # the hall clock at server start (setup takes some of it); --clock-start
OPEN_AT = dt.datetime.fromisoformat(f"{DAY}T08:30:00+08:00")  # make_day's arrive_s = 0
HOURS = "00:00-23:59"  # one session all day: lunch arrivals, a slow replay, a --clock-start
LAST_HALL_TIME = dt.datetime.fromisoformat(f"{DAY}T23:50:00+08:00")  # stop before the day ends
KIOSKS_PER_HALL = 2


# ----------------------------------------------------------------------------------------------
# The day and the city

@dataclasses.dataclass(frozen=True, slots=True)
class Visitor:
    index: int
    hall: str
    arrive_s: float
    queue: str
    priority: str
    service_s: float
    no_show: bool
    transfer_to: str
    rating: int | None


def load_day(halls: int, visitors: int = 900, seed: int = 1, minutes: float | None = None,
             make_day: pathlib.Path = MAKE_DAY) -> list[Visitor]:
    """make_day.py's CSV (its own command line), the first ``minutes`` of the day if given."""
    out = subprocess.run(["python3", str(make_day), "--halls", str(halls), "--visitors", str(visitors),
                          "--seed", str(seed)], check=True, capture_output=True, text=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    day = [Visitor(i, r["hall"], float(r["arrive_s"]), r["queue"], r["priority"], float(r["service_s"]),
                   r["no_show"] == "1", r["transfer_to"], int(r["rating"]) if r["rating"] else None)
           for i, r in enumerate(rows)]
    if minutes is not None:
        day = [v for v in day if v.arrive_s < minutes * 60]
    return day


def city_halls(model: dict, n: int) -> list[dict]:
    """bench/city_view.py's tree (HB → D1… → S…), codes renamed H01… in that order as make_day names
    its halls; parents renamed alike; one opening session all day."""
    from city_view import tree
    halls = tree(model, n)
    rename = {h["code"]: f"H{i + 1:02d}" for i, h in enumerate(halls)}
    for h in halls:
        h["original_code"] = h["code"]
        h["code"] = rename[h["code"]]
        if "parent" in h:
            h["parent"] = rename[h["parent"]]
        h["hours"] = {**h.get("hours", {}), "weekdays": [HOURS]}
    return halls


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are TOML basic-string escapes
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def write_city_config(workdir: pathlib.Path, halls: int, redis_url: str) -> tuple[pathlib.Path, list[dict], dict]:
    """config.toml of the city in ``workdir`` (holiday plan beside it); its halls and model hall."""
    data = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    model = data["halls"][0]
    city = city_halls(model, halls)
    lines = ["[server]"] + [f"{_toml_key(k)} = {_toml(v)}" for k, v in data["server"].items()]
    for h in city:
        lines += ["", "[[halls]]"] + [f"{_toml_key(k)} = {_toml(v)}" for k, v in h.items()
                                      if k != "original_code"]
    path = workdir / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copytree(ROOT / "holidays", workdir / "holidays", dirs_exist_ok=True)
    without_issue_limit(path)
    set_async_mode(path, "gevent")
    set_server_key(path, "message_queue", redis_url)
    set_server_key(path, "rate_limit_storage", redis_url)
    set_server_key(path, "log_level", "WARNING")
    return path, city, model


# ----------------------------------------------------------------------------------------------
# Who is connected: the client mix

# Per hall, by level: kiosk pages, hall screens (综合屏), managers' dashboards, window screens (窗口屏
# pages above every window). Streets light their windows with LED strips on RS-485 (the devices
# process, not /live) and have one manager; evaluation pads and call pads are serial devices.
PER_HALL = {"city": (KIOSKS_PER_HALL, 4, 2, 52), "district": (KIOSKS_PER_HALL, 3, 2, 52),
            "street": (KIOSKS_PER_HALL, 2, 1, 0), "community": (1, 1, 1, 0)}
FIXED_SHARE_MAX = 0.45  # when fewer clients are asked for, the fixed ones are scaled to this share


@dataclasses.dataclass
class ClientSpec:
    kind: str  # kiosk | screen | dashboard | window | city
    hall: str  # the hall of its token (a city view: the top hall of what it sees)
    halls: tuple[str, ...]
    window: int | None = None
    server: int = 0


def client_mix(city: list[dict], clients: int) -> tuple[list[ClientSpec], int]:
    """The fixed clients (connected all day) and the room left for mobile tickets (phones)."""
    codes = [h["code"] for h in city]
    children: dict[str, list[str]] = collections.defaultdict(list)
    for h in city:
        if h.get("parent"):
            children[h["parent"]].append(h["code"])

    def below(code: str) -> tuple[str, ...]:
        out, todo = [], [code]
        while todo:
            c = todo.pop(0)
            out.append(c)
            todo += children[c]
        return tuple(out)

    want: dict[str, list[ClientSpec]] = collections.defaultdict(list)
    for h in city:
        kiosks, screens, dashboards, window_screens = PER_HALL[h.get("level", "street")]
        code = h["code"]
        want["screen"] += [ClientSpec("screen", code, (code,)) for _ in range(screens)]
        want["kiosk"] += [ClientSpec("kiosk", code, (code,)) for _ in range(kiosks)]
        want["dashboard"] += [ClientSpec("dashboard", code, (code,)) for _ in range(dashboards)]
        want["window"] += [ClientSpec("window", code, (code,), window=w) for w in range(1, window_screens + 1)]
        if h.get("level") in ("city", "district"):  # the city's and each district's supervision view
            want["city"].append(ClientSpec("city", code, below(code)))
    fixed = sum(len(v) for v in want.values())
    if fixed > FIXED_SHARE_MAX * clients:
        scale = FIXED_SHARE_MAX * clients / fixed
        # every hall keeps one hall screen (the bench also learns each hall's events there)
        firsts = list({spec.hall: spec for spec in reversed(want["screen"])}.values())[::-1]
        others = [spec for spec in want["screen"] if all(spec is not f for f in firsts)]
        kept = {kind: _spread(specs, round(len(specs) * scale)) for kind, specs in want.items() if kind != "screen"}
        kept["screen"] = firsts + _spread(others, round(len(want["screen"]) * scale) - len(firsts))
        if want["city"] and not kept["city"]:
            kept["city"] = want["city"][:1]
        want = kept
    specs = [s for kind in ("screen", "kiosk", "dashboard", "window", "city") for s in want.get(kind, [])]
    assert {s.hall for s in specs if s.kind == "screen"} == set(codes), "a hall without a hall screen"
    return specs, max(0, clients - len(specs))


def _spread(specs: list[ClientSpec], n: int) -> list[ClientSpec]:
    """n of ``specs`` spread evenly over the list (so over the halls)."""
    if n >= len(specs):
        return list(specs)
    if n <= 0:
        return []
    step = len(specs) / n
    return [specs[int(i * step)] for i in range(n)]


def assign_servers(specs: list[ClientSpec], codes: list[str], n_servers: int, routing: str) -> None:
    """In-hall devices to their hall's process (nginx ip_hash of the hall network); the rest alternate."""
    home = {c: i % n_servers for i, c in enumerate(codes)}
    turn = 0
    for spec in specs:
        if routing == "hall" and spec.kind in ("screen", "kiosk", "window"):
            spec.server = home[spec.hall]
        else:
            spec.server = turn % n_servers
            turn += 1

