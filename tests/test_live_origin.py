"""/live accepts browsers only from the server's own pages: another site's page cannot connect
(it would otherwise ride on a signed-in clerk's cookie)."""
from __future__ import annotations

import requests

from server_process import ServerProcess


def test_foreign_origin_is_refused_and_own_origin_accepted(tmp_path):
    server = ServerProcess(tmp_path / "hall")
    server.start()
    try:
        handshake = f"{server.url}/socket.io/?EIO=4&transport=polling"
        foreign = requests.get(handshake, headers={"Origin": "http://evil.example"}, timeout=10)
        assert foreign.status_code == 400
        own = requests.get(handshake, headers={"Origin": server.url}, timeout=10)
        assert own.status_code == 200 and own.text.startswith("0{")
        no_origin = requests.get(handshake, timeout=10)  # devices and scripts send none
        assert no_origin.status_code == 200
    finally:
        server.stop()
