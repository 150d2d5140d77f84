// The reports page of a hall's manager (/manage/<code>/reports) and of the city (/city/reports):
// filters → GET <base>/reports, a table, an ECharts chart, XLSX/CSV downloads.
// data-base is the API base (/api/v1/halls/<code> or /api/v1/city); the token is the one kept for
// data-token-kind and data-token-scope (manager of <code>, or city of all), else the login session.
"use strict";
(function () {
  const root = document.getElementById("reports");
  const keyTitles = JSON.parse(root.dataset.keys || "{}");
  const token = Hall.deviceToken(root.dataset.tokenKind, root.dataset.tokenScope);
  if (!token && root.dataset.session !== "1") { location.href = root.dataset.login; return; }
  const t = Hall.t;
  const $ = (id) => document.getElementById(id);
  const form = $("filters");
  const base = root.dataset.base;
  const columns = Array.from(document.querySelectorAll("th[data-key]")).map((th) => th.dataset.key);
  const RATES = { no_show_rate: 1, service_level: 1, utilisation: 1 };
  let chart = null;

  const iso = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
  const today = new Date();
  form.elements.to.value = iso(today);
  form.elements.from.value = iso(new Date(today.getFullYear(), today.getMonth(), 1, 12));

  function query() {
    return new URLSearchParams(new FormData(form)).toString();
  }
  function fmt(key, v) {
    if (v === null || v === undefined) return "—";
    return RATES[key] ? (v * 100).toFixed(1) + "%" : String(v);
  }
  function row(label, name, r, tag) {
    const tr = document.createElement("tr");
    const first = document.createElement(tag);
    first.textContent = name ? label + " " + name : label;
    tr.appendChild(first);
    columns.forEach((k) => {
      const td = document.createElement("td");
      td.className = "num";
      td.textContent = fmt(k, r[k]);
      tr.appendChild(td);
    });
    return tr;
  }
  function render(data) {
    $("key-title").textContent = keyTitles[data.by] || "";
    const body = $("rows"), foot = $("totals");
    body.textContent = ""; foot.textContent = "";
    if (!data.rows.length) {
      const tr = document.createElement("tr"), td = document.createElement("td");
      td.colSpan = columns.length + 1; td.textContent = t("none");
      tr.appendChild(td); body.appendChild(tr);
    }
    data.rows.forEach((r) => body.appendChild(row(r.key === null ? "—" : String(r.key), r.name, r, "td")));
    foot.appendChild(row(t("total"), "", data.total, "th"));
    const avg = document.createElement("tr");
    avg.innerHTML = "<th></th>";
    avg.firstChild.textContent = t("daily_avg") + " " + fmt("", data.total.daily_avg_issued);
    foot.appendChild(avg);
    renderChart(data);
  }
  function renderChart(data) {
    if (!window.echarts) return;
    if (!chart) {
      chart = echarts.init($("chart"));
      window.addEventListener("resize", () => chart.resize());
    }
    const labels = data.rows.map((r) => (r.name ? r.key + " " + r.name : String(r.key)));
    const pick = (k) => data.rows.map((r) => r[k]);
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 50, right: 50, top: 36, bottom: 30 },
      xAxis: { type: "category", data: labels },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", max: 1, axisLabel: { formatter: (v) => v * 100 + "%" } }],
      series: [
        { name: t("issued"), type: "bar", data: pick("issued"), itemStyle: { color: "#7fa7d4" } },
        { name: t("services"), type: "bar", data: pick("services"), itemStyle: { color: "#0b5cad" } },
        { name: t("avg_wait_m"), type: "line", data: pick("avg_wait_s").map((s) => (s === null ? null : +(s / 60).toFixed(1))),
          itemStyle: { color: "#b3121b" } },
        { name: t("service_level"), type: "line", yAxisIndex: 1, data: pick("service_level"),
          lineStyle: { type: "dashed" }, itemStyle: { color: "#2e7d32" } },
      ],
    }, true);
  }
  async function load() {
    Hall.showStatus(t("loading"));
    try {
      render(await Hall.api("GET", base + "/reports?" + query(), undefined, token));
      Hall.showStatus("");
    } catch (err) {
      if (err.status === 401 && !token) { location.href = root.dataset.login; return; }
      Hall.showStatus(err.message);
    }
  }
  // Downloads go through fetch so that a ?token= page sends its token too.
  async function download(kind) {
    const path = kind === "attendance.csv" ? "/attendance.csv" : "/reports." + kind;
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const res = await fetch(base + path + "?" + query(), { headers, credentials: "same-origin" });
    if (!res.ok) {
      const data = await res.json().catch(() => ({}));
      Hall.showStatus((data.error && data.error.message) || res.statusText);
      return;
    }
    const name = (res.headers.get("Content-Disposition") || "").split('filename="')[1] || "report";
    const a = document.createElement("a");
    a.href = URL.createObjectURL(await res.blob());
    a.download = name.replace(/"$/, "");
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  form.querySelectorAll("[data-download]").forEach((b) =>
    b.addEventListener("click", () => download(b.dataset.download)));
  load();
})();
