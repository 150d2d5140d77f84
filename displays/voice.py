"""Call announcements (叫号语音): the text, and the pre-recorded clips that speak it."""
from __future__ import annotations

import string

DEFAULT_TEMPLATE = "请{ticket}号到{window}号窗口办理"
CHIME = "chime"
DIGITS = "零一二三四五六七八九"
WORDS = {"qing": "请", "hao": "号", "dao": "到", "chuangkou": "窗口", "banli": "办理"}
MAX_WINDOW = 99


def chinese_number(n: int) -> str:
    """A window number 1–99 as it is said: 5 → 五, 12 → 十二, 20 → 二十, 99 → 九十九."""
    if not 1 <= n <= MAX_WINDOW:
        raise ValueError(f"window numbers are spoken for 1–{MAX_WINDOW}, not {n}")
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else DIGITS[tens] + "十")
    return head + (DIGITS[ones] if ones else "")


def _ticket_clips(ticket_number: str) -> list[str]:
    """A ticket number read one sign at a time: A023 → A 零 二 三."""
    clips = []
    for sign in ticket_number.strip().upper():
        if sign in string.ascii_uppercase:
            clips.append(f"letter_{sign}")
        elif sign in string.digits:
            clips.append(f"digit_{sign}")
        else:
            raise ValueError(f"ticket number {ticket_number!r}: cannot speak {sign!r}")
    if not clips:
        raise ValueError("empty ticket number")
    return clips


def announcement(ticket_number: str, window_number: int,
                 template: str = DEFAULT_TEMPLATE) -> str:
    """The sentence a hall screen says for a call: 请A023号到5号窗口办理."""
    return template.format(ticket=ticket_number.strip().upper(), window=window_number)


def clip_sequence(ticket_number: str, window_number: int, chime: bool = False) -> list[str]:
    """The clip names that say the default announcement, in order (optionally after the chime)."""
    chinese_number(window_number)  # validates the range
    clips = ["qing", *_ticket_clips(ticket_number), "hao", "dao",
             f"num_{window_number}", "hao", "chuangkou", "banli"]
    return [CHIME, *clips] if chime else clips


def vocabulary() -> dict[str, str]:
    """Every clip name and the Chinese text it speaks (the chime is a tone, not speech)."""
    clips = dict(WORDS)
    clips.update({f"letter_{c}": c for c in string.ascii_uppercase})
    clips.update({f"digit_{d}": DIGITS[int(d)] for d in string.digits})
    clips.update({f"num_{n}": chinese_number(n) for n in range(1, MAX_WINDOW + 1)})
    return clips
