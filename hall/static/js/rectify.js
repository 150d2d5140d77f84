// The managers' 差评整改 page: list and filter cases, and move them on (plain fetch, session + CSRF).
(function () {
  "use strict";
  var root = document.querySelector(".rectify");
  var hall = root.dataset.hall;
  var T = JSON.parse(document.getElementById("i18n").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var base = "/api/v1/halls/" + encodeURIComponent(hall) + "/rectifications";
  var form = document.getElementById("filters");
  var errorBox = document.getElementById("error");
  // The steps a case in each state can take (the server checks again).
  var NEXT = {open: ["verify", "appeal"], verified: ["rectify", "appeal"], rectified: ["call-back"],
              called_back: ["close", "rectify"], appealed: ["decide"], closed: []};

  function query() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (v, k) { if (v) params.append(k, v); });
    return params.toString();
  }

  function showError(text) { errorBox.textContent = text; errorBox.hidden = !text; }

  function cell(text) { var td = document.createElement("td"); td.textContent = text == null ? "" : text; return td; }

  function render(cases) {
    var body = document.getElementById("cases");
    body.textContent = "";
    if (!cases.length) { var tr = document.createElement("tr"); var td = cell(T.none); td.colSpan = 10; tr.appendChild(td); body.appendChild(tr); }
    cases.forEach(function (c) {
      var tr = document.createElement("tr");
      [c.id, c.ticket, c.department_name, c.window, c.clerk && c.clerk.name, c.level_name,
       c.reasons.join("、") + (c.comment ? "：" + c.comment : ""),
       c.due_on + (c.overdue ? " · " + T.overdue : ""), c.state_name].forEach(function (v) { tr.appendChild(cell(v)); });
      if (c.overdue) tr.className = "overdue";
      var actions = document.createElement("td");
      (NEXT[c.state] || []).forEach(function (action) {
        var b = document.createElement("button");
        b.className = "btn"; b.textContent = T[action];
        b.addEventListener("click", function () { act(c.id, action); });
        actions.appendChild(b);
      });
      tr.appendChild(actions);
      body.appendChild(tr);
    });
  }

  function load() {
    document.getElementById("export").href = base + ".csv?" + query();
    fetch(base + "?" + query(), {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.error) { showError(data.error.message); return; }
        showError(""); render(data.rectifications);
      }).catch(function () { showError(T.error); });
  }

  function askBody(action) {
    if (action === "call-back") {
      var view = {"1": "satisfied", "2": "basically_satisfied", "3": "dissatisfied"}[window.prompt(T.view, "1")];
      return view ? {visitor_view: view, note: window.prompt(T.note) || null} : null;
    }
    if (action === "appeal") {
      var kind = window.confirm(T.kind) ? "malicious" : "mistaken";
      var why = window.prompt(T.reason);
      return why ? {kind: kind, reason: why} : null;
    }
    if (action === "decide") {
      var decision = window.confirm(T.upheld) ? "upheld" : "rejected";
      var reason = window.prompt(T.reason);
      return reason ? {decision: decision, reason: reason} : null;
    }
    var note = window.prompt(T.note);
    return note === null ? null : {note: note || null};
  }

  function act(id, action) {
    var payload = askBody(action);
    if (!payload) return;
    fetch(base + "/" + id + "/" + action, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(payload)
    }).then(function (r) { return r.json(); }).then(function (data) {
      if (data.error) showError(data.error.message); else load();
    }).catch(function () { showError(T.error); });
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); load(); });
  load();
})();
