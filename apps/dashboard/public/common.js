// What the dashboard's pages share: their settings, the API calls, formatting, and the confirmation dialog.
// Plain browser JavaScript, served by the app as it is (no build step), under the page's CSP nonce.
(() => {
  const settings = JSON.parse(document.getElementById('settings').textContent);

  /** Calls the dashboard's JSON API; rejects with its error message. */
  async function api(path, options = {}) {
    const response = await fetch(path, {
      ...options,
      headers: {
        accept: 'application/json',
        ...(options.body ? { 'content-type': 'application/json' } : {}),
      },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(body.error?.message ?? `${response.status} ${response.statusText}`);
      error.code = body.error?.code;
      error.status = response.status;
      throw error;
    }
    return body;
  }

  /** A time as the operator's clock shows it, with the date when it is not today. */
  function time(ms) {
    if (ms === null || ms === undefined) return '–';
    const date = new Date(ms);
    const today = new Date().toDateString() === date.toDateString();
    return today ? date.toLocaleTimeString() : date.toLocaleString();
  }

  /** How long ago, in words short enough for a table. */
  function ago(ms) {
    if (ms === null || ms === undefined) return '';
    const seconds = Math.max(0, (Date.now() - ms) / 1000);
    if (seconds < 60) return `${seconds.toFixed(1)} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    return `${(seconds / 3600).toFixed(1)} h ago`;
  }

  /** An element with attributes and children (text or elements). */
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'class') node.className = value;
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** A value for display: JSON for objects, `null` spelled out. */
  function show(value) {
    if (value === null || value === undefined) return '—';
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  /** Asks the operator to confirm; resolves true on Confirm. */
  function confirmAction(text) {
    const dialog = document.getElementById('confirm');
    document.getElementById('confirm-text').textContent = text;
    return new Promise((resolve) => {
      const done = (answer) => {
        ok.removeEventListener('click', yes);
        cancel.removeEventListener('click', no);
        dialog.removeEventListener('cancel', no);
        dialog.close();
        resolve(answer);
      };
      const ok = document.getElementById('confirm-ok');
      const cancel = document.getElementById('confirm-cancel');
      const yes = () => done(true);
      const no = () => done(false);
      ok.addEventListener('click', yes);
      cancel.addEventListener('click', no);
      dialog.addEventListener('cancel', no);
      dialog.showModal();
    });
  }

  /** Shows a message in the page's status line (an error unless `ok`). */
  function status(text, ok = false) {
    const line = document.getElementById('status');
    line.textContent = text;
    line.className = ok ? 'ok' : '';
  }

  /** A key's canonical id from its parts, as the library joins them (composite: `%` and `/` escaped, `/` between). */
  function canonicalId(parts, values) {
    if (parts.length === 1) {
      const value = values[parts[0].field] ?? '';
      return parts[0].kind === 'uuid' ? value.toLowerCase() : value;
    }
    return parts
      .map((part) => {
        const value = values[part.field] ?? '';
        if (part.kind === 'string') return value.replace(/[%/]/g, (c) => (c === '%' ? '%25' : '%2F'));
        return part.kind === 'uuid' ? value.toLowerCase() : value;
      })
      .join('/');
  }

  window.wb = { settings, api, time, ago, el, show, confirmAction, status, canonicalId };
})();
