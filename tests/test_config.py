"""Tests of hall.config: the shipped config.toml, defaults, and one test per validation rule."""
from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from hall.config import (PRIORITY_CLASSES, ConfigError, HallSettings, Session, Settings, WindowSettings,
                         load_config, parse_config)

ROOT = Path(__file__).resolve().parents[1]


def minimal() -> dict[str, Any]:
    """A small valid hall: two departments, three queues, three windows."""
    return {"halls": [{
        "code": "XS", "name": "相山区政务服务中心",
        "departments": [{"code": "rsj", "name": "人社局"}, {"code": "bdc", "name": "不动产登记中心"}],
        "matters": [{"code": "m1", "name": "社保卡补办", "department": "rsj"},
                    {"code": "m2", "name": "不动产转移登记", "department": "bdc", "kind": "promised",
                     "promised_days": 5}],
        "queues": [{"prefix": "A", "name": "综合受理"}, {"prefix": "B", "name": "不动产登记", "matters": ["m2"]},
                   {"prefix": "C", "name": "企业开办"}],
        "windows": [{"number": 1, "queues": ["A", "C"]}, {"number": 5, "queues": ["B", "A"]},
                    {"number": 6, "queues": ["C"]}],
        "staff": [{"login": "wangfang", "name": "王芳", "windows": [1]}],
        "devices": [{"name": "screens", "kind": "led_bus", "windows": [1, 5, 6]}],
    }]}


def hall(data: dict[str, Any]) -> dict[str, Any]:
    return data["halls"][0]


def errors_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    text = str(info.value)
    assert "pydantic" not in text and "Input should" not in text, text
    return info.value.errors


def the_error(data: dict[str, Any], path: str, *fragments: str) -> str:
    """The one error at path; it names the bad value (fragments) and suggests a fix."""
    errors = errors_of(data)
    found = [e for e in errors if e.startswith(path + ":")]
    assert len(found) == 1, f"no single error at {path!r} in:\n" + "\n".join(errors)
    for fragment in fragments:
        assert fragment in found[0], found[0]
    assert "Fix: " in found[0], found[0]
    return found[0]


# ---- the shipped file and the models ----------------------------------------------------------------------


def test_shipped_config_loads() -> None:
    settings = load_config(ROOT / "config.toml")
    xs = settings.hall("XS")
    assert (xs.name, xs.timezone, xs.level) == ("相山区政务服务中心", "Asia/Shanghai", "district")
    assert [str(s) for s in xs.hours.weekdays] == ["08:30-12:00", "13:30-17:30"]
    assert [q.prefix for q in xs.queues] == list("ABCDEFGHJK")
    assert [q.name for q in xs.queues] == ["综合受理", "不动产登记", "企业开办", "人社", "医保", "公安户政", "公积金",
                                           "税务", "水电气", "办不成事"]
    minutes = (9, 14, 18, 7, 6, 8, 10, 12, 5, 20)  # means of workloads/make_day.py
    assert {q.prefix: q.avg_service_s for q in xs.queues} == {p: m * 60 for p, m in zip("ABCDEFGHJK", minutes)}
    assert [w.number for w in xs.windows] == list(range(1, 53))
    expected = {**{n: ("A", "J", "K") for n in range(1, 15)}, **{n: ("B",) for n in range(15, 21)},
                21: ("C", "H"), 22: ("C", "H"), **{n: ("D",) for n in range(23, 29)},
                **{n: ("E",) for n in range(29, 33)}, **{n: ("F",) for n in range(33, 39)},
                **{n: ("G",) for n in range(39, 42)}, **{n: ("H",) for n in range(42, 45)}, 45: ("J",), 46: ("J",),
                47: ("K",), 48: ("C", "H", "A"), 49: ("C", "H", "A"), **{n: ("A", "D", "E") for n in range(50, 53)}}
    assert {w.number: w.queues for w in xs.windows} == expected
    kinds = {w.number: w.kind for w in xs.windows}
    assert {n for n, k in kinds.items() if k == "comprehensive"} == set(range(1, 15)) | set(range(48, 53))
    assert [n for n, k in kinds.items() if k == "complaints"] == [47]
    assert all(q.daily_cap is None for q in xs.queues)
    clerks = [s for s in xs.staff if s.role == "clerk"]
    assert [s.login for s in clerks] == [f"clerk{n:02d}" for n in range(1, 53)]
    assert [s.windows for s in clerks] == [(n,) for n in range(1, 53)]
    assert [s.login for s in xs.staff if s.role == "manager"] == ["manager"]
    assert any(b.queues == ("C", "H") for b in xs.bundles)
    assert {d.kiosk for d in xs.devices if d.kind == "printer"} == {"K1", "K2"}
    for kind in ("led_bus", "evalpad", "callpad"):
        (bus,) = [d for d in xs.devices if d.kind == kind]
        assert bus.windows == tuple(range(1, 53)) and bus.address(47) == 47
    assert all(d.driver == "virtual" for d in xs.devices)
    assert 2 <= len(xs.notices) <= 3 and any("47" in n for n in xs.notices)
    assert settings.server.database == f"sqlite:///{ROOT}/var/hall.db"


