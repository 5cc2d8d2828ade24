/*
 * WeChat-style web chat client (no framework).
 *
 * Protocol:
 *  1. POST /api/webchat/session[?after=<last id>] (same origin, cookie) ->
 *     {"conversation_id": "web:<uuid>", "messages": [Message, ...]}  (oldest first; merged, deduped by id)
 *  2. WebSocket ws(s)://<host>/ws/webchat (cookie-authenticated).
 *     server -> client: {"type":"message","message":Message} | {"type":"typing","on":bool} | {"type":"error","text":str}
 *     client -> server: {"type":"message","text":str,"client_id":str[,"payload":str]}
 *     Message = {id, role: student|bot|staff|system, text, buttons:[{title,payload}], sender_name, created_at, client_id}
 *  3. Student text is shown at once as a pending bubble keyed by client_id; the server's "student" echo with the same
 *     client_id replaces it (masked as stored: 138****5678). Unconfirmed messages are queued and (re)sent in order whenever the socket is open.
 *  4. On close: reconnect with backoff 1s, 2s, 4s, ... max 10s; every attempt re-POSTs the session with ?after=<last id>
 *     first (and once more right after a reconnect's socket opens, to close the gap), then flushes the queue.
 *  5. 结束并清除 (#chat-clear): after a confirm, POST /api/webchat/clear {"confirm": true} erases the conversation
 *     and forgets the cookie; the page reloads into a fresh conversation (a "cleared" frame does the same in other tabs).
 */
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const list = $('messages'), scroller = $('scroller'), form = $('chat-form'), input = $('chat-input');
  const typingEl = $('typing'), statusEl = $('conn-status'), clearBtn = $('chat-clear');
  const MAX_LEN = 1000, GAP_MS = 5 * 60 * 1000, ROLES = ['student', 'bot', 'staff', 'system'];
  const AVATAR = { bot: '助', staff: '师', student: '我' };
  const WS_URL = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws/webchat`;

  const seen = new Set();      // message ids already rendered
  const pending = new Map();   // client_id -> {frame, el, sent, failed}; insertion order = send order
  let lastId = 0, ws = null, ready = false, attempt = 0, everConnected = false, typingTimer = 0;

  const api = { connected: () => ready && !!ws && ws.readyState === WebSocket.OPEN, conversationId: null };
  window.webchat = api;

  // ---------- helpers ----------
  function uuid() {
    if (window.crypto && typeof crypto.randomUUID === 'function') {
      try { return crypto.randomUUID(); } catch (_) { /* insecure context: fall through */ }
    }
    const b = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(b);
    else for (let i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0;
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const x = Array.from(b, (v) => v.toString(16).padStart(2, '0')).join('');
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
  }

  function h(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text); // never innerHTML: text may contain HTML
    return e;
  }

  function parseTime(s) {
    if (!s) return Date.now();
    const iso = /(?:[zZ]|[+-]\d\d:?\d\d)$/.test(s) ? s : `${s}Z`; // naive timestamps are taken as UTC
    const t = Date.parse(iso);
    return Number.isNaN(t) ? Date.now() : t;
  }

  function fmtTime(ts) {
    const d = new Date(ts), now = new Date(), p = (n) => String(n).padStart(2, '0');
    const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
    const day = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
    const diff = Math.round((day(now) - day(d)) / 86400000);
    if (diff === 0) return hm;
    if (diff === 1) return `昨天 ${hm}`;
    const md = `${d.getMonth() + 1}月${d.getDate()}日 ${hm}`;
    return d.getFullYear() === now.getFullYear() ? md : `${d.getFullYear()}年${md}`;
  }

  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const toBottom = () => { scroller.scrollTop = scroller.scrollHeight; };

  // ---------- rendering ----------
  function chipsFor(m) { // quick replies of a bot, staff or system message (e.g. 不用了, 1-5 rating)
    if (!Array.isArray(m.buttons) || !m.buttons.length) return null;
    const chips = h('div', 'chips');
    for (const b of m.buttons) {
      if (!b || !b.title) continue;
      const chip = h('button', 'chip', b.title);
      chip.type = 'button';
      chip.addEventListener('click', () => submit(b.title, b.payload));
      chips.append(chip);
    }
    return chips;
  }

  function build(m) {
    const role = ROLES.includes(m.role) ? m.role : 'system';
    const el = h('div', `msg msg-${role}`);
    el.dataset.role = role;
    if (m.id != null) el.dataset.id = String(m.id);
    if (m.client_id) el.dataset.clientId = m.client_id;
    el.dataset.ts = String(parseTime(m.created_at));
    if (role === 'system') { // desk notices (queue, hand-over, office hours): centred, not a person's bubble
      const box = h('div', 'notice-box');
      box.append(h('div', 'notice', m.text || ''));
      const chips = chipsFor(m);
      if (chips) box.append(chips);
      el.append(box);
      return el;
    }

    const avatar = h('span', `avatar avatar-${role}`, AVATAR[role]);
    avatar.setAttribute('aria-hidden', 'true');
    const body = h('div', 'body');
    if (role === 'staff') body.append(h('div', 'sender', m.sender_name || '值班老师')); // e.g. 王老师（心理中心）
    body.append(h('div', 'bubble', m.text || ''));
    const chips = role !== 'student' ? chipsFor(m) : null;
    if (chips) body.append(chips);
    el.append(avatar, body);
    return el;
  }

  // Confirmed messages are ordered by id; pending (unconfirmed) bubbles always stay at the bottom.
  function place(el) {
    if (!el.dataset.id) { list.append(el); return; }
    const id = Number(el.dataset.id);
    let ref = list.lastElementChild;
    while (ref) {
      const isMsg = ref.classList.contains('msg');
      const after = ref.dataset.id && Number(ref.dataset.id) > id;
      if (isMsg && ref.dataset.pending !== '1' && !after) break;
      ref = ref.previousElementSibling;
    }
    if (ref) ref.after(el); else list.prepend(el);
  }

  // Keep a centred time divider before every message that is > 5 min after the previous one (and the first).
  function refreshTimes() {
    let prev = null;
    for (const el of Array.from(list.children)) {
      if (el.classList.contains('time')) {
        const next = el.nextElementSibling;
        if (!next || !next.classList.contains('msg')) el.remove(); // orphaned divider
        continue;
      }
      const ts = Number(el.dataset.ts);
      const want = prev === null || ts - prev > GAP_MS ? fmtTime(ts) : null;
      const before = el.previousElementSibling;
      const cur = before && before.classList.contains('time') ? before : null;
      if (want && !cur) el.before(h('div', 'time', want));
      else if (!want && cur) cur.remove();
      else if (want && cur.textContent !== want) cur.textContent = want;
      prev = ts;
    }
  }

  function refresh(stick) { refreshTimes(); if (stick) toBottom(); }

  function addMessage(m) {
    if (!m || typeof m !== 'object') return;
    if (m.id != null) {
      if (seen.has(m.id)) return;
      seen.add(m.id);
      lastId = Math.max(lastId, Number(m.id) || 0);
    }
    const p = m.client_id ? pending.get(m.client_id) : null;
    if (p) { pending.delete(m.client_id); p.el.remove(); } // server echo replaces the local bubble
    place(build(m));
    if (m.role !== 'student') setTyping(false);
  }

  function notice(text) { // local-only system notice (no id)
    const stick = nearBottom();
    list.append(build({ role: 'system', text }));
    refresh(stick);
  }

  function setTyping(on) {
    clearTimeout(typingTimer);
    const stick = nearBottom();
    typingEl.hidden = !on;
    if (on) typingTimer = setTimeout(() => setTyping(false), 60000); // safety net
    if (stick) toBottom();
  }

  function setStatus(ok) { statusEl.hidden = ok; }

  // Mark a message as failed (server error frame). Tapping the red "!" re-queues it.
  function markFailed(clientId) {
    let p = clientId ? pending.get(clientId) : null;
    if (!p) p = Array.from(pending.values()).find((x) => x.sent && !x.failed); // oldest in-flight
    if (!p || p.failed) return;
    p.failed = true;
    p.el.dataset.pending = '0';
    p.el.classList.replace('pending', 'failed');
    const retry = h('button', 'retry', '!');
    retry.type = 'button';
    retry.setAttribute('aria-label', '发送失败，点击重发');
    retry.addEventListener('click', () => {
      retry.remove();
      Object.assign(p, { failed: false, sent: false });
      p.el.dataset.pending = '1';
      p.el.classList.replace('failed', 'pending');
      flush();
    });
    p.el.append(retry);
  }

  // ---------- sending ----------
  function submit(raw, payload) {
    const text = String(raw || '').trim().slice(0, MAX_LEN);
    if (!text) return false;
    const clientId = uuid();
    const frame = { type: 'message', text, client_id: clientId };
    if (payload != null) frame.payload = payload;
    const el = build({ role: 'student', text, client_id: clientId });
    el.classList.add('pending');
    el.dataset.pending = '1';
    pending.set(clientId, { frame, el, sent: false, failed: false });
    list.append(el);
    refresh(true);
    flush();
    return true;
  }

  function flush() {
    if (!api.connected()) return;
    for (const p of pending.values()) {
      if (p.sent || p.failed) continue;
      ws.send(JSON.stringify(p.frame));
      p.sent = true;
    }
  }

  // ---------- connection ----------
  async function sync() {
    const url = `/api/webchat/session${lastId ? `?after=${encodeURIComponent(lastId)}` : ''}`;
    const res = await fetch(url, { method: 'POST', credentials: 'include', headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(`session: HTTP ${res.status}`);
    const data = await res.json();
    if (data.conversation_id) api.conversationId = data.conversation_id;
    const stick = nearBottom() || !everConnected;
    for (const m of data.messages || []) addMessage(m);
    refresh(stick);
  }

  function scheduleReconnect() {
    setStatus(false);
    const delay = Math.min(1000 * 2 ** attempt, 10000);
    attempt += 1;
    setTimeout(connect, delay);
  }

  async function connect() {
    try { await sync(); } catch (_) { scheduleReconnect(); return; }
    let sock;
    try { sock = new WebSocket(WS_URL); } catch (_) { scheduleReconnect(); return; }
    ws = sock;
    sock.onopen = async () => {
      attempt = 0;
      if (everConnected) { try { await sync(); } catch (_) { /* history gap is closed next time */ } }
      if (ws !== sock || sock.readyState !== WebSocket.OPEN) return;
      everConnected = true;
      ready = true;
      setStatus(true);
      flush();
    };
    sock.onmessage = (ev) => {
      let f;
      try { f = JSON.parse(ev.data); } catch (_) { return; }
      if (!f || typeof f !== 'object') return;
      if (f.type === 'message' && f.message) {
        const stick = nearBottom() || f.message.role === 'student';
        addMessage(f.message);
        refresh(stick);
      } else if (f.type === 'cleared') {
        // cleared in another tab: start afresh once that tab's answer has removed the cookie
        if (!clearing) { list.replaceChildren(); setTimeout(restart, 1000); }
      } else if (f.type === 'typing') {
        setTyping(!!f.on);
      } else if (f.type === 'error') {
        setTyping(false);
        markFailed(f.client_id);
        notice(f.text || '出错了，请稍后再试');
      }
    };
    sock.onerror = () => { /* a close event follows */ };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      ready = false;
      setTyping(false);
      for (const p of pending.values()) p.sent = false; // resend unconfirmed ones after reconnecting
      scheduleReconnect();
    };
  }

  // ---------- 结束并清除本次对话 (shared computers) ----------
  const CLEAR_CONFIRM = '结束并清除本次对话？\n\n本次对话的聊天记录和其中的个人信息（姓名、学号、手机号）将从服务台删除，无法恢复；'
    + '已约好的预约仍然有效（改约请联系老师）。';
  let clearing = false;
  function restart() {
    const sock = ws;
    ws = null; // no reconnect: the page starts a new conversation
    if (sock) sock.close();
    location.reload();
  }
  if (clearBtn) {
    clearBtn.addEventListener('click', async () => {
      if (!window.confirm(CLEAR_CONFIRM)) return;
      clearBtn.disabled = true;
      clearing = true;
      try {
        const res = await fetch('/api/webchat/clear', {
          method: 'POST',
          credentials: 'include',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ confirm: true }),
        });
        if (!res.ok && res.status !== 401) throw new Error(`clear: HTTP ${res.status}`);
        restart();
      } catch (_) {
        clearing = false;
        clearBtn.disabled = false;
        notice('清除失败，请稍后再试。');
      }
    });
  }

  // ---------- UI events ----------
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (submit(input.value)) input.value = '';
    input.focus();
  });
  input.addEventListener('keydown', (e) => {
    // Enter while an IME (pinyin) composition is active must not send.
    if (e.key === 'Enter' && (e.isComposing || e.keyCode === 229)) e.preventDefault();
  });
  input.addEventListener('focus', () => setTimeout(toBottom, 300)); // mobile keyboard resize

  connect();
})();
