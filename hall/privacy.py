"""Visitors' personal data: kept only as a keyed hash (look-ups, caps) and a masked form."""
from __future__ import annotations

import hashlib
import hmac
import re

from hall.errors import DomainError

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
ID_RE = re.compile(r"^\d{17}[\dX]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def keyed_hash(value: str, key: bytes) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def normalise_phone(phone: str) -> str:
    digits = re.sub(r"[\s-]", "", phone or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not PHONE_RE.match(digits):
        raise DomainError("invalid_phone", "The phone number must be a mainland mobile number "
                          "of 11 digits starting with 1, e.g. 13812345678.", "phone")
    return digits


def normalise_id_number(id_number: str) -> str:
    value = (id_number or "").strip().upper()
    if not ID_RE.match(value):
        raise DomainError("invalid_id_number", "The ID number must have 18 characters: "
                          "17 digits and a last digit or X.", "id_number")
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS))
    if _ID_CHECK[total % 11] != value[17]:
        raise DomainError("invalid_id_number", "The ID number's check digit is wrong; "
                          "please check it was typed correctly.", "id_number")
    return value


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


def mask_id_number(id_number: str) -> str:
    return f"{id_number[:3]}{'*' * 11}{id_number[-4:]}"


def mask_name(name: str) -> str:
    """张三 → 张*; 欧阳娜娜 → 欧***: names on public screens show only the first character."""
    return name[:1] + "*" * (len(name) - 1) if name else name
