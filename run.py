"""Start the hall server, or run one of its commands (token create, migrate); see --help."""
from __future__ import annotations

import os
import sys

COMMANDS = ("token", "migrate", "devices", "staff")


def _patch_for_gevent(argv: list[str]) -> None:
    """[server] async_mode = "gevent": gevent patches the standard library (threads become
    greenlets, sockets cooperative) before anything else is imported, so before hall is."""
    if argv[:1] and argv[0] in (*COMMANDS, "backup") or "-h" in argv or "--help" in argv:
        return
    import tomllib
    path = os.environ.get("HALL_CONFIG", "config.toml")
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--config="):
            path = arg.split("=", 1)[1]
    try:
        with open(path, "rb") as f:
            mode = tomllib.load(f).get("server", {}).get("async_mode")
    except (OSError, tomllib.TOMLDecodeError):
        return  # load_config reports the problem with the key and the fix
    if mode == "gevent":
        try:
            from gevent import monkey
        except ImportError:
            sys.exit('[server] async_mode = "gevent" needs gevent: .venv/bin/pip install ".[gevent]"')
        monkey.patch_all()


if __name__ == "__main__":
    _patch_for_gevent(sys.argv[1:])

import argparse  # noqa: E402  (after the gevent patch)
import logging  # noqa: E402


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=os.environ.get("HALL_CONFIG", "config.toml"),
                        help="the hall description (default: config.toml, or $HALL_CONFIG)")
    parser.add_argument("--database", default=os.environ.get("HALL_DATABASE_URL"),
                        help="database URL (default: the one config.toml names, or $HALL_DATABASE_URL)")


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python run.py", description="Serve the hall(s) of config.toml: the API, live events "
        "and pages. Commands: 'token create' (a device or integration token), 'migrate', "
        "'devices' (list ports, test-print, light a screen), 'staff password LOGIN', "
        "'backup' (copy the SQLite database while the server runs).",
        epilog="Run 'python run.py token create --help' for tokens.")
    _common(parser)
    parser.add_argument("--host", help="address to listen on (default: server.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: server.port, 5000)")
    parser.add_argument("--clock", default=os.environ.get("HALL_CLOCK"),
                        help="start the hall clock at this ISO 8601 instant, e.g. 2026-11-30T09:00:00+08:00")
    parser.add_argument("--speed", type=float, default=1.0, help="run the hall clock N times faster")
    parser.add_argument("--demo", action="store_true",
                        help="print ready-made demo tokens and the URLs to open")
    return parser


def command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python run.py")
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="device and integration tokens")
    token_sub = token.add_subparsers(dest="action", required=True)
    create = token_sub.add_parser("create", help="print a new token as the last line of output")
    _common(create)
    create.add_argument("--role", required=True,
                        choices=["kiosk", "clerk", "screen", "pad", "manager", "admin", "city"])
    create.add_argument("--hall", help="hall code (every role but admin and city needs one; a city "
                        "token reads that hall and every hall below it)")
    create.add_argument("--window", type=int, help="window number (clerk and pad tokens)")
    create.add_argument("--label", help="a name to recognise the token by, e.g. 'kiosk 1'")
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id")
    _common(revoke)
    revoke.add_argument("id", type=int)
    migrate = sub.add_parser("migrate", help="apply the database migrations and exit")
    _common(migrate)
    staff = sub.add_parser("staff", help="staff logins")
    staff_sub = staff.add_subparsers(dest="action", required=True)
    password = staff_sub.add_parser("password", help="set a staff member's password (asked twice)")
    _common(password)
    password.add_argument("login")
    password.add_argument("--hall", help="hall code (default: the only hall, if there is one)")
    password.add_argument("--password-stdin", action="store_true",
                          help="read the password from standard input instead of asking")
    return parser


def _load(args: argparse.Namespace):
    from hall.config import ConfigError, load_config
    try:
        return load_config(args.config)
    except ConfigError as err:
        sys.exit(str(err))


def _runtime(args: argparse.Namespace):
    from hall import runtime
    return runtime.start(_load(args), database_url=args.database)


def run_command(argv: list[str]) -> int:
    args = command_parser().parse_args(argv)
    from hall.errors import DomainError
    if args.command == "migrate":
        rt = _runtime(args)
        print(f"database at {rt.db.url.render_as_string(hide_password=True)} is up to date")
        rt.close()
        return 0
    if args.command == "staff":
        return _staff_password(args)
    rt = _runtime(args)
    try:
        with rt.db.write() as session:
            from hall import tokens
            if args.action == "create":
                hall = rt.hall(args.hall) if args.hall else None
                token = tokens.create_token(session, hall, args.role, rt.clock.now(),
                                            window=args.window, label=args.label)
            else:
                tokens.revoke(session, args.id, rt.clock.now())
                token = f"token {args.id} revoked"
    except DomainError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    finally:
        rt.close()
    print(token)
    return 0


def _staff_password(args: argparse.Namespace) -> int:
    import getpass
    from hall import staff
    from hall.errors import DomainError
    rt = _runtime(args)
    try:
        if args.hall is None and len(rt.halls) > 1:
            print(f"error: say which hall with --hall ({', '.join(sorted(rt.halls))})", file=sys.stderr)
            return 2
        hall = rt.hall(args.hall) if args.hall else next(iter(rt.halls.values()))
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass(f"new password for {args.login}: ")
            if getpass.getpass("again: ") != password:
                print("error: the two passwords differ; nothing was changed", file=sys.stderr)
                return 2
        with rt.db.write() as session:
            staff.set_password(session, hall, args.login, password)
    except DomainError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    finally:
        rt.close()
    print(f"password of {args.login} in hall {hall.code} set")
    return 0


def serve(argv: list[str]) -> int:
    args = serve_parser().parse_args(argv)
    settings = _load(args)
    logging.basicConfig(level=settings.server.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from hall.app import create_app
    from hall.clock import Clock, parse_instant
    try:
        if args.demo and not args.clock:
            from hall.demo import demo_clock
            clock = demo_clock(settings)
        else:
            clock = Clock(parse_instant(args.clock) if args.clock else None, args.speed)
    except ValueError as err:
        sys.exit(f"--clock: {err}")
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    base = settings.server.public_url or f"http://{host}:{port}"
    app = create_app(settings, database_url=args.database, clock=clock, base_url=base)
    rt = app.extensions["hall"]
    from devices.service import start_devices  # this process drives the hall's devices
    rt.devices = start_devices(rt)
    from hall.scheduler import start_scheduler  # end of day, no-show sweeps: one process only
    start_scheduler(rt)
    from hall import gcpolicy  # no full garbage collection pauses during opening hours
    gcpolicy.install()
    if args.demo:
        from hall import demo
        print(demo.banner(rt, base), flush=True)
    else:
        print(f"serving {', '.join(sorted(rt.halls))} at {base} (API: {base}/api/v1, "
              f"OpenAPI: {base}/api/openapi.json)", flush=True)
    socketio = app.extensions["hall.socketio"]
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, log_output=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "backup":
        from hall.backup import main as backup_main
        return backup_main(argv[1:])
    if argv and argv[0] == "devices":
        from devices.cli import main as devices_main
        return devices_main(argv[1:])
    if argv and argv[0] in COMMANDS:
        return run_command(argv)
    return serve(argv)


if __name__ == "__main__":
    sys.exit(main())
