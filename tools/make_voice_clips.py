"""Generate the announcement clips (hall/static/voice/*.wav + manifest.json) with offline eSpeak NG.

Run once at setup: ``python tools/make_voice_clips.py`` (needs the ``voice`` extra,
``espeakng-loader``, which ships libespeak-ng and its Mandarin data). It skips the work
when the manifest is up to date; ``--force`` regenerates.
"""
from __future__ import annotations

import argparse
import array
import ctypes
import json
import math
import pathlib
import sys
import wave

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from displays.voice import CHIME, vocabulary  # noqa: E402

DEFAULT_OUT = ROOT / "hall" / "static" / "voice"
GENERATOR = 1  # bump when the way clips are made changes
VOICE = "cmn"
RATE_WPM = 150  # a little slower than eSpeak's 175: halls are noisy
PITCH = 50
VOLUME = 70  # eSpeak's 100 clips a few samples of some numbers
SILENCE = 300  # samples below this amplitude at either end are trimmed
PAD_S = 0.03

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class Speaker:
    """eSpeak NG through ctypes, synchronous, collecting 16-bit samples in memory."""

    def __init__(self) -> None:
        import espeakng_loader
        self.lib = ctypes.cdll.LoadLibrary(espeakng_loader.get_library_path())
        self.version = getattr(espeakng_loader, "__version__", "") or _dist_version("espeakng-loader")
        self.rate = self.lib.espeak_Initialize(2, 0, espeakng_loader.get_data_path().encode(), 0)
        if self.rate <= 0:
            raise RuntimeError("eSpeak NG failed to initialise")
        self._samples = array.array("h")
        self._callback = _CALLBACK(self._collect)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)
        if self.lib.espeak_SetVoiceByName(VOICE.encode()) != 0:
            raise RuntimeError(f"eSpeak NG has no voice {VOICE!r}")
        self.lib.espeak_SetParameter(1, RATE_WPM, 0)
        self.lib.espeak_SetParameter(2, VOLUME, 0)
        self.lib.espeak_SetParameter(3, PITCH, 0)

    def _collect(self, wav, count, events) -> int:
        if wav and count > 0:
            self._samples.frombytes(ctypes.string_at(wav, count * 2))
        return 0

    def say(self, text: str) -> array.array:
        self._samples = array.array("h")
        data = text.encode()
        status = self.lib.espeak_Synth(ctypes.c_char_p(data), ctypes.c_size_t(len(data) + 1), 0, 1, 0,
                                       1, None, None)  # POS_CHARACTER, espeakCHARS_UTF8
        if status != 0:
            raise RuntimeError(f"eSpeak NG could not say {text!r} (status {status})")
        self.lib.espeak_Synchronize()
        return trim(self._samples, self.rate)


def _dist_version(name: str) -> str:
    from importlib.metadata import version
    return version(name)


def trim(samples: array.array, rate: int) -> array.array:
    """Cut the silence at both ends, keep a short pad, and fade the edges against clicks."""
    loud = [i for i, s in enumerate(samples) if abs(s) > SILENCE]
    if not loud:
        return samples
    pad = int(PAD_S * rate)
    out = samples[max(0, loud[0] - pad):loud[-1] + pad]
    fade = min(int(0.005 * rate), len(out) // 2)
    for i in range(fade):
        out[i] = int(out[i] * i / fade)
        out[-1 - i] = int(out[-1 - i] * i / fade)
    return out


def chime(rate: int) -> array.array:
    """A two-note ding-dong (E5 then C5), decaying, with a soft overtone."""
    out = array.array("h")
    for freq in (659.25, 523.25):
        n = int(0.55 * rate)
        for i in range(n):
            t = i / rate
            env = math.exp(-4.0 * t) * min(1.0, i / (0.004 * rate))
            s = math.sin(2 * math.pi * freq * t) + 0.3 * math.sin(4 * math.pi * freq * t)
            out.append(int(9000 * env * s))
    return out


def write_wav(path: pathlib.Path, samples: array.array, rate: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())


def make_clips(out: pathlib.Path, force: bool = False, names: list[str] | None = None) -> dict:
    """Write every clip (or only ``names``) and the manifest; return the manifest."""
    words = vocabulary()
    if names is not None:
        words = {k: v for k, v in words.items() if k in names}
    speaker = Speaker()
    stamp = {"generator": GENERATOR, "engine": f"espeak-ng/espeakng-loader {speaker.version}",
             "voice": VOICE, "rate_wpm": RATE_WPM, "pitch": PITCH, "volume": VOLUME, "sample_rate": speaker.rate,
             "texts": words}
    manifest_path = out / "manifest.json"
    if not force and manifest_path.exists():
        old = json.loads(manifest_path.read_text(encoding="utf-8"))
        if old.get("stamp") == stamp and all((out / c["file"]).exists() for c in old["clips"].values()):
            return old
    out.mkdir(parents=True, exist_ok=True)
    clips = {}
    for name, text in [(CHIME, None), *words.items()]:
        samples = chime(speaker.rate) if text is None else speaker.say(text)
        write_wav(out / f"{name}.wav", samples, speaker.rate)
        clips[name] = {"file": f"{name}.wav", "duration": round(len(samples) / speaker.rate, 3)}
    manifest = {"stamp": stamp, "clips": clips}
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    parser.add_argument("--force", action="store_true", help="regenerate even when up to date")
    args = parser.parse_args(argv)
    try:
        manifest = make_clips(args.out, force=args.force)
    except ImportError:
        sys.exit("espeakng-loader is missing: pip install -e '.[voice]'")
    total = sum(c["duration"] for c in manifest["clips"].values())
    print(f"{len(manifest['clips'])} clips, {total:.1f} s of audio, in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