def test_defaults_and_helpers() -> None:
    settings = parse_config(minimal(), base_dir=Path("/x"))
    assert settings.server.database == "sqlite:////x/var/hall.db"
    assert settings.server.secret_key_file == Path("/x/var/secret_key")
    assert (settings.server.host, settings.server.port, settings.server.public_url) == ("127.0.0.1", 5000, None)
    xs = settings.hall("XS")
    assert xs.hours.weekdays == (Session(start=dt.time(8, 30), end=dt.time(12)),
                                 Session(start=dt.time(13, 30), end=dt.time(17, 30)))
    assert xs.hours.saturday == () and xs.calendar.holidays == ()
    assert xs.policy.boost("elderly") == 1800 and xs.policy.boost("none") == 0
    assert [r.name for r in xs.rating.reasons][:2] == ["服务态度", "办事效率"]
    assert xs.queue("B").matters == ("m2",) and xs.queue("A").number_width == 3
    assert xs.window(5).name == "5号窗口" and xs.window(5).weight("A") == 1
    for lookup in (lambda: settings.hall("ZZ"), lambda: xs.queue("Z"), lambda: xs.window(99),
                   lambda: xs.window(1).weight("B"), lambda: xs.policy.boost("vip")):
        with pytest.raises(KeyError):
            lookup()
    hash(settings)  # frozen all the way down
    with pytest.raises(Exception):
        xs.name = "other"  # type: ignore[misc]
    assert PRIORITY_CLASSES == ("elderly", "disabled", "veteran", "pregnant", "appointment", "enterprise")


def test_config_values_parse() -> None:
    data = minimal()
    hall(data).update(hours={"saturday": ["09:00-12:00"]}, calendar={
        "holidays": [dt.date(2025, 10, 1)], "workdays": ["2025-10-11"],
        "extra_sessions": [{"date": dt.date(2025, 12, 6), "sessions": ["09:00-12:00"]}]},
        policy={"priority_boost_s": {"appointment": 600}})
    hall(data)["queues"][0].update(last_ticket="17:00", daily_cap=300)
    hall(data)["windows"][0].update(mode="weighted", weights={"A": 3})
    xs = parse_config(data).hall("XS")
    assert xs.hours.saturday == (Session(start=dt.time(9), end=dt.time(12)),)
    assert xs.calendar.workdays == (dt.date(2025, 10, 11),)
    assert xs.calendar.extra_sessions[0].date == dt.date(2025, 12, 6)
    assert xs.policy.boost("appointment") == 600 and xs.policy.boost("enterprise") == 1800
    assert xs.queue("A").last_ticket == dt.time(17)
    assert xs.window(1).weight("A") == 3 and xs.window(1).weight("C") == 1


def test_load_config_resolves_paths_against_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[server]\ndatabase = "sqlite:///data/h.db"\n[[halls]]\ncode = "XS"\nname = "x"\n'
                    '[[halls.queues]]\nprefix = "A"\nname = "a"\n[[halls.windows]]\nnumber = 1\nqueues = ["A"]\n',
                    encoding="utf-8")
    settings = load_config(path)
    assert settings.server.database == f"sqlite:///{tmp_path}/data/h.db"
    assert settings.server.secret_key_file == tmp_path / "var" / "secret_key"


# ---- one test per rule ----------------------------------------------------------------------------------


def test_duplicate_hall_code() -> None:
    data = minimal()
    data["halls"].append(copy.deepcopy(hall(data)))
    the_error(data, "halls[XS]", "duplicate code 'XS'", "1st and 2nd")


def test_unknown_parent() -> None:
    data = minimal()
    hall(data)["parent"] = "HB"
    the_error(data, "halls[XS].parent", "unknown parent hall 'HB'", "XS")


