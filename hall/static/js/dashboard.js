// The manager's live dashboard: data from GET …/dashboard, kept live by /live events (Hall.live).
"use strict";
(function () {
  const root = document.getElementById("dash");
  const hall = root.dataset.hall;
  const token = Hall.deviceToken("manager", hall);
  const allQueues = JSON.parse(root.dataset.queues || "[]");
  if (!token && root.dataset.session !== "1") { location.href = root.dataset.login; return; }
  const t = Hall.t;
  let data = null, chart = null, refreshTimer = null, fetchedAt = 0;
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const mins = (s) => t("minutes_n", { n: Math.floor((s || 0) / 60) });

  async function refresh() {
    refreshTimer = null;
    try {
      data = await Hall.api("GET", "/api/v1/halls/" + hall + "/dashboard", undefined, token);
      fetchedAt = Date.now();
      Hall.showStatus("");
      render();
    } catch (err) {
      if (err.status === 401 && !token) { location.href = root.dataset.login; return; }
      Hall.showStatus(err.message);
    }
  }
  // Many events come in bursts (a call changes a ticket, a window and a queue): one fetch after.
  function refreshSoon() { if (!refreshTimer) refreshTimer = setTimeout(refresh, 800); }

  function render() {
    if (!data) return;
    const waiting = data.queues.reduce((n, q) => n + q.waiting, 0);
    $("k-waiting").textContent = waiting + " " + t("people");
    $("k-longest").textContent = mins(data.longest_wait_s);
    $("k-issued").textContent = data.today.issued;
    $("k-served").textContent = data.today.served;
    $("k-noshow").textContent = data.today.no_show;
    renderQueues(); renderWindows(); renderAlerts(); renderChart();
  }

  function renderQueues() {
    const body = $("queues");
    body.replaceChildren();
    const limit = data.thresholds.max_waiting;
    data.queues.forEach((q) => {
      const tr = el("tr", limit && q.waiting > limit ? "over" : "");
      tr.dataset.queue = q.prefix;
      tr.append(el("td", "", q.prefix + " " + q.name), el("td", "num", String(q.waiting)),
                el("td", "num", q.waiting ? mins(q.longest_wait_s) : "—"));
      body.append(tr);
    });
  }

  function windowState(w) { return w.device_offline && w.device_offline.length ? "offline" : w.state; }

  function renderWindows() {
    const counts = { serving: 0, idle: 0, paused: 0, closed: 0, offline: 0 };
    data.windows.forEach((w) => { counts[windowState(w)] += 1; });
    $("win-states").replaceChildren(...Object.keys(counts).map((s) =>
      el("span", "ws ws-" + s, t(s + "_w") + " " + counts[s])));
    const box = $("windows");
    box.replaceChildren();
    data.windows.forEach((w) => {
      const state = windowState(w);
      const card = el("div", "dw ws-" + state);
      card.dataset.window = w.number;
      card.title = w.name;
      card.append(el("b", "", String(w.number)));
      let line = t(state + "_w");
      if (w.state === "paused" && w.pause_reason) line += "·" + t(w.pause_reason);
      if (w.ticket) line += " " + w.ticket;
      if (state === "offline") line += " " + w.device_offline.join(",");
      card.append(el("span", "dw-state", line), el("span", "dw-queues", w.queues.join(" ")));
      const btn = el("button", "btn dw-switch", t("switch"));
      btn.type = "button";
      btn.addEventListener("click", () => openSwitch(w));
      card.append(btn);
      box.append(card);
    });
  }

  function renderAlerts() {
    const list = $("alerts");
    list.replaceChildren();
    if (!data.alerts.length) { list.append(el("li", "muted", t("no_alerts"))); return; }
    data.alerts.forEach((a) => {
      const li = el("li", "alert alert-" + a.kind);
      li.append(el("b", "", t(a.kind)), el("span", "", " " + a.message + " · " + t("helpers") + ": " +
        (a.helpers.length ? a.helpers.join("、") : t("none"))));
      list.append(li);
    });
  }

  function renderChart() {
    if (!window.echarts) return;
    if (!chart) {
      chart = echarts.init($("chart"));
      window.addEventListener("resize", () => chart.resize());
    }
    const c = data.curves;
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 40, right: 20, top: 36, bottom: 30 },
      xAxis: { type: "category", data: c.labels },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: t("arrivals"), type: "bar", data: c.arrivals, itemStyle: { color: "#0b5cad" } },
        { name: t("arrivals_before"), type: "line", data: c.arrivals_before, symbol: "none",
          lineStyle: { type: "dashed", color: "#7fa7d4" }, itemStyle: { color: "#7fa7d4" } },
        { name: t("waiting_c"), type: "line", data: c.waiting, itemStyle: { color: "#b3121b" } },
        { name: t("waiting_before"), type: "line", data: c.waiting_before, symbol: "none",
          lineStyle: { type: "dashed", color: "#e09a9e" }, itemStyle: { color: "#e09a9e" } },
      ],
    });
  }

  // Deltas first (the numbers move at once), then a fetch for curves, longest wait and totals.
  function onEvent(name, ev) {
    if (!data) return refreshSoon();
    if (name === "queue.changed" && ev.queue) {
      const q = data.queues.find((x) => x.prefix === ev.queue.prefix);
      if (q) q.waiting = ev.queue.waiting;
    } else if (name === "window.changed" && ev.window) {
      const w = data.windows.find((x) => x.number === ev.window.number);
      if (w) Object.assign(w, { state: ev.window.state, pause_reason: ev.window.pause_reason,
                                ticket: ev.window.ticket, queues: ev.window.queues, mode: ev.window.mode });
    } else if (name === "device.changed" && ev.device) {
      const d = ev.device;
      data.windows.forEach((w) => {
        const others = (w.device_offline || []).filter((n) => n !== d.name);
        w.device_offline = !d.ok && (d.windows || []).includes(w.number) ? others.concat([d.name]) : others;
      });
    } else if (name === "alert" && ev.alert) {
      data.alerts = data.alerts.filter((a) => !(a.kind === ev.alert.kind && a.queue === ev.alert.queue))
        .concat([ev.alert]);
    }
    render();
    refreshSoon();
  }

  // -- switching a window's queues -----------------------------------------------------------
  const dlg = $("switch-dlg"), form = $("switch-form");
  let switching = null;
  function openSwitch(w) {
    switching = w;
    $("switch-title").textContent = w.name + " · " + t("switch");
    $("switch-error").hidden = true;
    const box = $("switch-queues");
    box.replaceChildren();
    allQueues.forEach(([prefix, name]) => {
      const label = el("label", "sq");
      const check = el("input");
      check.type = "checkbox"; check.name = "q"; check.value = prefix;
      check.checked = w.queues.includes(prefix);
      const weight = el("input", "sq-weight");
      weight.type = "number"; weight.min = 1; weight.max = 100; weight.name = "w_" + prefix;
      weight.value = (w.weights && w.weights[prefix]) || 1;
      label.append(check, " " + prefix + " " + name + " ", weight);
      box.append(label);
    });
    form.elements.mode.value = w.mode || "order";
    if (dlg.showModal) dlg.showModal(); else dlg.setAttribute("open", "");
  }
  form.addEventListener("submit", async (e) => {
    if (e.submitter && e.submitter.value !== "save") return;
    e.preventDefault();
    const queues = [...form.querySelectorAll("input[name=q]:checked")].map((c) => c.value);
    const mode = form.elements.mode.value;
    const weights = {};
    if (mode === "weighted") queues.forEach((p) => { weights[p] = Number(form.elements["w_" + p].value) || 1; });
    try {
      await Hall.api("PUT", "/api/v1/halls/" + hall + "/windows/" + switching.number + "/queues",
                     { queues, mode, weights }, token);
      dlg.close();
      Hall.showStatus(t("saved"));
      setTimeout(() => Hall.showStatus(""), 2000);
      refreshSoon();
    } catch (err) {
      $("switch-error").textContent = err.message;
      $("switch-error").hidden = false;
    }
  });

  Hall.clock($("clock"));
  Hall.live(token ? { token, hall } : { hall }, {
    hallRoom: true,
    onSnapshot: () => refresh(),
    onEvent,
    onRefused: (msg) => { if (!token) location.href = root.dataset.login; else Hall.showStatus(msg); },
  });
  // The longest wait grows with no event at all: refetch now and then.
  setInterval(refresh, 30000);
})();
