// The mobile ticket page: people ahead and expected wait, live; "请到 5 号窗口" and a vibration when called.
"use strict";
(function () {
  const root = document.querySelector(".mobile");
  const id = parseInt(root.dataset.ticket, 10);
  const secret = root.dataset.secret;
  let ticket = JSON.parse(document.getElementById("ticket-data").textContent);

  function show(tk) {
    ticket = tk;
    document.getElementById("m-number").textContent = tk.number;
    document.getElementById("m-ahead").textContent = tk.status === "waiting" ? tk.ahead : "—";
    document.getElementById("m-wait").textContent = tk.status === "waiting" ? (Hall.minutes(tk.expected_wait_s) || "—") : "—";
    const call = document.getElementById("m-call");
    const atWindow = (tk.status === "called" || tk.status === "serving") && tk.window;
    call.hidden = !atWindow;
    if (atWindow) call.textContent = Hall.t("please_go", { n: tk.window });
    const status = { waiting: Hall.t("waiting"), called: "", serving: Hall.t("serving"), done: Hall.t("done"),
                     no_show: Hall.t("no_show"), cancelled: Hall.t("cancelled") }[tk.status] || "";
    document.getElementById("m-status").textContent = status;
    root.classList.toggle("called", !!atWindow);
  }

  // Every call and recall vibrates: a recall means the window is still waiting for this visitor.
  function called(tk) {
    show(tk);
    if (navigator.vibrate) navigator.vibrate([400, 200, 400, 200, 400]);
  }

  async function refresh() {
    try { show(await Hall.api("GET", "/api/v1/tickets/" + id + "?s=" + encodeURIComponent(secret))); }
    catch (err) { /* the next event tries again */ }
  }

  show(ticket);
  const socket = Hall.live({ ticket: id, secret }, {
    hallRoom: false,
    onSnapshot(snap) { if (snap.ticket) show(snap.ticket); },
    onEvent(name, ev) {
      if (name === "queue.changed") { refresh(); return; }
      if (!ev.ticket || ev.ticket.id !== id) return;
      if (name === "ticket.called" || name === "ticket.recalled") called(ev.ticket);
      else show(ev.ticket);
      // A transfer moves the ticket to another queue: reconnect to hear that queue's changes.
      if (name === "ticket.transferred" || (name === "ticket.finished" && ev.ticket.status === "waiting")) {
        socket.disconnect(); socket.connect();
      }
    },
  });
})();
