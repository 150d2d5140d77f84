// The hall screen (综合屏): the called ticket large and flashing, recent calls, windows, waiting, notices.
"use strict";
(function () {
  const root = document.querySelector(".screen");
  const hall = root.dataset.hall;
  const token = Hall.deviceToken("screen", hall);
  const state = { queues: {}, windows: {}, recent: [], notices: [] };
  const RECENT = 6;
  Hall.clock(document.getElementById("clock"));
  if (!token) { Hall.showStatus(Hall.t("no_token")); return; }
  // Each call is announced twice (config [halls.voice]), one announcement after the other.
  // Browsers keep audio off until someone touches the screen once: say so until then.
  const voice = root.dataset.voice === "1" && window.HallVoice ? new HallVoice({
    repeat: Number(root.dataset.voiceRepeat) || 2,
    volume: Number(root.dataset.voiceVolume),
    onstate(info) {
      document.getElementById("voice-hint").hidden = info.state !== "blocked";
      root.dataset.voiceState = info.state;  // what the voice is doing, for a technician (and tests)
      if (info.ticket) root.dataset.voiceTicket = info.ticket + "@" + info.window;
    },
  }) : null;

  function flash(ticket, windowNumber) {
    const box = document.getElementById("callout");
    document.getElementById("callout-number").textContent = ticket.number;
    document.getElementById("callout-window").textContent = Hall.t("please_go", { n: windowNumber });
    box.classList.remove("flash");
    void box.offsetWidth;  // restart the animation for a recall of the same number
    box.classList.add("flash");
  }

  function render() {
    document.getElementById("recent").innerHTML = state.recent.slice(0, RECENT).map((c) =>
      "<li><b>" + esc(c.number) + "</b><span>" + esc(Hall.t("please_go", { n: c.window })) + "</span></li>").join("");
    const count = Object.keys(state.windows).length;
    root.classList.toggle("dense", count > 20);
    root.classList.toggle("very-dense", count > 36);
    document.getElementById("windows").innerHTML = Object.values(state.windows).map((w) => {
      const cls = w.state === "paused" ? "paused" : (w.state === "closed" ? "closed" : "");
      const paused = count > 20 ? Hall.t("paused_short") : Hall.t("paused");  // narrow tiles
      const text = w.state === "paused" ? paused : (w.state === "closed" ? Hall.t("closed_window") : (w.ticket || "—"));
      return '<div class="win ' + cls + '"><span class="n">' + w.number + '</span><span class="t">' + esc(text) + "</span></div>";
    }).join("");
    document.getElementById("queues").innerHTML = Object.values(state.queues).map((q) =>
      "<li><span>" + esc(q.prefix) + " " + esc(q.name) + "</span><b>" + q.waiting + "</b></li>").join("");
    const text = state.notices.join("　　◆　　");
    const marquee = document.getElementById("notices");
    if (marquee.dataset.text !== text) {
      marquee.dataset.text = text;
      marquee.innerHTML = text ? "<span>" + esc(text) + "</span>" : "";
      const span = marquee.firstChild;
      if (span) span.style.animationDuration = Math.max(20, text.length * 0.35) + "s";
    }
  }

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  }

  Hall.live({ token, hall }, {
    hallRoom: true,
    onSnapshot(snap) {
      Hall.showStatus("");
      state.queues = {}; (snap.queues || []).forEach((q) => { state.queues[q.prefix] = q; });
      state.windows = {}; (snap.windows || []).forEach((w) => { state.windows[w.number] = w; });
      state.recent = (snap.recent_calls || []).filter((t) => t.window).map((t) => ({ number: t.number, window: t.window }));
      state.notices = snap.notices || [];
      if (state.recent.length && document.getElementById("callout-number").textContent === "—") {
        document.getElementById("callout-number").textContent = state.recent[0].number;
        document.getElementById("callout-window").textContent = Hall.t("please_go", { n: state.recent[0].window });
      }
      render();
    },
    onEvent(name, ev) {
      if ((name === "ticket.called" || name === "ticket.recalled") && ev.ticket && ev.window) {
        state.recent = [{ number: ev.ticket.number, window: ev.window.number }]
          .concat(state.recent.filter((c) => c.number !== ev.ticket.number)).slice(0, 10);
        flash(ev.ticket, ev.window.number);
        if (voice) voice.announce(ev.ticket.number, ev.window.number);
      } else if (name === "window.changed" && ev.window) {
        state.windows[ev.window.number] = ev.window;
      } else if (name === "queue.changed" && ev.queue) {
        state.queues[ev.queue.prefix] = ev.queue;
      } else if (name === "notices.changed") {
        state.notices = ev.notices || [];
      }
      render();
    },
    onRefused(message) { Hall.showStatus(Hall.t("no_token") + " (" + message + ")"); },
  });
})();
