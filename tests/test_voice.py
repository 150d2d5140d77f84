"""Call announcements: clip sequences, the clip generator, and the browser queue (under node)."""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import wave

import pytest

from displays.voice import announcement, chinese_number, clip_sequence, vocabulary

ROOT = pathlib.Path(__file__).resolve().parent.parent
VOICE_JS = ROOT / "hall" / "static" / "js" / "voice.js"
TAIL = ["hao", "chuangkou", "banli"]


def test_a023_at_window_5():
    assert clip_sequence("A023", 5) == [
        "qing", "letter_A", "digit_0", "digit_2", "digit_3", "hao", "dao", "num_5", *TAIL]


def test_b100_at_window_12():
    assert clip_sequence("B100", 12) == [
        "qing", "letter_B", "digit_1", "digit_0", "digit_0", "hao", "dao", "num_12", *TAIL]


@pytest.mark.parametrize(("window", "spoken"), [(5, "五"), (10, "十"), (12, "十二"), (20, "二十"),
                                                (23, "二十三"), (99, "九十九")])
def test_window_numbers_are_said_as_numbers(window, spoken):
    assert clip_sequence("A001", window)[-5:] == ["dao", f"num_{window}", *TAIL]
    assert chinese_number(window) == spoken
    assert vocabulary()[f"num_{window}"] == spoken


def test_chime_and_lower_case():
    assert clip_sequence("k7", 20, chime=True)[:4] == ["chime", "qing", "letter_K", "digit_7"]


@pytest.mark.parametrize(("ticket", "window"), [("A-1", 5), ("", 5), ("A1", 0), ("A1", 100)])
def test_unspeakable_calls_are_refused(ticket, window):
    with pytest.raises(ValueError):
        clip_sequence(ticket, window)


def test_announcement_text():
    assert announcement("a023", 5) == "请A023号到5号窗口办理"
    assert announcement("A023", 5, "{ticket}号请到{window}号窗口") == "A023号请到5号窗口"


def test_vocabulary_covers_every_clip():
    words = vocabulary()
    assert len(words) == 5 + 26 + 10 + 99
    assert words["digit_0"] == "零" and words["letter_Z"] == "Z" and words["chuangkou"] == "窗口"


def test_generator_writes_playable_clips_once(tmp_path):
    pytest.importorskip("espeakng_loader")
    from tools.make_voice_clips import make_clips
    manifest = make_clips(tmp_path)
    clips = manifest["clips"]
    assert set(clips) == {"chime", *vocabulary()}
    for name in clip_sequence("A023", 5):
        with wave.open(str(tmp_path / clips[name]["file"])) as wav:
            assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
            assert 0.1 < wav.getnframes() / wav.getframerate() == pytest.approx(clips[name]["duration"], abs=0.002)
    said = sum(clips[n]["duration"] for n in clip_sequence("A023", 5))
    assert 2.0 < said < 5.0
    stamp = (tmp_path / "qing.wav").stat().st_mtime_ns
    assert make_clips(tmp_path) == manifest
    assert (tmp_path / "qing.wav").stat().st_mtime_ns == stamp  # up to date: nothing rewritten
    assert json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8")) == manifest


# --- the browser side, run under node with a fake Web Audio clock (50× real time) ---

HARNESS = r"""
const HallVoice = require(process.argv[2]);
const cases = JSON.parse(process.argv[3]);
const SPEED = 50, t0 = Date.now();
const durations = {chime: 1.1};
for (const name of Object.keys(cases.vocabulary)) durations[name] = 0.3;
const manifest = {clips: {}};
for (const name of Object.keys(durations)) manifest.clips[name] = {file: name + '.wav', duration: durations[name]};
const played = [];
let gestureAllowed = false;
class FakeContext {
  constructor() { this.state = 'suspended'; this.destination = {}; }
  get currentTime() { return (Date.now() - t0) / 1000 * SPEED; }
  createGain() { return {gain: {value: 1}, connect() {}}; }
  resume() {
    if (gestureAllowed && this.state !== 'running') { this.state = 'running'; this.onstatechange && this.onstatechange(); }
    return Promise.resolve();
  }
  decodeAudioData(data) { return Promise.resolve({duration: durations[data.name], name: data.name}); }
  createBufferSource() {
    const ctx = this;
    return {connect() {}, start(at) {
      played.push({clip: this.buffer.name, at, end: at + this.buffer.duration});
      const ms = (at + this.buffer.duration - ctx.currentTime) / SPEED * 1000;
      setTimeout(() => this.onended && this.onended(), Math.max(0, ms));
    }};
  }
}
const listeners = {};
const doc = {addEventListener(g, f) { listeners[g] = f; }, removeEventListener(g) { delete listeners[g]; }};
const fetch = (url) => Promise.resolve({ok: true,
  json: () => Promise.resolve(manifest),
  arrayBuffer: () => Promise.resolve({name: url.split('/').pop().replace('.wav', '')})});
const states = [];
const voice = new HallVoice({manifestUrl: '/static/voice/manifest.json', repeat: 2, gapMs: 400,
  AudioContext: FakeContext, fetch, document: doc, speechSynthesis: null,
  onstate: (s) => states.push(s.state + (s.ticket ? ':' + s.ticket : ''))});
const sequences = {};
for (const [t, w] of cases.calls) sequences[t + '@' + w] = HallVoice.clipSequence(t, w);
voice.announce('A023', 5);
voice.announce('B100', 12);
setTimeout(() => {
  const blockedFor = played.length;
  gestureAllowed = true;
  listeners.pointerdown();                   // the first touch on the screen unlocks audio
  voice.announce('C007', 20);
  setTimeout(() => console.log(JSON.stringify({sequences, played, states, blockedFor})), 2500);
}, 100);
"""


@pytest.fixture
def node():
    path = shutil.which("node")
    if path is None:
        pytest.skip("node is not installed")
    return path


def run_harness(node, tmp_path, calls):
    script = tmp_path / "harness.js"
    script.write_text(HARNESS, encoding="utf-8")
    args = json.dumps({"calls": calls, "vocabulary": vocabulary()})
    out = subprocess.run([node, str(script), str(VOICE_JS), args], capture_output=True,
                         text=True, timeout=30, check=True)
    return json.loads(out.stdout)


def test_browser_sequences_match_python(node, tmp_path):
    calls = [["A023", 5], ["B100", 12], ["c7", 20], ["Z999", 99], ["K0", 10], ["A1", 1]]
    result = run_harness(node, tmp_path, calls)
    for ticket, window in calls:
        assert result["sequences"][f"{ticket}@{window}"] == clip_sequence(ticket, window)


def test_browser_queue_waits_for_a_gesture_then_never_overlaps(node, tmp_path):
    result = run_harness(node, tmp_path, [])
    assert result["blockedFor"] == 0  # nothing played while autoplay was blocked
    assert "blocked" in result["states"]
    played = result["played"]
    expected = []
    for ticket, window in (("A023", 5), ("B100", 12), ("C007", 20)):
        words = clip_sequence(ticket, window)
        expected += ["chime", *words, *words]  # the chime once, the words twice
    assert [p["clip"] for p in played] == expected
    for before, after in zip(played, played[1:]):
        assert after["at"] >= before["end"] - 1e-6
    playing = [s for s in result["states"] if s.startswith("playing")]
    assert playing == ["playing:A023", "playing:B100", "playing:C007"]
