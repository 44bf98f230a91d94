// Kindling admin page: confirmations for actions, local times, and the job page's live log tail (server-sent events).
"use strict";

document.addEventListener("submit", (e) => {
  const msg = e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) e.preventDefault();
});

function localTimes(root) {
  for (const t of root.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) { t.title = t.getAttribute("datetime"); t.textContent = d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" }); }
  }
}
localTimes(document);

const log = document.getElementById("log");
if (log) {
  const MAX_LINES = 20000;           // what the page keeps; the download has everything
  const MARKER = log.dataset.marker; // framing lines ("── step 1: Build") start with this
  const status = document.getElementById("log-status");
  const follow = document.getElementById("log-follow");
  const badge = document.getElementById("job-state");
  let pending = [], lines = 0, scheduled = false, trimmed = false;

  const flush = () => {
    scheduled = false;
    const frag = document.createDocumentFragment();
    let plain = [];
    const text = () => { if (plain.length) { frag.appendChild(document.createTextNode(plain.join("\n") + "\n")); plain = []; } };
    for (const chunk of pending) {
      for (const line of chunk.split("\n")) {
        lines++;
        if (MARKER && line.startsWith(MARKER)) {
          text();
          const s = document.createElement("span"); s.className = "marker"; s.textContent = line + "\n"; frag.appendChild(s);
        } else plain.push(line);
      }
    }
    pending = [];
    text();
    log.appendChild(frag);
    while (lines > MAX_LINES && log.firstChild) {
      const n = log.firstChild;
      lines -= (n.textContent.match(/\n/g) || []).length;
      n.remove();
      if (!trimmed) { trimmed = true; status.textContent = "older lines trimmed: download the full log"; }
    }
    if (follow.checked) log.scrollTop = log.scrollHeight;
  };

  const refreshPanels = () => {
    fetch(log.dataset.panels, { credentials: "same-origin" }).then((r) => r.ok ? r.text() : null).then((html) => {
      const panels = document.getElementById("panels");
      if (html && panels) { panels.innerHTML = html; localTimes(panels); }
    }).catch(() => {});
  };

  const es = new EventSource(log.dataset.stream);
  es.addEventListener("log", (e) => {
    pending.push(e.data);
    if (!scheduled) { scheduled = true; requestAnimationFrame(flush); }
  });
  es.addEventListener("state", (e) => {
    const s = JSON.parse(e.data);
    badge.textContent = s.result;
    badge.className = "badge s-" + s.result;
    badge.dataset.state = s.result;
    if (s.finished) for (const el of document.querySelectorAll("[data-live-only]")) el.remove();
    if (s.finished) for (const el of document.querySelectorAll("[data-if-it-fails]")) {
      if (["failed", "cancelled", "timed_out"].includes(s.result)) el.hidden = false; else el.remove();
    }
    if (!trimmed) status.textContent = s.finished ? "finished" : "live";
    refreshPanels();
  });
  es.addEventListener("end", () => {
    es.close();
    if (pending.length) flush();
    if (!trimmed) status.textContent = "log complete";
    if (lines === 0) { const n = document.createElement("span"); n.className = "note"; n.textContent = "(no output)"; log.appendChild(n); }
  });
  es.onerror = () => { if (es.readyState !== EventSource.CLOSED && !trimmed) status.textContent = "reconnecting…"; };
}
