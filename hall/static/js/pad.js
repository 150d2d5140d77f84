// The tablet evaluation pad (评价器): after each service at its window it asks 满意吗, takes the
// rating (with reasons for 不满意 / 非常不满意) and goes back to idle after a while.
"use strict";
(function () {
  const root = document.querySelector(".pad");
  const hall = root.dataset.hall;
  const number = parseInt(root.dataset.window, 10);
  const token = Hall.deviceToken("pad", hall);
  const ASK_MS = 60000, THANKS_MS = 4000;
  let current = null, timer = null;
  if (!token) { Hall.showStatus(Hall.t("no_token")); return; }

  function view(name) {
    ["idle", "ask", "thanks"].forEach((v) => { document.getElementById("p-" + v).hidden = v !== name; });
    root.dataset.view = name;
    clearTimeout(timer);
    if (name === "ask") timer = setTimeout(() => view("idle"), ASK_MS);
    if (name === "thanks") timer = setTimeout(() => view("idle"), THANKS_MS);
  }

  function ask(ticket) {
    current = ticket;
    document.getElementById("p-ticket").textContent = ticket.number;
    document.getElementById("p-reasons").hidden = true;
    document.getElementById("p-reasons").reset();
    view("ask");
  }

  async function rate(level, reasons) {
    if (!current) return;
    try {
      await Hall.api("POST", "/api/v1/tickets/" + current.id + "/rating",
                     { level, reasons, channel: "pad" }, token);
      current = null;
      view("thanks");
    } catch (err) {
      Hall.showStatus(err.message || Hall.t("error"));
      const code = err.body && err.body.error && err.body.error.code;
      if (code === "already_rated" || code === "nothing_to_rate") { current = null; view("idle"); }
    }
  }

  root.querySelectorAll("button.level").forEach((btn) => btn.addEventListener("click", () => {
    const level = parseInt(btn.dataset.level, 10);
    if (level <= 2) {  // a bad review names its reasons (好差评 rules)
      document.getElementById("p-reasons").hidden = false;
      document.getElementById("p-reasons").dataset.level = level;
      return;
    }
    rate(level, []);
  }));
  document.getElementById("p-reasons").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const reasons = Array.from(form.querySelectorAll("input[name=reason]:checked")).map((i) => i.value);
    if (!reasons.length) { Hall.showStatus(Hall.t("pick_reason")); return; }
    Hall.showStatus("");
    rate(parseInt(form.dataset.level, 10), reasons);
  });

  Hall.live({ token, hall, window: number }, {
    hallRoom: false,
    onSnapshot(snap) {
      Hall.showStatus("");
      const w = (snap.windows || []).find((x) => x.number === number);
      document.getElementById("p-clerk").textContent = (w && w.clerk) || "—";
    },
    onEvent(name, ev) {
      if (name === "window.changed" && ev.window && ev.window.number === number) {
        document.getElementById("p-clerk").textContent = ev.window.clerk || "—";
      }
      if (name === "ticket.finished" && ev.window && ev.window.number === number && ev.ticket) ask(ev.ticket);
    },
    onRefused(message) { Hall.showStatus(Hall.t("no_token") + " (" + message + ")"); },
  });
  view("idle");
})();
