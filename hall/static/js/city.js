// The city view: every visible hall's figures from GET /api/v1/city, a row refreshed after its hall's events.
"use strict";
(function () {
  const root = document.getElementById("city");
  const token = Hall.deviceToken("city", "all");
  if (!token && root.dataset.session !== "1") { location.href = root.dataset.login; return; }
  const t = Hall.t;
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const mins = (s) => t("minutes_n", { n: Math.floor((s || 0) / 60) });
  const pct = (r) => (r === null || r === undefined ? "—" : (r * 100).toFixed(1) + "%");
  const LEVELS = ["city", "district", "street", "community"];
  let halls = [];            // rows of the city view, by level then code
  const timers = {};         // hall code → pending refresh of its row

  function render() {
    let waiting = 0, longest = 0, open = 0, served = 0, ratings = 0, good = 0;
    halls.forEach((h) => {
      waiting += h.waiting; longest = Math.max(longest, h.longest_wait_s);
      open += h.open_windows; served += h.served;
      if (h.good_rate !== null) { ratings += h.ratings; good += h.good_rate * h.ratings; }
    });
    $("k-waiting").textContent = waiting + " " + t("people");
    $("k-longest").textContent = mins(longest);
    $("k-windows").textContent = String(open);
    $("k-served").textContent = String(served);
    $("k-good").textContent = ratings ? pct(good / ratings) : "—";
    const body = $("halls");
    body.replaceChildren();
    LEVELS.forEach((level) => {
      const rows = halls.filter((h) => h.level === level);
      if (!rows.length) return;
      const head = el("tr", "group");
      const th = el("th", "", t("lv_" + level) + " (" + rows.length + ")");
      th.colSpan = 8;
      head.append(th);
      body.append(head);
      rows.forEach((h) => {
        const tr = el("tr");
        tr.dataset.hall = h.code;
        const link = el("a", "", t("details"));
        link.href = "/manage/" + encodeURIComponent(h.code);
        const name = el("td", "", h.name + " (" + h.code + ") ");
        name.append(el("small", "muted", h.open ? t("open_h") : t("closed_h")));
        const action = el("td");
        action.append(link);
        tr.append(name, el("td", "num", String(h.waiting)),
                  el("td", "num", h.waiting ? mins(h.longest_wait_s) : "—"),
                  el("td", "num", h.open_windows + " / " + h.windows),
                  el("td", "num", String(h.served)), el("td", "num", pct(h.evaluation_rate)),
                  el("td", "num", pct(h.good_rate)), action);
        body.append(tr);
      });
    });
  }

  function load(snap) { halls = snap.halls || []; render(); }

  async function refreshRow(code) {
    delete timers[code];
    try {
      const data = await Hall.api("GET", "/api/v1/city?hall=" + encodeURIComponent(code), undefined, token);
      const row = (data.halls || [])[0];
      const i = halls.findIndex((h) => h.code === code);
      if (row && i >= 0) { halls[i] = row; render(); }
      Hall.showStatus("");
    } catch (err) {
      if (err.status === 401 && !token) { location.href = root.dataset.login; return; }
      Hall.showStatus(err.message);
    }
  }
  // A call changes a ticket, a window and a queue at once: one fetch per hall after the burst.
  function refreshSoon(code) { if (code && !timers[code]) timers[code] = setTimeout(() => refreshRow(code), 1000); }

  const names = ["ticket.issued", "ticket.called", "ticket.recalled", "ticket.no_show",
    "ticket.finished", "ticket.transferred", "ticket.cancelled", "ticket.rated",
    "window.changed", "queue.changed"];
  const auth = token ? { token, city: true } : { city: true };
  const socket = io("/live", { auth, reconnectionDelay: 500, reconnectionDelayMax: 3000 });
  socket.on("snapshot", load);
  names.forEach((name) => socket.on(name, (ev) => refreshSoon(ev && ev.hall)));
  const offline = $("offline");
  socket.on("connect", () => { if (offline) offline.hidden = true; });
  socket.on("disconnect", () => { if (offline) offline.hidden = false; });
  socket.on("connect_error", (err) => {
    if (offline) offline.hidden = false;
    if (err && err.message && !/xhr|websocket|timeout/i.test(err.message)) Hall.showStatus(err.message);
  });
  Hall.clock($("clock"));
})();
