"""The command line of API.md: token create prints a working token last; staff password; --help."""
from __future__ import annotations

import subprocess
import sys

import requests

from server_process import ROOT, ServerProcess


def run_py(server: ServerProcess, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], env=server.env(),
                          cwd=server.workdir, capture_output=True, text=True, input=stdin, timeout=120)


def test_token_created_while_the_server_runs_works_at_once(tmp_path):
    server = ServerProcess(tmp_path / "hall")
    server.start()
    try:
        token = server.token("clerk", window=5)  # the last line of standard output
        r = requests.post(f"{server.url}/api/v1/halls/XS/windows/5/call",
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200 and r.json() == {"ticket": None}
        r = requests.post(f"{server.url}/api/v1/halls/XS/windows/6/call",
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 403
    finally:
        server.stop()


def test_token_errors_are_sentences_and_exit_2(tmp_path):
    server = ServerProcess(tmp_path / "hall")
    result = run_py(server, "token", "create", "--role", "clerk", "--hall", "XS")
    assert result.returncode == 2 and "--window" in result.stderr
    result = run_py(server, "token", "create", "--role", "kiosk", "--hall", "NOPE")
    assert result.returncode == 2 and "NOPE" in result.stderr


def test_staff_password_from_stdin_and_refusals(tmp_path):
    server = ServerProcess(tmp_path / "hall")
    ok = run_py(server, "staff", "password", "clerk01", "--password-stdin", stdin="s3cret-pass\n")
    assert ok.returncode == 0 and "clerk01" in ok.stdout
    short = run_py(server, "staff", "password", "clerk01", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least" in short.stderr
    unknown = run_py(server, "staff", "password", "nobody", "--password-stdin", stdin="s3cret-pass\n")
    assert unknown.returncode == 2 and "nobody" in unknown.stderr


def test_help_lists_the_options_of_the_contract(tmp_path):
    out = run_py(ServerProcess(tmp_path / "hall"), "--help").stdout
    for option in ("--config", "--database", "--host", "--port", "--clock", "--speed"):
        assert option in out


def test_a_bad_config_refuses_to_start_with_the_key_and_the_fix(tmp_path):
    server = ServerProcess(tmp_path / "hall")
    config = server.workdir / "config.toml"
    config.write_text(config.read_text().replace('prefix = "B"', 'prefix = "A"', 1))
    result = run_py(server, "migrate")
    assert result.returncode != 0
    assert "duplicate" in result.stderr.lower() and "prefix" in result.stderr
