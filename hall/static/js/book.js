// The public booking page (预约): pick a queue, a day and a slot; book with ID and phone; cancel by code.
"use strict";
(function () {
  const root = document.querySelector(".book");
  const form = document.getElementById("book-form");
  if (!root || !form) return;
  const hall = root.dataset.hall;
  const queueSel = document.getElementById("queue");
  const dateSel = document.getElementById("date");
  const slotsBox = document.getElementById("slots");
  let start = null;

  function fail(err) { Hall.showStatus(err.message); }

  async function load(date) {
    start = null;
    const q = "queue=" + encodeURIComponent(queueSel.value) + (date ? "&date=" + date : "");
    const data = await Hall.api("GET", "/api/v1/halls/" + hall + "/appointments/slots?" + q).catch(fail);
    if (!data) return;
    if (!date) {
      dateSel.replaceChildren(...data.bookable_dates.map((d) => new Option(d, d)));
    }
    slotsBox.replaceChildren();
    if (!data.slots.length) slotsBox.textContent = Hall.t("no_slots");
    data.slots.forEach((s) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "chip";
      b.disabled = !data.bookable || s.free <= 0;
      b.textContent = s.start + "–" + s.end + " · " + (s.free > 0 ? Hall.t("free_n", { n: s.free }) : Hall.t("full"));
      b.addEventListener("click", () => {
        start = s.start;
        slotsBox.querySelectorAll(".chip").forEach((c) => c.classList.toggle("on", c === b));
      });
      slotsBox.appendChild(b);
    });
  }

  queueSel.addEventListener("change", () => load(null));
  dateSel.addEventListener("change", () => load(dateSel.value));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!start) { Hall.showStatus(Hall.t("choose_slot")); return; }
    try {
      const a = await Hall.api("POST", "/api/v1/halls/" + hall + "/appointments", {
        queue: queueSel.value, date: dateSel.value, start,
        id_number: document.getElementById("id_number").value,
        phone: document.getElementById("phone").value,
      });
      const box = document.getElementById("booked");
      box.querySelector('[data-b="code"]').textContent = a.code;
      box.querySelector('[data-b="slot"]').textContent = a.queue_name + " · " + a.date + " " + a.start.slice(11, 16);
      box.hidden = false;
      Hall.showStatus(Hall.t("book_ok"));
      form.reset();
      load(dateSel.value);
    } catch (err) { fail(err); }
  });

  document.getElementById("cancel-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const code = document.getElementById("cancel-code").value.trim();
    try {
      await Hall.api("POST", "/api/v1/appointments/" + encodeURIComponent(code) + "/cancel");
      Hall.showStatus(Hall.t("cancel_ok"));
      load(dateSel.value);
    } catch (err) { fail(err); }
  });

  load(null);
})();
