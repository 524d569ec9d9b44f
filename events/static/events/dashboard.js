// The events dashboard's live tail (docs/console.md): one socket on /ws/events with the page's
// session. Each event's change is shown at the top of the list (at most `rows`), the severities
// checked are the socket's filters, and each new or deleted event moves the bars of the charts.
// A purge (a dropped month of events) shows the listed events of its range as deleted and empties
// the bars of that range.
// After a close the socket reconnects by itself, later each time, resuming after the last
// position seen (`?after=`), so no change is missed or shown twice.
"use strict";

(() => {
  const config = JSON.parse(document.getElementById("live-tail-config").textContent);
  const status = document.getElementById("live-status");
  const list = document.querySelector("#live-events tbody");
  const empty = document.getElementById("live-empty");
  const boxes = [...document.querySelectorAll("#live-severities input")];
  const SVG = "http://www.w3.org/2000/svg";
  const OPERATIONS = { create: "new", update: "changed", delete: "deleted" };
  const MAX_DELAY_SECONDS = 30;
  // Close codes of /ws/events (docs/api.md, "Live events").
  const UNAUTHENTICATED = 4401;
  const RESTART_FROM_NOW = new Set([4400, 4410]); // `after` refused: past the head or pruned

  let socket = null;
  let position = null; // the last position seen: where a reconnect resumes
  let failures = 0;
  let requested = null; // the filters the socket was last asked for, as JSON
  const listed = new WeakMap(); // each row of the list -> its event, as last shown

  // Times as the page shows them: UTC, to the second; ISO as the server writes them.
  const utc = (milliseconds) => new Date(milliseconds).toISOString();
  const iso = (milliseconds) => utc(milliseconds).replace(".000Z", "+00:00");
  const shown = (timestamp) => utc(Date.parse(timestamp)).slice(0, 19).replace("T", " ");

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function severities() {
    return boxes.filter((box) => box.checked).map((box) => box.value);
  }

  function filters() {
    const checked = severities();
    return checked.length === boxes.length ? {} : { severity: checked };
  }

  // Asks the open socket for the boxes' filters, unless it has them.
  function sendFilters() {
    const wanted = JSON.stringify({ filters: filters() });
    if (wanted !== requested && socket && socket.readyState === WebSocket.OPEN) {
      socket.send(wanted);
      requested = wanted;
    }
  }

  function connect() {
    requested = JSON.stringify({ filters: filters() });
    const url = new URL("/ws/events", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (position !== null) url.searchParams.set("after", position);
    for (const severity of filters().severity || []) url.searchParams.append("severity", severity);
    const state = failures ? "reconnecting" : "connecting";
    setStatus(state, state);
    socket = new WebSocket(url);
    socket.onmessage = (message) => receive(JSON.parse(message.data));
    socket.onclose = (close) => closed(close.code);
  }

  function receive(message) {
    if (message.type === "subscribed") {
      position = message.position;
      failures = 0;
      setStatus("live", "live");
      sendFilters(); // the boxes may have changed while it connected
    } else if (message.type === "event") {
      position = message.position;
      showChange(message.op, message.event);
      for (const chart of charts) chart.count(message.op, message.event);
    } else if (message.type === "purge") {
      position = message.position;
      const [from, before] = [Date.parse(message.from), Date.parse(message.before)];
      showPurge(from, before);
      for (const chart of charts) chart.purge(from, before);
    } else if (message.type === "resume") {
      position = message.after;
    }
  }

  function closed(code) {
    socket = null;
    if (code === UNAUTHENTICATED) {
      setStatus("stopped", "signed out: reload the page to sign in");
      return;
    }
    if (RESTART_FROM_NOW.has(code)) {
      position = null;
      list.prepend(note("Changes before this line could not be resumed."));
    }
    failures += 1;
    // 1, 2, 4... seconds up to MAX_DELAY_SECONDS, less a random part so that the pages a restart
    // cut off do not all come back at once.
    const delay = Math.min(2 ** (failures - 1), MAX_DELAY_SECONDS) * (0.75 + Math.random() / 4);
    setStatus("reconnecting", `reconnecting in ${Math.ceil(delay)} s`);
    window.setTimeout(connect, delay * 1000);
  }

  function note(text) {
    const row = document.createElement("tr");
    const cell = row.insertCell();
    cell.colSpan = 5;
    cell.textContent = text;
    return row;
  }

  function fill(row, op, event) {
    listed.set(row, event);
    row.dataset.id = event.id;
    row.dataset.severity = event.severity;
    row.className = `live-${OPERATIONS[op]}`;
    row.hidden = !severities().includes(event.severity);
    row.replaceChildren();
    row.insertCell().textContent = shown(event.timestamp);
    const severity = document.createElement("strong");
    severity.textContent = event.severity;
    severity.style.color = config.colours[event.severity];
    row.insertCell().append(severity);
    const type = row.insertCell();
    if (op === "delete") {
      type.textContent = event.event_type;
    } else {
      const link = document.createElement("a");
      link.href = config.change_url.replace("/0/", `/${event.id}/`);
      link.textContent = event.event_type;
      type.append(link);
    }
    const text = event.message.length > 60 ? `${event.message.slice(0, 59)}…` : event.message;
    row.insertCell().textContent = text;
    const operation = row.insertCell();
    operation.className = "live-op";
    operation.textContent = OPERATIONS[op];
  }

  // A change of an event in the list updates its row (struck through once deleted); a deleted
  // event that is not listed is left out (a purge deletes many old ones).
  function showChange(op, event) {
    const listed = list.querySelector(`tr[data-id="${event.id}"]`);
    if (listed) {
      fill(listed, op, event);
      return;
    }
    if (op === "delete") return;
    const row = document.createElement("tr");
    fill(row, op, event);
    list.prepend(row);
    empty.hidden = true;
    while (list.rows.length > config.rows) list.lastElementChild.remove();
  }

  // A purge: every listed event with a timestamp from `from` up to `before` (milliseconds) is
  // gone, shown as a delete is.
  function showPurge(from, before) {
    for (const row of list.rows) {
      const event = listed.get(row);
      if (!event) continue; // a note
      const time = Date.parse(event.timestamp);
      if (time >= from && time < before) fill(row, "delete", event);
    }
  }

  // One chart of the page: its bars as counts per severity, redrawn as the server draws them
  // (events/dashboard.py, chart) when a new or deleted event falls in one of them.
  class Chart {
    constructor(svg) {
      this.svg = svg;
      this.step = Number(svg.dataset.step) * 1000;
      this.height = Number(svg.dataset.height);
      this.gap = Number(svg.dataset.gap);
      this.labelEvery = Number(svg.dataset.labelEvery);
      this.tallest = svg.closest(".dashboard-card").querySelector(".chart-tallest");
      this.bars = [...svg.querySelectorAll("g.bar")].map((bar) => ({
        start: Date.parse(bar.dataset.start),
        counts: Object.fromEntries(
          [...bar.querySelectorAll("rect")].map((r) => [r.dataset.severity, +r.dataset.count]),
        ),
        label: bar.querySelector("text")?.textContent || "",
      }));
      this.pending = false;
    }

    count(op, event) {
      if (op === "update") return; // where it moved shows on the next load of the page
      const start = Math.floor(Date.parse(event.timestamp) / this.step) * this.step;
      // A new hour (or day) has begun since the page was drawn: the bars move one to the left.
      while (start > this.bars.at(-1).start && start <= Date.now()) this.advance();
      const bar = this.bars.find((candidate) => candidate.start === start);
      if (!bar) return;
      const count = (bar.counts[event.severity] || 0) + (op === "delete" ? -1 : 1);
      bar.counts[event.severity] = Math.max(count, 0);
      this.redraw();
    }

    // A purge: the bars from `from` up to `before` (milliseconds) count nothing any more.
    purge(from, before) {
      for (const bar of this.bars) {
        if (bar.start >= from && bar.start < before) bar.counts = {};
      }
      this.redraw();
    }

    redraw() {
      if (!this.pending) {
        this.pending = true;
        window.requestAnimationFrame(() => this.draw());
      }
    }

    advance() {
      const start = this.bars.at(-1).start + this.step;
      const labelled = this.bars.at(-this.labelEvery).label !== "";
      const time = utc(start);
      const label = this.step >= 86400000 ? time.slice(5, 10) : `${time.slice(11, 13)}:00`;
      this.bars.shift();
      this.bars.push({ start, counts: {}, label: labelled ? label : "" });
    }

    draw() {
      this.pending = false;
      const total = (bar) => Object.values(bar.counts).reduce((sum, count) => sum + count, 0);
      const tallest = Math.max(...this.bars.map(total)) || 1;
      const slot = 100 / this.bars.length;
      const element = (name, attributes, ...children) => {
        const node = document.createElementNS(SVG, name);
        for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
        node.append(...children);
        return node;
      };
      for (const bar of this.svg.querySelectorAll("g.bar")) bar.remove();
      this.bars.forEach((bar, index) => {
        const group = element("g", {
          class: "bar",
          "data-start": iso(bar.start),
          "data-total": total(bar),
        });
        let bottom = this.height;
        for (const [severity, colour] of Object.entries(config.colours)) {
          const count = bar.counts[severity] || 0;
          if (!count) continue;
          const height = Math.max((count / tallest) * this.height, 1);
          bottom -= height;
          const query = new URLSearchParams({
            severity__exact: severity,
            timestamp__gte: iso(bar.start),
            timestamp__lt: iso(bar.start + this.step),
          });
          const hour = utc(bar.start).slice(0, 16).replace("T", " ");
          const title = `${hour} UTC: ${count} ${severity}`;
          const rect = element(
            "rect",
            {
              x: `${+((index + this.gap / 2) * slot).toFixed(3)}%`,
              y: +bottom.toFixed(2),
              width: `${+((1 - this.gap) * slot).toFixed(3)}%`,
              height: +height.toFixed(2),
              fill: colour,
              "data-severity": severity,
              "data-count": count,
            },
            element("title", {}, title),
          );
          group.append(element("a", { href: `${config.changelist_url}?${query}` }, rect));
        }
        if (bar.label) {
          const x = `${+((index + 0.5) * slot).toFixed(3)}%`;
          const attributes = { x, y: this.height + 12, "text-anchor": "middle" };
          group.append(element("text", attributes, bar.label));
        }
        this.svg.append(group);
      });
      this.tallest.textContent = tallest;
    }
  }

  const charts = [...document.querySelectorAll("svg.dashboard-chart")].map((svg) => new Chart(svg));

  for (const box of boxes) {
    box.addEventListener("change", () => {
      if (!severities().length) box.checked = true; // one severity at least
      for (const row of list.rows) {
        if (row.dataset.severity) row.hidden = !severities().includes(row.dataset.severity);
      }
      sendFilters();
    });
  }

  connect();
})();
