"""Every string the pages and the API messages mark for translation (babel.cfg) has an English
translation in hall/translations/en: a page switched to English shows no Chinese left behind."""
from __future__ import annotations

import pathlib

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = pathlib.Path(__file__).resolve().parent.parent
CATALOG = ROOT / "hall/translations/en/LC_MESSAGES/messages.po"


def test_every_marked_string_has_an_english_translation():
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    used = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(str(ROOT), method_map, options_map):
        msgid = message[0] if isinstance(message, tuple) else message
        used.setdefault(msgid, filename)
    assert len(used) > 150  # the extraction found the pages' strings
    with CATALOG.open("rb") as f:
        catalog = read_po(f)
    missing = {msgid: where for msgid, where in used.items()
               if catalog.get(msgid) is None or not catalog.get(msgid).string}
    assert not missing, f"add these to {CATALOG.relative_to(ROOT)}: {missing}"
