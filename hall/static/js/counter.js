// The clerk workstation: call, recall, no-show, finish, transfer, pause/resume; live waiting list and timers.
"use strict";
(function () {
  const root = document.querySelector(".counter");
  const hall = root.dataset.hall;
  const number = parseInt(root.dataset.window, 10);
  const base = "/api/v1/halls/" + hall + "/windows/" + number + "/";
  const errorBox = document.getElementById("error");
  let state = null;
  let skew = 0;  // server clock minus browser clock, so timers follow the hall's clock
  let busy = false;
  let refreshTimer = null;

  function showError(message) {
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  function enable() {
    const w = state ? state.window : null;
    const has = !!(state && state.current);
    const paused = w && w.state === "paused";
    const allowed = {
      call: !!w && !paused, recall: has, "no-show": has, finish: has, transfer: has,
      pause: !!w && !has && w.state !== "paused", resume: !!paused,
    };
    root.querySelectorAll("[data-action]").forEach((b) => { b.disabled = busy || !allowed[b.dataset.action]; });
  }

  function render() {
    const w = state.window, c = state.current;
    document.getElementById("w-state").textContent =
      w.state === "paused" ? Hall.t("paused") + (w.pause_reason ? " · " + Hall.t(w.pause_reason) : "") :
      (w.state === "serving" ? Hall.t("serving") : (w.state === "idle" ? Hall.t("idle") : Hall.t("closed_window")));
    root.classList.toggle("paused", w.state === "paused");
    document.getElementById("c-number").textContent = c ? c.number : "—";
    document.getElementById("c-meta").textContent = c ? [c.queue, c.priority !== "none" ? Hall.t("prio_" + c.priority) : "", Hall.t("st_" + c.status)].filter(Boolean).join(" · ") : "";
    document.getElementById("c-waited").textContent = c && c.waited_s != null ? Hall.duration(c.waited_s) : "—";
    ["done", "no_show", "transferred"].forEach((k) => { document.getElementById("t-" + k).textContent = state.today[k]; });
    document.getElementById("w-total").textContent = state.waiting_total;
    const now = Date.now() + skew;
    document.getElementById("waiting").innerHTML = state.waiting.length ? state.waiting.map((t) =>
      '<li><b>' + t.number + '</b><span class="prio">' + (t.priority !== "none" ? Hall.t("prio_" + t.priority) : "") +
      '</span><span class="since" data-since="' + t.waiting_since + '">' + Hall.duration((now - Date.parse(t.waiting_since)) / 1000) + "</span></li>").join("")
      : "<li class=\"empty\">" + Hall.t("nobody") + "</li>";
    tick();
    enable();
  }

  function tick() {
    if (!state) return;
    const now = Date.now() + skew;
    const c = state.current;
    document.getElementById("c-service").textContent = c && c.called_at ? Hall.duration((now - Date.parse(c.called_at)) / 1000) : "—";
    document.querySelectorAll("[data-since]").forEach((el) => { el.textContent = Hall.duration((now - Date.parse(el.dataset.since)) / 1000); });
  }
  setInterval(tick, 1000);

  async function load() {
    try {
      state = await Hall.api("GET", "/counter/" + hall + "/" + number + "/state");
      skew = Date.parse(state.now) - Date.now();
      render();
    } catch (err) {
      showError(err.message);
    }
  }

  // Many events can arrive at once (a busy hall): fetch the state once for a burst.
  function soon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(load, 150);
  }

  async function act(action) {
    let body;
    if (action === "transfer") {
      const [kind, value] = document.getElementById("transfer-to").value.split(":");
      body = kind === "queue" ? { queue: value } : { window: parseInt(value, 10) };
    } else if (action === "pause") {
      body = { reason: document.getElementById("pause-reason").value };
    }
    busy = true; enable();
    try {
      await Hall.api("POST", base + action, body);
      showError("");
    } catch (err) {
      showError(err.message);
    } finally {
      busy = false;
      await load();
    }
  }

  root.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", () => act(b.dataset.action)));
  const keys = { F1: "call", F2: "recall", F3: "no-show", F4: "finish", F6: "transfer", F7: "pause", F8: "resume" };
  document.addEventListener("keydown", (e) => {
    const action = keys[e.key];
    if (!action) return;
    e.preventDefault();  // F1 would open the browser's help
    const btn = root.querySelector('[data-action="' + action + '"]');
    if (btn && !btn.disabled) act(action);
  });

  Hall.live({ hall }, {
    hallRoom: true,
    onSnapshot() { load(); },
    onEvent() { soon(); },
    onRefused(message) { showError(message); },
  });
  load();
})();
