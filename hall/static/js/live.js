// Shared by the hall pages: translated strings, device tokens, the JSON API, and /live with resync.
"use strict";
window.Hall = (function () {
  const T = JSON.parse(document.getElementById("i18n").textContent || "{}");

  function t(key, params) {
    let s = T[key] || key;
    for (const k in params || {}) s = s.split("{" + k + "}").join(String(params[k]));
    return s;
  }

  // A device page is opened once as ?token=…; the token then lives in this browser only.
  function deviceToken(kind, hall) {
    const key = "hall.token." + kind + "." + hall;
    const url = new URL(location.href);
    const given = url.searchParams.get("token");
    if (given) {
      localStorage.setItem(key, given);
      url.searchParams.delete("token");
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
    return localStorage.getItem(key);
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  class ApiError extends Error {
    constructor(message, status, body) { super(message); this.status = status; this.body = body; }
  }

  async function api(method, path, body, token) {
    const headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers["Authorization"] = "Bearer " + token;
    else headers["X-CSRFToken"] = csrfToken();
    let res;
    try {
      res = await fetch(path, { method, headers, credentials: "same-origin",
                                body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new ApiError(t("offline"), 0, null);
    }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new ApiError((data.error && data.error.message) || res.statusText, res.status, data);
    return data;
  }

  function showStatus(text) {
    const el = document.getElementById("status");
    if (!el) return;
    el.textContent = text || "";
    el.hidden = !text;
  }

  // How long a hall page holds events that came after a gap, waiting for the missing one, before
  // it asks for a new snapshot. With several server processes, one hall's events can reach a
  // page out of order (each process forwards its own through Redis): mostly by milliseconds.
  const GAP_WAIT_MS = 1000;

  // Connect to /live; call onSnapshot(snap) and onEvent(name, event) in seq order.
  // hallRoom: every seq of the hall arrives, so a gap means a late or missed event: the events
  // after it wait (GAP_WAIT_MS) for it, then the page asks for a snapshot.
  function live(auth, opts) {
    const names = ["ticket.issued", "ticket.called", "ticket.recalled", "ticket.no_show",
      "ticket.finished", "ticket.transferred", "ticket.cancelled", "ticket.rated",
      "window.changed", "queue.changed", "device.changed", "alert", "notices.changed"];
    const offline = document.getElementById("offline");
    const socket = io("/live", { auth, reconnectionDelay: 500, reconnectionDelayMax: 3000 });
    let seq = -1;
    // seq → [name, event] not applied yet: arrived before the snapshot (an event committed while
    // the snapshot was being read reaches the client first), or after a gap.
    const held = new Map();
    let gapTimer = null;
    function catchUp() {  // apply the held events that follow on; wait for the rest, or resync
      for (const k of [...held.keys()]) if (k <= seq) held.delete(k);
      if (seq < 0) return;  // kept for the snapshot
      for (const k of [...held.keys()].sort((a, b) => a - b)) {
        if (opts.hallRoom && k !== seq + 1) break;
        const [name, ev] = held.get(k);
        held.delete(k);
        seq = ev.seq;
        opts.onEvent(name, ev);
      }
      if (held.size === 0) {
        clearTimeout(gapTimer);
        gapTimer = null;
      } else if (gapTimer === null) {
        gapTimer = setTimeout(() => { gapTimer = null; socket.emit("resync"); }, GAP_WAIT_MS);
      }
    }
    socket.on("snapshot", (snap) => {
      seq = snap.seq;
      if (snap.at) skewMs = Date.parse(snap.at) - Date.now();
      if (snap.timezone) timeZone = snap.timezone;
      opts.onSnapshot(snap);
      catchUp();
    });
    names.forEach((name) => socket.on(name, (ev) => {
      if (seq >= 0 && ev.seq <= seq) return;  // already part of the snapshot
      held.set(ev.seq, [name, ev]);  // applied at once when it follows on
      catchUp();
    }));
    socket.on("connect", () => { if (offline) offline.hidden = true; });
    socket.on("disconnect", () => { if (offline) offline.hidden = false; });
    socket.on("connect_error", (err) => {
      if (offline) offline.hidden = false;
      // A refused token is final: the server said why; retrying would not help.
      if (err && err.message && !/xhr|websocket|timeout/i.test(err.message) && opts.onRefused) {
        opts.onRefused(err.message);
      }
    });
    return socket;
  }

  function minutes(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds <= 0) return t("no_wait");
    return t("wait_about", { n: Math.max(1, Math.round(seconds / 60)) });
  }

  // The hall clock can differ from the browser's (a demo or a replay runs --clock): every
  // snapshot carries the server's time, and the page's clock follows it.
  let skewMs = 0;
  let timeZone;  // the hall's, from the snapshot: a screen shows the hall's time wherever it runs
  function clock(el) {
    const tick = () => {
      el.textContent = new Date(Date.now() + skewMs).toLocaleTimeString(
        "zh-CN", timeZone ? { hour12: false, timeZone } : { hour12: false });
    };
    tick();
    setInterval(tick, 1000);
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + String(s).padStart(2, "0");
  }

  return { t, deviceToken, api, live, showStatus, minutes, clock, duration, ApiError };
})();
