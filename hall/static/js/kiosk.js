// The kiosk (取号机): live queue counts, a priority choice, elderly mode, the ticket on screen with its QR code.
"use strict";
(function () {
  const root = document.querySelector(".kiosk");
  const hall = root.dataset.hall;
  const token = Hall.deviceToken("kiosk", hall);
  // Which kiosk this is (its printer in config.toml: kiosk = "K1"): given once as ?kiosk=K1, kept.
  const kioskName = new URLSearchParams(location.search).get("kiosk") ||
    localStorage.getItem("hall.kiosk.name");
  if (kioskName) localStorage.setItem("hall.kiosk.name", kioskName);
  const overlay = document.getElementById("ticket");
  let priority = "none";
  let printerOk = true;
  let closeTimer = null;

  if (!token) { Hall.showStatus(Hall.t("no_token")); return; }

  const elderlyBtn = document.getElementById("elderly");
  function setElderly(on) {
    document.body.classList.toggle("elderly", on);
    elderlyBtn.setAttribute("aria-pressed", on ? "true" : "false");
    localStorage.setItem("hall.kiosk.elderly", on ? "1" : "");
  }
  // Elderly mode is per visitor: it starts off, and ends with each ticket.
  elderlyBtn.addEventListener("click", () => setElderly(!document.body.classList.contains("elderly")));
  if (new URLSearchParams(location.search).get("elderly") === "1") setElderly(true);

  document.querySelectorAll("[data-priority]").forEach((chip) => chip.addEventListener("click", () => {
    priority = chip.dataset.priority;
    document.querySelectorAll("[data-priority]").forEach((c) => {
      c.classList.toggle("on", c === chip);
      c.setAttribute("aria-pressed", c === chip ? "true" : "false");
    });
  }));

  function showQueue(q) {
    const btn = root.querySelector('[data-queue="' + q.prefix + '"]');
    if (!btn) return;
    btn.disabled = !q.open;
    btn.querySelector("[data-waiting]").textContent = q.open ? Hall.t("waiting_n", { n: q.waiting }) : Hall.t("closed");
    btn.querySelector("[data-wait]").textContent = q.open ? Hall.minutes(q.expected_wait_s) : "";
  }

  function printerChanged(device) {
    if (!device || (device.kind && device.kind !== "printer")) return;
    if (kioskName && device.kiosk && device.kiosk !== kioskName) return;
    printerOk = device.ok !== false;  // paper near its end still prints: only "not ok" is a fault
  }

  Hall.live({ token, hall }, {
    hallRoom: true,
    onSnapshot(snap) {
      Hall.showStatus("");
      (snap.queues || []).forEach(showQueue);
      (snap.devices || []).forEach(printerChanged);
    },
    onEvent(name, ev) {
      if (name === "queue.changed" && ev.queue) showQueue(ev.queue);
      if (name === "device.changed") printerChanged(ev.device || ev);
    },
    onRefused(message) { Hall.showStatus(Hall.t("no_token") + " (" + message + ")"); },
  });

  root.querySelectorAll("[data-queue]").forEach((btn) => btn.addEventListener("click", async () => {
    if (btn.disabled) return;
    root.querySelectorAll("[data-queue]").forEach((b) => b.classList.add("busy"));
    try {
      const ticket = await Hall.api("POST", "/api/v1/halls/" + hall + "/tickets",
        Object.assign({ queue: btn.dataset.queue, priority, channel: "kiosk" },
                      kioskName ? { kiosk: kioskName } : {}), token);
      showTicket(ticket, btn.querySelector(".q-name").textContent);
    } catch (err) {
      Hall.showStatus(err.message);
      setTimeout(() => Hall.showStatus(""), 8000);
    } finally {
      root.querySelectorAll("[data-queue]").forEach((b) => b.classList.remove("busy"));
    }
  }));

  function showTicket(ticket, queueName) {
    const set = (k, v) => { overlay.querySelector('[data-t="' + k + '"]').textContent = v; };
    set("queue", queueName);
    set("number", ticket.number);
    set("ahead", Hall.t("ahead_n", { n: ticket.ahead }));
    set("wait", Hall.minutes(ticket.expected_wait_s));
    const secret = new URL(ticket.track_url).searchParams.get("s");
    overlay.querySelector('[data-t="qr"]').src =
      "/kiosk/" + hall + "/qr/" + ticket.id + ".svg?s=" + encodeURIComponent(secret);
    // The ticket is always shown on screen; the note says when the printer cannot print it.
    const printed = ticket.printed !== false && !(ticket.printer && ticket.printer.ok === false);
    overlay.querySelector('[data-t="printer"]').hidden = printed && printerOk;
    overlay.hidden = false;
    clearTimeout(closeTimer);
    closeTimer = setTimeout(closeTicket, 45000);
  }

  function closeTicket() {
    overlay.hidden = true;
    setElderly(false);
    document.querySelector('[data-priority="none"]').click();
  }
  document.getElementById("ticket-done").addEventListener("click", closeTicket);

  // 预约签到: a booking code (8 characters) or an ID number (18) → the appointment's ticket.
  const checkin = document.getElementById("checkin");
  const checkinInput = document.getElementById("checkin-input");
  const checkinError = document.getElementById("checkin-error");
  document.getElementById("checkin-open").addEventListener("click", () => {
    checkinInput.value = ""; checkinError.hidden = true; checkin.hidden = false; checkinInput.focus();
  });
  document.getElementById("checkin-close").addEventListener("click", () => { checkin.hidden = true; });
  document.getElementById("checkin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const value = checkinInput.value.trim();
    const key = value.length > 12 ? "id_number" : "code";
    try {
      const out = await Hall.api("POST", "/api/v1/halls/" + hall + "/appointments/check-in",
        Object.assign({ [key]: value }, kioskName ? { kiosk: kioskName } : {}), token);
      checkin.hidden = true;
      showTicket(out.ticket, out.appointment.queue_name);
      if (out.late) { Hall.showStatus(checkin.dataset.late); setTimeout(() => Hall.showStatus(""), 15000); }
    } catch (err) {
      checkinError.textContent = err.message; checkinError.hidden = false;
    }
  });
})();
