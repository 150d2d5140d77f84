"""Which halls a caller may read: a hall and every hall below it by the config's parent links (市—区—街道—社区)."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from hall.directory import HallRef
from hall.models import Role
from hall.tokens import Principal

LEVELS = ("city", "district", "street", "community")


def below(halls: Mapping[str, HallRef], code: str | None) -> list[HallRef]:
    """``code`` and every hall under it (children after parents, config order); None = every hall."""
    if code is None:
        return list(halls.values())
    children: dict[str, list[HallRef]] = {}
    for hall in halls.values():
        if hall.settings.parent:
            children.setdefault(hall.settings.parent, []).append(hall)
    out, todo, seen = [], [code], set()
    while todo:
        current = todo.pop(0)
        if current in seen or current not in halls:
            continue  # the config refuses cycles; this only guards against a hand-made one
        seen.add(current)
        out.append(halls[current])
        todo.extend(h.code for h in children.get(current, ()))
    return out


def reads_tree(principal: Principal, halls: Mapping[str, HallRef]) -> bool:
    """A city token, or a manager of a city-level hall (市民之家): they read the halls below too."""
    if principal.hall_id is None:
        return False
    if principal.role is Role.CITY:
        return True
    if principal.role is not Role.MANAGER:
        return False
    own = next((h for h in halls.values() if h.id == principal.hall_id), None)
    return own is not None and own.settings.level == "city"


def widen(principal: Principal | None, halls: Mapping[str, HallRef]) -> Principal | None:
    """The principal with ``read_hall_ids`` set when it reads a tree of halls; unchanged otherwise."""
    if principal is None or not reads_tree(principal, halls):
        return principal
    own = next(h for h in halls.values() if h.id == principal.hall_id)
    ids = frozenset(h.id for h in below(halls, own.code))
    return dataclasses.replace(principal, read_hall_ids=ids)


def visible(principal: Principal, halls: Mapping[str, HallRef]) -> list[HallRef]:
    """The halls this principal may read, parents before children."""
    if principal.hall_id is None:
        return list(halls.values())
    own = next((h for h in halls.values() if h.id == principal.hall_id), None)
    if own is None:
        return []
    return [h for h in below(halls, own.code) if principal.in_hall(h)]
