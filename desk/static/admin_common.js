// What every admin page's script shares (loaded first by admin_base.html): the CSRF token, a selector,
// HTML escaping, Beijing-time dates, the toast and the JSON API call (a 401 goes to the login page).
"use strict";
window.AdminUI = (function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" }) : "—");

  function toast(text) {
    const t = $("#toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
  }

  async function api(method, url, body, headers) {
    const opts = { method, headers: Object.assign({ "X-CSRF-Token": csrf }, headers || {}) };
    if (body instanceof FormData) opts.body = body;
    else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
    const resp = await fetch(url, opts);
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (resp.status === 401) location.href = "/staff/login";
    return { ok: resp.ok, status: resp.status, data, etag: resp.headers.get("ETag") };
  }

  return { csrf, $, esc, when, toast, api };
})();
