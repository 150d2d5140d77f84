/* HallVoice: call announcements (叫号语音) from pre-recorded clips, queued, never overlapping. */
(function (root) {
  'use strict';

  var DIGITS = '零一二三四五六七八九';
  var GESTURES = ['pointerdown', 'keydown', 'touchstart'];

  // Mirrors displays/voice.py clip_sequence(); tests/test_voice.py checks they agree.
  function clipSequence(ticketNumber, windowNumber) {
    var ticket = String(ticketNumber).trim().toUpperCase();
    var win = Number(windowNumber);
    if (!ticket || !/^[A-Z0-9]+$/.test(ticket)) throw new Error('cannot speak ticket ' + ticketNumber);
    if (!(win >= 1 && win <= 99 && win === Math.floor(win))) throw new Error('cannot speak window ' + windowNumber);
    var clips = ['qing'];
    ticket.split('').forEach(function (c) {
      clips.push(/[0-9]/.test(c) ? 'digit_' + c : 'letter_' + c);
    });
    return clips.concat(['hao', 'dao', 'num_' + win, 'hao', 'chuangkou', 'banli']);
  }

  function announcementText(ticketNumber, windowNumber) {
    return '请' + String(ticketNumber).trim().toUpperCase() + '号到' + windowNumber + '号窗口办理';
  }

  function HallVoice(options) {
    options = options || {};
    this.manifestUrl = options.manifestUrl || '/static/voice/manifest.json';
    this.repeat = options.repeat == null ? 2 : Math.max(1, options.repeat | 0);
    this.volume = options.volume == null ? 1.0 : options.volume;
    this.gapMs = options.gapMs == null ? 400 : options.gapMs;
    this.chime = options.chime !== false;
    this.maxQueue = options.maxQueue || 20;
    this.onstate = options.onstate || null;
    this._AudioContext = options.AudioContext || root.AudioContext || root.webkitAudioContext;
    this._fetch = options.fetch || (root.fetch ? root.fetch.bind(root) : null);
    this._document = options.document || root.document || null;
    this._speech = options.speechSynthesis === undefined ? root.speechSynthesis : options.speechSynthesis;
    this._queue = [];
    this._busy = false;
    this._ctx = null;
    this._gain = null;
    this._manifest = null;
    this._buffers = {};
    this._onGesture = this._unlock.bind(this, true);
  }

  HallVoice.clipSequence = clipSequence;
  HallVoice.announcementText = announcementText;

  HallVoice.prototype.announce = function (ticketNumber, windowNumber) {
    this._queue.push({ticket: String(ticketNumber), window: Number(windowNumber)});
    // A screen left muted for hours should not read out the whole morning when unlocked.
    while (this._queue.length > this.maxQueue) this._queue.shift();
    this._pump();
  };

  HallVoice.prototype.setVolume = function (volume) {
    this.volume = volume;
    if (this._gain) this._gain.gain.value = volume;
  };

  HallVoice.prototype._state = function (state, item, extra) {
    if (!this.onstate) return;
    var info = {state: state, queued: this._queue.length};
    if (item) { info.ticket = item.ticket; info.window = item.window; }
    for (var k in extra || {}) info[k] = extra[k];
    try { this.onstate(info); } catch (e) { /* a broken listener must not stop the voice */ }
  };

  HallVoice.prototype._context = function () {
    if (!this._ctx && this._AudioContext) {
      var self = this;
      this._ctx = new this._AudioContext();
      this._gain = this._ctx.createGain();
      this._gain.gain.value = this.volume;
      this._gain.connect(this._ctx.destination);
      this._ctx.onstatechange = function () { self._pump(); };
      if (this._document) {
        GESTURES.forEach(function (g) { self._document.addEventListener(g, self._onGesture, true); });
      }
    }
    return this._ctx;
  };

  // Called by a user gesture, and once per blocked spell without one (Chrome leaves that
  // resume() pending until a gesture, so a gesture must not wait for it): autoplay rules.
  HallVoice.prototype._unlock = function (gesture) {
    var self = this;
    if (!this._ctx || (this._resuming && !gesture)) return;
    this._resuming = true;
    Promise.resolve(this._ctx.resume ? this._ctx.resume() : null).then(null, function () {})
      .then(function () {
        self._resuming = false;
        if (self._ctx.state !== 'running') return;
        if (self._document) {
          GESTURES.forEach(function (g) { self._document.removeEventListener(g, self._onGesture, true); });
        }
        self._pump();
      });
  };

  HallVoice.prototype._loadManifest = function () {
    var self = this;
    if (!this._manifest) {
      this._manifest = this._fetch(this.manifestUrl).then(function (r) {
        if (!r.ok) throw new Error('manifest ' + r.status);
        return r.json();
      });
      this._manifest.catch(function () { self._manifest = null; });  // try again next call
    }
    return this._manifest;
  };

  HallVoice.prototype._buffer = function (manifest, name) {
    var self = this;
    var clip = manifest.clips[name];
    if (!clip) return Promise.reject(new Error('no clip ' + name));
    if (!this._buffers[name]) {
      var url = this.manifestUrl.replace(/[^/]*$/, '') + clip.file;
      this._buffers[name] = this._fetch(url)
        .then(function (r) { if (!r.ok) throw new Error(url + ' ' + r.status); return r.arrayBuffer(); })
        .then(function (data) { return self._ctx.decodeAudioData(data); });
      this._buffers[name].catch(function () { delete self._buffers[name]; });
    }
    return this._buffers[name];
  };

  HallVoice.prototype._pump = function () {
    if (this._busy || !this._queue.length) return;
    var ctx = this._context();
    if (ctx && ctx.state !== 'running') {
      if (!this._blocked) { this._blocked = true; this._unlock(false); }
      this._state('blocked', null);  // waits for a gesture; onstatechange pumps again
      return;
    }
    this._blocked = false;
    var item = this._queue.shift();
    this._busy = true;
    var self = this;
    var finish = function (state, extra) {
      self._state(state, item, extra);
      setTimeout(function () { self._busy = false; self._pump(); }, self.gapMs);
    };
    if (!ctx || !this._fetch) { this._speak(item, finish); return; }
    this._state('loading', item);
    var names;
    this._loadManifest().then(function (manifest) {
      names = clipSequence(item.ticket, item.window);
      if (self.chime && manifest.clips.chime) names.unshift('chime');
      return Promise.all(names.map(function (n) { return self._buffer(manifest, n); }));
    }).then(function (buffers) {
      self._play(item, names, buffers, finish);
    }, function (err) {
      self._speak(item, finish, err);
    });
  };

  HallVoice.prototype._play = function (item, names, buffers, finish) {
    var ctx = this._ctx;
    var at = ctx.currentTime + 0.05;
    var last = null;
    var played = [];
    var first = this.chime && names[0] === 'chime' ? 1 : 0;
    for (var r = 0; r < this.repeat; r++) {
      for (var i = r === 0 ? 0 : first; i < buffers.length; i++) {
        last = ctx.createBufferSource();
        last.buffer = buffers[i];
        last.connect(this._gain);
        last.start(at);
        played.push({clip: names[i], at: at, duration: buffers[i].duration});
        at += buffers[i].duration;
      }
      at += this.gapMs / 1000;
    }
    this._state('playing', item, {clips: played});
    last.onended = function () { finish('idle', {clips: played}); };
  };

  // Fallback without clips (setup did not make them) or without Web Audio: the browser's voice.
  HallVoice.prototype._speak = function (item, finish, err) {
    var speech = this._speech;
    var Utterance = root.SpeechSynthesisUtterance;
    if (!speech || !Utterance) { finish('error', {error: String(err || 'no audio')}); return; }
    var self = this;
    var left = this.repeat;
    var next = function () {
      if (left-- <= 0) { finish('idle', {speech: true}); return; }
      var u = new Utterance(announcementText(item.ticket, item.window));
      u.lang = 'zh-CN';
      u.volume = self.volume;
      u.onend = u.onerror = next;
      speech.speak(u);
    };
    this._state('playing', item, {speech: true});
    next();
  };

  if (typeof module !== 'undefined' && module.exports) module.exports = HallVoice;
  else root.HallVoice = HallVoice;
})(typeof window !== 'undefined' ? window : globalThis);