def test_parent_cycle() -> None:
    data = minimal()
    other = copy.deepcopy(hall(data))
    other.update(code="HB", parent="XS")
    hall(data)["parent"] = "HB"
    data["halls"].append(other)
    errors = errors_of(data)
    assert len([e for e in errors if "parent cycle" in e]) == 1
    the_error(data, "halls[XS].parent", "XS → HB → XS")


def test_bad_timezone() -> None:
    data = minimal()
    hall(data)["timezone"] = "Asia/Beijing"
    the_error(data, "halls[XS].timezone", "'Asia/Beijing'", "Asia/Shanghai")


def test_duplicate_department_code() -> None:
    data = minimal()
    hall(data)["departments"].append({"code": "rsj", "name": "again"})
    the_error(data, "halls[XS].departments[rsj]", "duplicate code 'rsj'", "1st and 3rd")


def test_matter_with_unknown_department() -> None:
    data = minimal()
    hall(data)["matters"][0]["department"] = "gaj"
    the_error(data, "halls[XS].matters[m1].department", "unknown department 'gaj'", "rsj, bdc")


def test_duplicate_matter_code() -> None:
    data = minimal()
    hall(data)["matters"].append({"code": "m1", "name": "again", "department": "rsj"})
    the_error(data, "halls[XS].matters[m1]", "duplicate code 'm1'")


def test_promised_matter_without_promised_days() -> None:
    data = minimal()
    del hall(data)["matters"][1]["promised_days"]
    the_error(data, "halls[XS].matters[m2].promised_days", "promised", "promised_days = ")


def test_duplicate_queue_prefix() -> None:
    data = minimal()
    hall(data)["queues"].append({"prefix": "B", "name": "again"})
    the_error(data, "halls[XS].queues[B]", "duplicate prefix 'B'", "2nd and 4th")


def test_bad_prefix_format() -> None:
    data = minimal()
    hall(data)["queues"].append({"prefix": "a1", "name": "bad"})
    the_error(data, "halls[XS].queues[3].prefix", "'a1'", "capital letters")


def test_queue_with_unknown_matter() -> None:
    data = minimal()
    hall(data)["queues"][1]["matters"] = ["m2", "m9"]
    the_error(data, "halls[XS].queues[B].matters[1]", "unknown matter 'm9'", "m1, m2")


def test_queue_with_unknown_department() -> None:
    data = minimal()
    hall(data)["queues"][0]["department"] = "gaj"
    the_error(data, "halls[XS].queues[A].department", "unknown department 'gaj'", 'code = "gaj"')


def test_queue_no_window_serves() -> None:
    data = minimal()
    hall(data)["queues"].append({"prefix": "D", "name": "人社"})
    the_error(data, "halls[XS].queues[D]", "no window serves queue 'D'", "never be called")


def test_duplicate_window_number() -> None:
    data = minimal()
    hall(data)["windows"].append({"number": 5, "queues": ["A"]})
    the_error(data, "halls[XS].windows[5]", "duplicate number 5", "2nd and 4th")


def test_window_without_queues() -> None:
    data = minimal()
    hall(data)["windows"][1]["queues"] = []
    the_error(data, "halls[XS].windows[5].queues", "serves no queue")


def test_window_with_unknown_queue() -> None:
    data = minimal()
    hall(data)["windows"][1]["queues"] = ["B", "Z"]
    line = the_error(data, "halls[XS].windows[5].queues[1]")
    assert line == ("halls[XS].windows[5].queues[1]: unknown queue 'Z' — hall XS has queues A, B, C. "
                    "Fix: add a [[halls.queues]] with prefix = \"Z\", or remove 'Z' from this window.")


def test_queue_listed_twice_in_a_window() -> None:
    data = minimal()
    hall(data)["windows"][1]["queues"] = ["B", "A", "B"]
    the_error(data, "halls[XS].windows[5].queues[2]", "'B' is listed twice")


def test_weight_for_a_queue_the_window_does_not_serve() -> None:
    data = minimal()
    hall(data)["windows"][1].update(mode="weighted", weights={"B": 3, "C": 2})
    the_error(data, "halls[XS].windows[5].weights.C", "queue 'C'", "does not serve")


def test_weight_below_one() -> None:
    data = minimal()
    hall(data)["windows"][1].update(mode="weighted", weights={"B": 0})
    the_error(data, "halls[XS].windows[5].weights.B", "weight 0", "≥ 1")


def test_staff_duplicate_login() -> None:
    data = minimal()
    hall(data)["staff"].append({"login": "wangfang", "name": "王芳"})
    the_error(data, "halls[XS].staff[wangfang]", "duplicate login 'wangfang'")


