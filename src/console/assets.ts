// The console's static files, served as /static/console.js and /static/console.css (kept here as
// text so the compiled package carries them; the pages link them, nothing is inlined).

/**
 * The page script: a vanilla ES module. On each `change` event from /api/events it re-reads the page
 * it is on and swaps the `#live` region (parsed with DOMParser, which runs no script; the server
 * escaped every value), and it counts down approval expiries. Forms work without it.
 */
export const CONSOLE_JS = `// intentguard console: live updates (SSE) and countdowns.
const live = document.getElementById('live');
let busy = false;
let again = false;
async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  try {
    const res = await fetch(location.pathname + location.search, { credentials: 'same-origin' });
    if (res.ok && live) {
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      const next = doc.getElementById('live');
      if (next) live.replaceChildren(...Array.from(next.childNodes).map((n) => document.adoptNode(n)));
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
      tick();
      reveal();
    }
  } finally {
    busy = false;
    if (again) { again = false; refresh(); }
  }
}
function tick() {
  for (const el of document.querySelectorAll('[data-expires]')) {
    const left = Math.max(0, Math.round((Number(el.getAttribute('data-expires')) - Date.now()) / 1000));
    el.textContent = left > 0 ? left + ' s' : 'expired';
  }
}
// A provenance link (#ev-N) opens the result it points at, and marks it as the one shown.
function reveal() {
  for (const el of document.querySelectorAll('tr.shown')) el.classList.remove('shown');
  const id = decodeURIComponent(location.hash.slice(1));
  const row = id ? document.getElementById(id) : null;
  if (!row) return;
  row.classList.add('shown');
  for (const d of row.querySelectorAll('details')) d.open = true;
}
addEventListener('hashchange', reveal);
reveal();
if (live && !live.hasAttribute('data-still')) {
  const events = new EventSource('/api/events');
  events.addEventListener('hello', () => { document.body.dataset.live = 'connected'; });
  events.addEventListener('change', refresh);
  setInterval(tick, 1000);
}
`;

export const CONSOLE_CSS = `:root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f6f7f9; }
body { margin: 0; }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1rem; background: #1b2a3a; color: #fff; }
header a { color: #cfe3ff; text-decoration: none; margin-right: 1rem; }
header a[aria-current] { color: #fff; font-weight: 600; border-bottom: 2px solid #6cb4ff; }
header .who { margin-left: auto; }
header form { display: inline; }
main { padding: 1rem 1.5rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e2e5e9; vertical-align: top; font-size: .9rem; }
th { background: #eef1f4; }
pre { white-space: pre-wrap; word-break: break-all; background: #f0f2f5; padding: .4rem; margin: 0; max-width: 48rem; }
code { word-break: break-all; }
.cards { list-style: none; padding: 0; }
.cards > li { background: #fff; border: 1px solid #d9dde2; border-radius: 6px; padding: .8rem 1rem; margin-bottom: 1rem; }
.side-by-side { display: flex; gap: 1rem; }
.side-by-side > div { flex: 1; }
button { padding: .3rem .7rem; margin-right: .4rem; cursor: pointer; }
button.danger { background: #b3261e; color: #fff; border: 1px solid #8c1d18; }
.note { color: #6b4e00; }
.good { color: #176f2c; font-weight: 600; }
.bad, .error { color: #b3261e; font-weight: 600; }
tr.action-deny td, tr.action-halt td, tr.action-reauthorize td { background: #fff2f0; }
tr.action-alert td { background: #fffbe6; }
tr.sev-high td, tr.sev-critical td { background: #fff2f0; }
a.prov { background: #e6f0ff; padding: 0 .2rem; border-radius: 3px; }
tr:target td, tr.shown td { outline: 2px solid #6cb4ff; }
.control { color: #5a3d8a; font-weight: 600; }
.filters { margin-bottom: 1rem; }
dl.session { display: grid; grid-template-columns: 8rem 1fr; gap: .2rem .8rem; }
dl.args { margin: 0; display: grid; grid-template-columns: auto 1fr; gap: 0 .5rem; }
dl.args dd { margin: 0; }
`;
