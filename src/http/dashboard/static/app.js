// Escrow dashboard: live sections over SSE and the dead-letter checkboxes. No framework.
const SECTIONS = ["summary", "topics", "groups", "transactions", "dead-letters"];

function checkedIds(root) {
  return new Set([...root.querySelectorAll("input[name=messageId]:checked")].map((i) => i.value));
}

function replaceSection(name, html) {
  const target = document.querySelector(`[data-live="${name}"]:not(body)`);
  if (!target) return;
  // Keep what the operator ticked: the list is redrawn, the choice is theirs.
  const keep = checkedIds(target);
  target.innerHTML = html;
  for (const box of target.querySelectorAll("input[name=messageId]")) {
    if (keep.has(box.value)) box.checked = true;
  }
}

function startLive() {
  const badge = document.getElementById("live");
  const source = new EventSource("/dashboard/events");
  const set = (text, cls) => {
    if (!badge) return;
    badge.textContent = text;
    badge.className = `live ${cls}`;
  };
  source.addEventListener("open", () => set("live", "on"));
  source.addEventListener("error", () => set("reconnecting…", "off"));
  for (const name of SECTIONS) {
    source.addEventListener(name, (event) => {
      replaceSection(name, event.data);
      set("live", "on");
    });
  }
  addEventListener("pagehide", () => source.close());
}

document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.hasAttribute("data-pick-all")) return;
  for (const other of box.form?.querySelectorAll("input[name=messageId]") ?? []) {
    other.checked = box.checked;
  }
});

if (document.body.dataset.live === "overview") startLive();