def test_staff_with_unknown_window() -> None:
    data = minimal()
    hall(data)["staff"][0]["windows"] = [1, 9]
    the_error(data, "halls[XS].staff[wangfang].windows[1]", "unknown window 9", "1, 5, 6", "number = 9")


def test_bundle_with_unknown_queue() -> None:
    data = minimal()
    hall(data)["bundles"] = [{"code": "qykb", "name": "企业开办一件事", "queues": ["C", "H"]}]
    the_error(data, "halls[XS].bundles[qykb].queues[1]", "unknown queue 'H'")


def test_bundle_with_fewer_than_two_queues() -> None:
    data = minimal()
    hall(data)["bundles"] = [{"code": "qykb", "name": "企业开办一件事", "queues": ["C"]}]
    the_error(data, "halls[XS].bundles[qykb].queues", "at least 2 queues", "has 1")


def test_hours_malformed() -> None:
    data = minimal()
    hall(data)["hours"] = {"weekdays": ["8h30-12:00"]}
    the_error(data, "halls[XS].hours.weekdays[0]", "'8h30-12:00'", "'8h30' is not a time", '"08:30-12:00"')


def test_hours_out_of_range() -> None:
    data = minimal()
    hall(data)["hours"] = {"weekdays": ["08:30-25:00"]}
    the_error(data, "halls[XS].hours.weekdays[0]", "'25:00' is not a time of day")


def test_hours_end_before_start() -> None:
    data = minimal()
    hall(data)["hours"] = {"saturday": ["12:00-08:30"]}
    the_error(data, "halls[XS].hours.saturday[0]", "'12:00-08:30' ends before it starts", '"08:30-12:00"')


def test_hours_overlapping_sessions() -> None:
    data = minimal()
    hall(data)["hours"] = {"weekdays": ["08:30-12:00", "11:30-17:30"]}
    the_error(data, "halls[XS].hours.weekdays[1]", "'11:30-17:30' overlaps", "'08:30-12:00'")


def test_last_ticket_malformed() -> None:
    data = minimal()
    hall(data)["queues"][0]["last_ticket"] = "5pm"
    the_error(data, "halls[XS].queues[A].last_ticket", "'5pm' is not a time", '"HH:MM"')


def test_unknown_key_lists_allowed_keys() -> None:
    data = minimal()
    queue = hall(data)["queues"][2]
    queue["prefx"] = queue.pop("prefix")
    line = the_error(data, "halls[XS].queues[2].prefx", "unknown key 'prefx'", "[[halls.queues]]",
                     "prefix, name, department, matters, daily_cap", "rename it to 'prefix'")
    assert "allowed keys" in line


def test_wrong_type() -> None:
    data = minimal()
    hall(data)["queues"][0]["number_width"] = "three"
    the_error(data, "halls[XS].queues[A].number_width", "'three' is not a whole number", "number_width = 3")


def test_unknown_priority_class() -> None:
    data = minimal()
    hall(data)["policy"] = {"priority_boost_s": {"vip": 600}}
    the_error(data, "halls[XS].policy.priority_boost_s.vip", "unknown priority class 'vip'", "elderly")


def test_device_duplicate_name() -> None:
    data = minimal()
    hall(data)["devices"].append({"name": "screens", "kind": "evalpad", "windows": [1]})
    the_error(data, "halls[XS].devices[screens]", "duplicate name 'screens'")


def test_device_driver_not_valid_for_kind() -> None:
    data = minimal()
    hall(data)["devices"][0]["driver"] = "usb"
    the_error(data, "halls[XS].devices[screens].driver", "'usb'", "led_bus", "virtual, serial")


def test_device_serial_without_port() -> None:
    data = minimal()
    hall(data)["devices"][0]["driver"] = "serial"
    the_error(data, "halls[XS].devices[screens].port", "needs a port", "/dev/ttyUSB0")


def test_device_network_without_host() -> None:
    data = minimal()
    hall(data)["devices"].append({"name": "printer-k1", "kind": "printer", "driver": "network", "kiosk": "K1"})
    the_error(data, "halls[XS].devices[printer-k1].host", "needs a host", "host = ")


def test_device_unknown_window() -> None:
    data = minimal()
    hall(data)["devices"][0]["windows"] = [1, 5, 60]
    the_error(data, "halls[XS].devices[screens].windows[2]", "unknown window 60", "1, 5, 6")


def test_device_addresses_length_mismatch() -> None:
    data = minimal()
    hall(data)["devices"][0]["addresses"] = [11, 15]
    the_error(data, "halls[XS].devices[screens].addresses", "2 addresses for 3 windows", "one address per window")


