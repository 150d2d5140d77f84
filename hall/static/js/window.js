// The window screen (窗口屏): number and name, the current ticket, the clerk, 暂停服务 when paused.
"use strict";
(function () {
  const root = document.querySelector(".winscreen");
  const hall = root.dataset.hall;
  const number = parseInt(root.dataset.window, 10);
  const token = Hall.deviceToken("screen", hall);
  if (!token) { Hall.showStatus(Hall.t("no_token")); return; }

  function show(w) {
    const paused = w.state === "paused";
    // The default name repeats the number already shown large.
    document.getElementById("w-name").textContent = w.name === w.number + "号窗口" ? "" : w.name;
    document.getElementById("w-ticket").textContent = paused ? "" : (w.ticket || "—");
    document.getElementById("w-paused").hidden = !paused;
    document.getElementById("w-reason").textContent = paused && w.pause_reason ? Hall.t(w.pause_reason) : "";
    document.getElementById("w-clerk").textContent = w.clerk || "—";
    root.classList.toggle("paused", paused);
  }

  Hall.live({ token, hall, window: number }, {
    hallRoom: false,
    onSnapshot(snap) {
      Hall.showStatus("");
      const w = (snap.windows || []).find((x) => x.number === number);
      if (w) show(w);
    },
    onEvent(name, ev) {
      if (name === "window.changed" && ev.window && ev.window.number === number) show(ev.window);
      if (name === "ticket.called" || name === "ticket.recalled") {
        const el = document.getElementById("w-ticket");
        el.classList.remove("flash"); void el.offsetWidth; el.classList.add("flash");
      }
    },
    onRefused(message) { Hall.showStatus(Hall.t("no_token") + " (" + message + ")"); },
  });
})();
