"""Hall configuration: config.toml → validated, frozen settings of the server and of each hall (大厅)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from hall.config_errors import ConfigError, check_halls, describe_all, error_line, problem, read_toml


from hall.config_sections import (  # noqa: F401  (re-exported: hall.config is the public module)
    PRIORITY_CLASSES, DRIVERS, Pos, NonNeg, Text, HallCode,
    Prefix, Login, Code, _Frozen, Session, _sessions_in_order,
    Day, HoursSettings, ExtraSession, CalendarSettings, PolicySettings, Reason,
    VoiceSettings, RatingSettings, AlertSettings, DepartmentSettings, MatterSettings, SlotSettings,
    AppointmentRules, QueueSettings, WindowSettings, StaffSettings, BundleSettings, DeviceSettings,
)

class HallSettings(_Frozen):
    """One hall (政务服务中心 / 大厅) and everything in it."""
    code: HallCode = Field(examples=["XS"])
    name: Text = Field(examples=["相山区政务服务中心"])
    timezone: str = "Asia/Shanghai"
    level: Literal["city", "district", "street", "community"] = "district"
    parent: HallCode | None = None
    notices: tuple[str, ...] = Field((), examples=[["请提前准备好身份证件"]])
    hours: HoursSettings = HoursSettings()
    calendar: CalendarSettings = CalendarSettings()
    policy: PolicySettings = PolicySettings()
    rating: RatingSettings = RatingSettings()
    voice: VoiceSettings = VoiceSettings()
    appointments: AppointmentRules = AppointmentRules()
    alerts: AlertSettings = AlertSettings()
    departments: tuple[DepartmentSettings, ...] = ()
    matters: tuple[MatterSettings, ...] = ()
    queues: tuple[QueueSettings, ...]
    windows: tuple[WindowSettings, ...]
    staff: tuple[StaffSettings, ...] = ()
    bundles: tuple[BundleSettings, ...] = ()
    devices: tuple[DeviceSettings, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise problem(f"{value!r} is not a time zone known to this machine",
                          'use an IANA zone name such as "Asia/Shanghai" (or "Asia/Urumqi")') from None
        return value

    @field_validator("queues", "windows")
    @classmethod
    def _not_empty(cls, value: tuple[Any, ...], info: ValidationInfo) -> tuple[Any, ...]:
        if not value:
            raise problem(f"a hall needs at least one {info.field_name.rstrip('s')}",
                          f"add a [[halls.{info.field_name}]] table")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def queue(self, prefix: str) -> QueueSettings:
        return _find(self.queues, "prefix", prefix)

    def window(self, number: int) -> WindowSettings:
        return _find(self.windows, "number", number)


def _find(items: tuple[Any, ...], key: str, value: Any) -> Any:
    for item in items:
        if getattr(item, key) == value:
            return item
    raise KeyError(value)


def _resolve_sqlite(url: str, base: Path) -> str:
    path, sep, query = url.removeprefix("sqlite:///").partition("?")
    if not url.startswith("sqlite:///") or not path or path.startswith((":", "/")):
        return url
    return f"sqlite:///{base / path}{sep}{query}"


class ServerSettings(_Frozen):
    """The installation: listening address, database, secrets; relative paths are from the config's folder."""
    database: Text = Field("sqlite:///var/hall.db", validate_default=True)
    host: Text = "127.0.0.1"
    port: Annotated[int, Field(strict=True, ge=1, le=65535)] = 5000
    public_url: str | None = Field(None, examples=["https://hall.example.gov.cn"])  # for QR codes
    secret_key_file: Path = Field(Path("var/secret_key"), validate_default=True)
    message_queue: str | None = Field(None, examples=["redis://127.0.0.1:6379/0"])  # when several processes
    # The message queue's channel: every process of one installation must use the same one, and
    # another installation on the same Redis a different one (Redis pub/sub ignores the db number).
    # Unset: derived from the database URL, which the processes of one installation share.
    message_queue_channel: str | None = Field(None, examples=["hall-xs-production"])
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # How /live serves its websockets: "threading" (an OS thread or more per client) or "gevent"
    # (a greenlet per client; the process must be gevent-patched: gunicorn -k gevent, or run.py).
    async_mode: Literal["threading", "gevent"] = "threading"
    session_idle_minutes: Pos = 30  # a staff login session ends after this long without activity
    # Rate-limit storage: "memory://" for one process, the Redis URL when several share the limits.
    rate_limit_storage: Text = "memory://"
    issue_rate_limit: Text = Field("30/minute", examples=["30/minute"])  # tickets per kiosk token
    personal_data_days: NonNeg = 180  # phone and ID hashes/masks of older tickets are cleared; 0 = keep

    @field_validator("database", "secret_key_file")
    @classmethod
    def _relative_to_config(cls, value: Any, info: ValidationInfo) -> Any:
        base = (info.context or {}).get("base_dir")
        if base is None:
            return value
        if isinstance(value, Path):
            return value if value.is_absolute() else base / value
        return _resolve_sqlite(value, base)

    @field_validator("issue_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse_many
        try:
            parse_many(value)
        except ValueError:
            raise problem(f"{value!r} is not a rate limit", 'write e.g. issue_rate_limit = "30/minute" '
                          '(or "10/minute;200/hour")') from None
        return value

    @field_validator("public_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise problem(f"{value!r} is not an http(s) URL", 'write e.g. public_url = "https://hall.example.gov.cn"')
        return value


class Settings(_Frozen):
    """The whole configuration: one server, one or more halls."""
    server: ServerSettings = ServerSettings()
    halls: tuple[HallSettings, ...]

    @field_validator("halls")
    @classmethod
    def _some(cls, value: tuple[HallSettings, ...]) -> tuple[HallSettings, ...]:
        if not value:
            raise problem("no hall is configured", "add a [[halls]] table with code, name, queues and windows")
        return value

    @model_validator(mode="before")
    @classmethod
    def _server_table(cls, value: Any) -> Any:
        # a missing [server] is validated too, so that its paths are resolved against the config folder
        return {"server": {}, **value} if isinstance(value, dict) else value

    def hall(self, code: str) -> HallSettings:
        return _find(self.halls, "code", code)


def parse_config(data: dict[str, Any], source: str = "config.toml", base_dir: Path | None = None) -> Settings:
    """Validate parsed TOML; raise ConfigError listing every problem found."""
    if not isinstance(data, dict):
        raise ConfigError(source, [error_line("(top level)", f"{type(data).__name__} is not a table",
                                              "give a table with [server] and [[halls]]")])
    context = {"base_dir": Path(base_dir).absolute() if base_dir is not None else None}
    errors: list[str] = []
    data = _merge_holiday_files(data, context["base_dir"] or Path.cwd(), errors)
    settings = None
    try:
        settings = Settings.model_validate(data, context=context)
    except ValidationError as exc:
        errors += describe_all(exc, data, Settings)
    if isinstance(data.get("halls"), list):
        errors += check_halls(data["halls"])
    if errors or settings is None:
        raise ConfigError(source, errors)
    return settings


def _merge_holiday_files(data: dict[str, Any], base_dir: Path, errors: list[str]) -> dict[str, Any]:
    """Merge each hall's ``calendar.holidays_file`` (relative to the config file) into its lists."""
    halls = data.get("halls")
    if not isinstance(halls, list):
        return data
    merged = []
    for index, hall in enumerate(halls):
        calendar = hall.get("calendar") if isinstance(hall, dict) else None
        name = calendar.get("holidays_file") if isinstance(calendar, dict) else None
        if not isinstance(name, str):
            merged.append(hall)
            continue
        where = f"halls[{hall.get('code', index)}].calendar.holidays_file"
        path = (base_dir / name) if not Path(name).is_absolute() else Path(name)
        try:
            plan = read_toml(path)
        except ConfigError as exc:
            errors.append(error_line(where, f"{name!r} cannot be used ({'; '.join(exc.errors)})",
                                     "give the path of a TOML file with holidays = [...] and "
                                     "workdays = [...], relative to the config file"))
            merged.append(hall)
            continue
        unknown = sorted(set(plan) - {"holidays", "workdays"})
        if unknown:
            errors.append(error_line(where, f"{name!r} has unknown keys {', '.join(unknown)}",
                                     "a holiday file holds only holidays = [...] and workdays = [...]"))
        calendar = {**calendar,
                    "holidays": [*calendar.get("holidays", []), *plan.get("holidays", [])],
                    "workdays": [*calendar.get("workdays", []), *plan.get("workdays", [])]}
        merged.append({**hall, "calendar": calendar})
    return {**data, "halls": merged}


def load_config(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read and validate a config file (default: $HALL_CONFIG, else ./config.toml)."""
    path = Path(path if path is not None else os.environ.get("HALL_CONFIG") or "config.toml")
    data = read_toml(path)
    return parse_config(data, source=str(path), base_dir=path.absolute().parent)