def test_toml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[halls]]\ncode = "XS"\nname = 相山区\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert text.startswith(f"{path} is not valid TOML:\n  - line 3, column 8:"), text
    assert "name = 相山区" in text and "Fix: " in text and "double quotes" in text


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert str(path) in text and "--config" in text and "HALL_CONFIG" in text


def test_several_errors_reported_at_once() -> None:
    data = minimal()
    xs = hall(data)
    xs["timezone"] = "Mars/Olympus"
    xs["queues"][0]["number_width"] = "three"
    xs["windows"][1]["queues"] = ["B", "Z"]
    xs["staff"][0]["windows"] = [42]
    xs["hours"] = {"weekdays": ["8h30-12:00"]}
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="/etc/hall/config.toml")
    err = info.value
    paths = [e.split(":")[0] for e in err.errors]
    assert {"halls[XS].timezone", "halls[XS].queues[A].number_width", "halls[XS].windows[5].queues[1]",
            "halls[XS].staff[wangfang].windows[0]", "halls[XS].hours.weekdays[0]"} <= set(paths)
    assert len(err.errors) == 5, err.errors
    assert str(err) == "/etc/hall/config.toml is not valid:\n" + "\n".join(f"  - {e}" for e in err.errors)


def test_models_validate_on_their_own() -> None:
    window = WindowSettings(number=3, queues=("A", "B"), mode="weighted", weights={"A": 2})
    assert window.name == "3号窗口" and window.weight("A") == 2 and window.weight("B") == 1
    with pytest.raises(ValueError):
        WindowSettings(number=3, queues=("A", "A"))
    with pytest.raises(ValueError):
        HallSettings(code="xs", name="x", queues=[{"prefix": "A", "name": "a"}],
                     windows=[{"number": 1, "queues": ["A"]}])
    assert isinstance(parse_config(minimal()), Settings)


# Any value at any key gives settings or a ConfigError whose every line has a path and a fix — never a crash.
_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 70), st.text(max_size=6),
                    st.sampled_from(["A", "Z", "08:30-12:00", "25:00", "serial", "promised", "weighted"]),
                    st.lists(st.one_of(st.integers(-1, 9), st.sampled_from(["A", "B", "Z", "m1"])), max_size=3),
                    st.dictionaries(st.sampled_from(["A", "B", "elderly", "x"]), st.integers(-1, 3), max_size=2))
_places = st.sampled_from([("queues", 0), ("queues", 1), ("windows", 1), ("matters", 1), ("staff", 0),
                           ("devices", 0), (None, None)])
_keys = st.sampled_from(["prefix", "number", "queues", "weights", "mode", "kind", "promised_days", "windows",
                         "driver", "addresses", "department", "matters", "login", "hours", "policy", "parent",
                         "timezone", "number_width", "last_ticket", "typo"])


@hyp_settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_places, _keys, _values), min_size=1, max_size=4))
def test_any_mistake_gives_a_readable_error(mutations: list[tuple[tuple[Any, Any], str, Any]]) -> None:
    data = minimal()
    for (table, index), key, value in mutations:
        rows = hall(data).get(table)
        # An earlier mutation may have replaced the table itself (e.g. queues = [1]): skip then.
        target = (hall(data) if table is None
                  else rows[index] if isinstance(rows, list) and index < len(rows) else None)
        if isinstance(target, dict):
            target[key] = value
    try:
        parse_config(data)
    except ConfigError as err:
        assert err.errors
        for line in err.errors:
            assert line.startswith("halls") and ": " in line and "Fix: " in line, line
            assert "Input should" not in line, line


def test_a_holiday_file_is_merged_and_a_missing_one_is_named(tmp_path):
    from hall.config import ConfigError, load_config
    import shutil
    root = Path(__file__).resolve().parent.parent
    shutil.copy(root / "config.toml", tmp_path / "config.toml")
    (tmp_path / "holidays").mkdir()
    (tmp_path / "holidays" / "cn-2025.toml").write_text(
        "holidays = [2025-10-01]\nworkdays = [2025-09-28]\n", encoding="utf-8")
    calendar = load_config(tmp_path / "config.toml").halls[0].calendar
    assert (calendar.holidays, calendar.workdays) == ((dt.date(2025, 10, 1),), (dt.date(2025, 9, 28),))
    (tmp_path / "holidays" / "cn-2025.toml").unlink()
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "config.toml")
    assert "halls[XS].calendar.holidays_file" in str(err.value) and "Fix:" in str(err.value)
