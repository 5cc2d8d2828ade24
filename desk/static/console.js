/*
 * The staff console (no framework).
 *
 * Data: GET /api/staff/tickets (the queue), GET /api/staff/tickets/{id} (ticket, packet, transcript, events,
 * canned replies), JSON POSTs with header X-CSRF-Token for claim / reply / note / transfer / close.
 * Live: WebSocket /ws/staff pushes
 *   {"type":"ticket","ticket":{...}}              a ticket was created or changed (status, department, claim...)
 *   {"type":"alert","ticket":{...}}               a new or raised urgent ticket: beep + blinking title
 *   {"type":"message","ticket_id","message":{}}   a stored message of a ticket's conversation
 *   {"type":"ticket_removed","id"}                a ticket left this person's view (transferred away)
 * On every (re)connect the queue and the open ticket are reloaded, so nothing missed while offline is lost.
 *
 * Every text that comes from a student (or anyone) is put in the page with textContent, never innerHTML.
 */
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const IS_ADMIN = document.body.dataset.admin === '1';
  const UID = Number(document.body.dataset.uid);
  const WS_URL = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws/staff`;
  const OPEN = new Set(['queued', 'message', 'claimed']);
  const PRIORITY = { urgent: '紧急', high: '优先', normal: '普通' };
  const STATUS = {
    queued: '排队中', message: '留言', claimed: '已接入', closed: '已结束', cancelled: '学生已取消', returned: '已转回机器人',
  };
  const CHANNEL = { web: '网页', tg: 'Telegram', wx: '微信公众号' };
  const ROLE = { student: '学生', bot: '机器人', staff: '老师', system: '系统' };
  const EVENT = {
    created: '创建', claimed: '接入', note: '备注', transferred: '转接', closed: '结束', cancelled: '学生取消',
    returned: '转回机器人', rated: '评价', priority_raised: '升级为紧急',
  };
  const SLOT = {
    faq_give_ups: '机器人连续未答上', booking_service: '预约事项', booking_time: '预约时间', booking_code: '预约码',
    appointment_op: '预约操作', service: '相关事项',
  };
  const DECISION = { answer: '已回答', suggest: '给了相近问题', none: '未找到答案' };
  const REASON = { crisis: '危机干预', request: '学生要求人工', complaint: '投诉', not_understood: '机器人未能理解' };

  const queue = new Map();        // id -> queue ticket
  const unread = new Set();       // tickets with a student message not seen yet
  let current = null;             // the open ticket's detail
  let departments = [];
  let ws = null, attempt = 0, audio = null, blinkTimer = 0, pingTimer = 0;
  const baseTitle = document.title;
  const api = { connected: () => !!ws && ws.readyState === WebSocket.OPEN, queue, current: () => current };
  window.staffConsole = api;

  // ---------- helpers ----------
  function h(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text); // never innerHTML
    return e;
  }

  function parseTime(s) {
    if (!s) return Date.now();
    const iso = /(?:[zZ]|[+-]\d\d:?\d\d)$/.test(s) ? s : `${s}Z`; // naive timestamps are UTC
    const t = Date.parse(iso);
    return Number.isNaN(t) ? Date.now() : t;
  }

  function fmtClock(ts) {
    const d = new Date(ts), p = (n) => String(n).padStart(2, '0');
    const today = new Date().toDateString() === d.toDateString();
    return `${today ? '' : `${d.getMonth() + 1}月${d.getDate()}日 `}${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  function fmtWait(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return `${s}秒`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}分${String(s % 60).padStart(2, '0')}秒`;
    const hrs = Math.floor(m / 60);
    if (hrs < 24) return `${hrs}小时${m % 60}分`;
    return `${Math.floor(hrs / 24)}天${hrs % 24}小时`;
  }

  let toastTimer = 0;
  function toast(text, kind) {
    const el = $('toast');
    el.textContent = text;
    el.className = `toast ${kind || 'error'}`;
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
  }

  async function call(method, url, body) {
    const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (method !== 'GET') {
      opts.headers['X-CSRF-Token'] = CSRF;
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body || {});
    }
    let res;
    try { res = await fetch(url, opts); } catch (_) { throw new Error('网络连接失败，请检查网络后重试'); }
    if (res.status === 401) { location.href = '/staff/login'; throw new Error('登录已过期，请重新登录'); }
    let data = null;
    try { data = await res.json(); } catch (_) { /* empty body */ }
    if (!res.ok) {
      const detail = data && typeof data.detail === 'string' ? data.detail : `操作失败（HTTP ${res.status}）`;
      const err = new Error(detail);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  // ---------- alerts: sound and title ----------
  function audioContext() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!audio) audio = new Ctx();
    return audio;
  }

  function soundButton() {
    const ctx = audio;
    const on = !!ctx && ctx.state === 'running';
    $('sound').textContent = on ? '提示音已开启' : '开启提示音';
    $('sound').classList.toggle('on', on);
  }

  function beep() {
    const ctx = audioContext();
    if (!ctx) return;
    api.beeps = (api.beeps || 0) + 1;
    if (ctx.state === 'suspended') ctx.resume().catch(() => {});
    const t0 = ctx.currentTime;
    for (let i = 0; i < 3; i++) { // three short high beeps
      const osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.type = 'square';
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, t0 + i * 0.3);
      gain.gain.exponentialRampToValueAtTime(0.25, t0 + i * 0.3 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.3 + 0.2);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + i * 0.3);
      osc.stop(t0 + i * 0.3 + 0.22);
    }
  }

  function blink(text) {
    stopBlink();
    let on = false;
    const alertTitle = `【紧急】${text}`;
    document.title = alertTitle;
    blinkTimer = setInterval(() => {
      on = !on;
      document.title = on ? baseTitle : alertTitle;
    }, 1000);
    api.alerting = true;
  }

  function stopBlink() {
    clearInterval(blinkTimer);
    blinkTimer = 0;
    document.title = baseTitle;
    api.alerting = false;
  }

  function alertUrgent(ticket) {
    beep();
    blink(`${ticket.department || '未分配'} · ${REASON[ticket.reason] || ticket.reason_label || '紧急求助'}`);
  }

  // ---------- the queue ----------
  function rank(t) {
    if (t.priority === 'urgent') return 0;
    if (t.status === 'message') return 1;
    return t.priority === 'high' ? 2 : 3;
  }

  function ordered() {
    return Array.from(queue.values()).sort(
      (a, b) => rank(a) - rank(b) || a.since - b.since || a.id - b.id,
    );
  }

  // Waiting counts from when the ticket (re-)entered a queue; the server says how long that is.
  function since(t) {
    if (typeof t.waited_seconds === 'number') return Date.now() - t.waited_seconds * 1000;
    return parseTime(t.queued_at || t.created_at);
  }
  function waitSeconds(t) { return (Date.now() - t.since) / 1000; }
  // A claimed ticket's wait is over: it shows how long the student waited, and stops ticking.
  function waitLabel(t) {
    if (t.status === 'claimed' && typeof t.waited_seconds === 'number') return `等了${fmtWait(t.waited_seconds)}`;
    return fmtWait(waitSeconds(t));
  }

  function queueItem(t) {
    const li = h('li', `qitem ${t.priority}${current && current.id === t.id ? ' selected' : ''}`);
    li.dataset.id = String(t.id);
    li.dataset.priority = t.priority;
    li.dataset.status = t.status;
    li.tabIndex = 0;
    li.setAttribute('role', 'button');
    const top = h('div', 'qtop');
    top.append(h('span', 'tag priority', PRIORITY[t.priority] || t.priority));
    top.append(h('span', 'qdept', t.department || '未分配'));
    top.append(h('span', `wait${t.status === 'claimed' ? ' done' : ''}`, waitLabel(t)));
    const meta = h('div', 'qmeta');
    meta.append(h('span', 'tag', t.reason_label || REASON[t.reason] || t.reason || ''));
    meta.append(h('span', 'tag', CHANNEL[t.channel] || t.channel || ''));
    if (t.status === 'message') meta.append(h('span', 'tag message', '留言'));
    if (unread.has(t.id)) meta.append(h('span', 'tag unread', '新消息'));
    meta.append(h('span', `claimer${t.claimed_by_name ? ' taken' : ''}`, t.claimed_by_name ? `${t.claimed_by_name} 已接入` : '待接入'));
    li.append(top, meta);
    const last = t.last_text || (Array.isArray(t.summary) && t.summary.length ? t.summary[t.summary.length - 1] : '');
    if (last) li.append(h('div', 'qlast', last));
    li.addEventListener('click', () => open(t.id, true));
    li.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(t.id, true); }
    });
    return li;
  }

  function renderQueue() {
    const list = $('queue');
    const items = ordered();
    list.replaceChildren(...items.map(queueItem));
    $('queue-count').textContent = String(items.length);
    $('queue-empty').hidden = items.length > 0;
  }

  function tick() {
    for (const li of $('queue').children) {
      const t = queue.get(Number(li.dataset.id));
      if (t) li.querySelector('.wait').textContent = waitLabel(t);
    }
  }

  function upsert(t) {
    if (OPEN.has(t.status)) queue.set(t.id, Object.assign(queue.get(t.id) || {}, t, { since: since(t) }));
    else queue.delete(t.id);
    renderQueue();
  }

  async function loadQueue() {
    const items = await call('GET', '/api/staff/tickets');
    queue.clear();
    for (const t of items) queue.set(t.id, Object.assign(t, { since: since(t) }));
    renderQueue();
  }

  // ---------- the open ticket ----------
  function normalize(data) {
    const t = Object.assign({}, data.ticket || data);
    t.packet = data.packet || t.packet || {};
    t.transcript = data.transcript || data.messages || t.transcript || [];
    t.events = data.events || data.notes || t.events || [];
    t.canned = data.canned || data.canned_replies || t.canned || [];
    return t;
  }

  function messageEl(m) {
    const role = ROLE[m.role] ? m.role : 'system';
    const li = h('li', `tmsg tmsg-${role}`);
    li.dataset.role = role;
    if (m.id != null) li.dataset.id = String(m.id);
    const who = role === 'staff' && m.sender_name ? m.sender_name : ROLE[role];
    const head = h('div', 'thead');
    head.append(h('span', 'twho', who), h('time', 'ttime', fmtClock(parseTime(m.created_at))));
    li.append(head, h('div', 'tbubble', m.text || ''));
    if (Array.isArray(m.buttons) && m.buttons.length) {
      const chips = h('div', 'tchips');
      for (const b of m.buttons) if (b && b.title) chips.append(h('span', 'tchip', b.title));
      li.append(chips);
    }
    return li;
  }

  function addMessage(m) {
    if (!current || !m) return;
    if (m.id != null && current.transcript.some((x) => x.id === m.id)) return;
    current.transcript.push(m);
    const list = $('transcript');
    const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    list.append(messageEl(m));
    if (stick || m.role === 'staff') list.scrollTop = list.scrollHeight;
  }

  function packetRow(dl, label, value) {
    if (value == null || value === '' || (Array.isArray(value) && !value.length)) return;
    dl.append(h('dt', null, label));
    const dd = h('dd');
    if (value instanceof Node) dd.append(value); else dd.textContent = String(value);
    dl.append(dd);
  }

  function renderPacket(t) {
    const p = t.packet || {};
    const dl = $('packet');
    dl.replaceChildren();
    packetRow(dl, '部门', t.department || p.department);
    packetRow(dl, '原因', t.reason_label || REASON[t.reason || p.reason] || p.reason);
    packetRow(dl, '优先级', PRIORITY[t.priority || p.priority]);
    packetRow(dl, '相关事项', p.service_name || p.service);
    const slots = p.slots && typeof p.slots === 'object' ? Object.entries(p.slots).filter(([, v]) => v != null && v !== '') : [];
    if (slots.length) {
      const ul = h('ul', 'slots');
      for (const [k, v] of slots) {
        ul.append(h('li', null, `${SLOT[k] || k}：${typeof v === 'object' ? JSON.stringify(v) : v}`));
      }
      packetRow(dl, '已收集信息', ul);
    }
    // faq_candidates: per student question, the bot's decision and its top matches with scores.
    const tried = Array.isArray(p.faq_candidates) ? p.faq_candidates : [];
    if (tried.length) {
      const ol = h('ol', 'tried');
      for (const entry of tried) {
        const li = h('li');
        const matches = Array.isArray(entry.candidates) ? entry.candidates : [entry];
        if (entry.message) {
          const q = h('div', 'asked', `“${entry.message}”`);
          if (entry.decision) q.append(h('span', 'decision', DECISION[entry.decision] || entry.decision));
          li.append(q);
        }
        const ul = h('ul', 'cands');
        for (const c of matches) {
          const title = c.question || c.title || c.faq_id || '';
          if (!title) continue;
          const row = h('li', null, title);
          if (typeof c.score === 'number') row.append(h('span', 'score', c.score.toFixed(2)));
          ul.append(row);
        }
        if (!ul.children.length) ul.append(h('li', 'muted', '没有找到相近的问题'));
        li.append(ul);
        ol.append(li);
      }
      packetRow(dl, '机器人尝试过的答案', ol);
    }
    const summary = Array.isArray(t.summary) && t.summary.length ? t.summary : p.summary;
    if (Array.isArray(summary) && summary.length) {
      const ol = h('ol', 'summary');
      for (const s of summary) ol.append(h('li', null, s));
      packetRow(dl, '学生最近说的话', ol);
    }
    packetRow(dl, '创建时间', fmtClock(parseTime(t.created_at)));
    if (t.claimed_by_name) packetRow(dl, '接入人', t.claimed_by_name);
    if (t.resolution) packetRow(dl, '处理结果', t.resolution);
    if (t.rating) packetRow(dl, '学生评价', `${t.rating} 分${t.rating_comment ? `：${t.rating_comment}` : ''}`);
  }

  function eventEl(e) {
    const li = h('li', `note note-${e.kind || 'note'}`);
    const head = h('div', 'thead');
    head.append(h('span', 'twho', `${EVENT[e.kind] || e.kind || '备注'}${e.actor_name ? ` · ${e.actor_name}` : ''}`));
    head.append(h('time', 'ttime', fmtClock(parseTime(e.created_at))));
    li.append(head);
    let text = e.text || '';
    if (e.kind === 'transferred' && e.data && e.data.to) {
      text = `${departmentName(e.data.from)} → ${departmentName(e.data.to)}${text ? `：${text}` : ''}`;
    }
    if (text) li.append(h('div', 'ntext', text));
    return li;
  }

  function renderEvents(t) {
    const shown = t.events.filter((e) => e.kind !== 'created');
    $('notes').replaceChildren(...shown.map(eventEl));
  }

  function renderCanned(t) {
    const ul = $('canned');
    ul.replaceChildren();
    for (const c of t.canned) {
      const li = h('li', 'canned-item');
      const use = h('button', 'canned-use', c.title || c.text);
      use.type = 'button';
      use.title = c.text;
      use.addEventListener('click', () => {
        const box = $('reply-text');
        box.value = box.value ? `${box.value}\n${c.text}` : c.text;
        box.focus();
      });
      li.append(use);
      if (IS_ADMIN && c.id != null) {
        const del = h('button', 'canned-del', '删除');
        del.type = 'button';
        del.setAttribute('aria-label', `删除快捷回复：${c.title || ''}`);
        del.addEventListener('click', () => deleteCanned(c));
        li.append(del);
      }
      ul.append(li);
    }
    if (!t.canned.length) ul.append(h('li', 'empty', '这个部门还没有快捷回复。'));
    $('canned-form').hidden = !IS_ADMIN;
    if (IS_ADMIN) fillDepartments($('canned-dept'), t.department_id, true);
  }

  function departmentName(id) {
    const d = departments.find((x) => x.id === id);
    return d ? d.name : id || '未分配';
  }

  function fillDepartments(select, selected, withAll) {
    select.replaceChildren();
    if (withAll) select.append(new Option('所有部门通用', ''));
    for (const d of departments) select.append(new Option(d.name, d.id, false, d.id === selected));
  }

  function renderHead(t) {
    $('t-priority').textContent = PRIORITY[t.priority] || t.priority;
    $('t-priority').dataset.priority = t.priority;
    $('t-department').textContent = t.department || '未分配';
    $('t-reason').textContent = t.reason_label || REASON[t.reason] || t.reason || '';
    $('t-channel').textContent = CHANNEL[t.channel] || t.channel || '';
    const st = STATUS[t.status] || t.status;
    $('t-status').textContent = t.claimed_by_name && t.status === 'claimed' ? `${t.claimed_by_name} 已接入` : st;
    const open = OPEN.has(t.status);
    const unclaimed = t.status === 'queued' || t.status === 'message';
    const mine = t.status === 'claimed'
      && (t.claimed_by != null ? Number(t.claimed_by) === UID : t.claimed_by_name === document.body.dataset.user);
    $('btn-claim').hidden = !unclaimed;
    $('btn-transfer').hidden = !open;
    $('btn-close').hidden = !open;
    $('btn-reply').disabled = !mine;
    $('reply-text').disabled = !mine;
    $('reply-text').placeholder = mine ? '回复学生（Ctrl+Enter 发送）'
      : unclaimed ? '请先点击“接入”再回复学生' : open ? `${t.claimed_by_name || '其他老师'}正在处理这个工单` : '工单已结束';
    $('btn-note').disabled = false;
    if (!open) { $('transfer-form').hidden = true; $('close-form').hidden = true; }
  }

  function renderTicket() {
    const t = current;
    $('no-ticket').hidden = !!t;
    $('ticket').hidden = !t;
    if (!t) return;
    renderHead(t);
    const list = $('transcript');
    const keep = list.dataset.ticket === String(t.id) && list.scrollHeight - list.scrollTop - list.clientHeight >= 80;
    const top = list.scrollTop;
    list.replaceChildren(...t.transcript.map(messageEl));
    list.dataset.ticket = String(t.id);
    list.scrollTop = keep ? top : list.scrollHeight; // someone reading older messages is not pulled down
    renderPacket(t);
    renderEvents(t);
    renderCanned(t);
    for (const li of $('queue').children) li.classList.toggle('selected', Number(li.dataset.id) === t.id);
  }

  async function open(id, byUser) {
    if (byUser) stopBlink();
    if (unread.delete(id)) renderQueue();
    const queued = queue.get(id);
    if (queued && queued.restricted) {
      // need to know (docs/security.md): the words open after 接入; until then only the queue entry shows
      current = normalize(Object.assign({}, queued, { transcript: [], events: [], canned: [], packet: {} }));
      renderTicket();
      return;
    }
    try {
      const data = await call('GET', `/api/staff/tickets/${id}`);
      const switching = !current || current.id !== id;
      current = normalize(data);
      if (switching) { $('reply-text').value = ''; $('transfer-form').hidden = true; $('close-form').hidden = true; }
      renderTicket();
    } catch (err) {
      toast(err.message);
      if (err.status === 404) { queue.delete(id); renderQueue(); }
    }
  }

  async function refreshCurrent() { if (current) await open(current.id); }

  function mergeTicket(t) {
    if (!current || current.id !== t.id) return;
    Object.assign(current, t, {
      transcript: current.transcript, events: current.events, canned: current.canned, packet: current.packet,
    });
    renderHead(current);
    renderPacket(current);
  }

  // ---------- actions ----------
  async function act(button, fn) {
    if (button.disabled) return;
    button.disabled = true;
    try { await fn(); } catch (err) {
      toast(err.message);
      if (err.status === 409 || err.status === 404) { await refreshCurrent().catch(() => {}); loadQueue().catch(() => {}); }
    } finally { button.disabled = false; if (current) renderHead(current); }
  }

  $('btn-claim').addEventListener('click', () => act($('btn-claim'), async () => {
    const t = await call('POST', `/api/staff/tickets/${current.id}/claim`);
    if (t && t.id) upsert(t);
    await refreshCurrent();
    toast('已接入，学生会收到“老师已接入”的提示。', 'ok');
    $('reply-text').focus();
  }));

  async function sendReply() {
    const box = $('reply-text');
    const text = box.value.trim();
    if (!text) { toast('请输入回复内容'); return; }
    await act($('btn-reply'), async () => {
      const res = await call('POST', `/api/staff/tickets/${current.id}/reply`, { text });
      box.value = '';
      if (res && res.message) addMessage(res.message);
    });
  }
  $('reply-form').addEventListener('submit', (e) => { e.preventDefault(); sendReply(); });
  $('reply-text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !e.isComposing) { e.preventDefault(); sendReply(); }
  });

  $('note-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('note-text');
    const text = input.value.trim();
    if (!text) { toast('请输入备注内容'); return; }
    act($('btn-note'), async () => {
      await call('POST', `/api/staff/tickets/${current.id}/note`, { text });
      input.value = '';
      await refreshCurrent();
    });
  });

  $('btn-transfer').addEventListener('click', () => {
    fillDepartments($('transfer-dept'), current.department_id, false);
    $('close-form').hidden = true;
    $('transfer-form').hidden = false;
    $('transfer-dept').focus();
  });
  $('transfer-ok').addEventListener('click', () => act($('transfer-ok'), async () => {
    const department_id = $('transfer-dept').value;
    if (department_id === current.department_id) { toast('工单已经在这个部门了，请选择其他部门'); return; }
    await call('POST', `/api/staff/tickets/${current.id}/transfer`, { department_id, note: $('transfer-note').value.trim() });
    $('transfer-note').value = '';
    $('transfer-form').hidden = true;
    toast('已转接，学生会收到转接提示。', 'ok');
    await refreshCurrent().catch(() => {});
    await loadQueue();
  }));

  $('btn-close').addEventListener('click', () => {
    $('transfer-form').hidden = true;
    $('close-form').hidden = false;
    $('close-resolution').focus();
  });
  $('close-ok').addEventListener('click', () => act($('close-ok'), async () => {
    const resolution = $('close-resolution').value.trim();
    if (!resolution) { toast('请填写处理结果'); $('close-resolution').focus(); return; }
    const t = await call('POST', `/api/staff/tickets/${current.id}/close`, { resolution });
    $('close-resolution').value = '';
    $('close-form').hidden = true;
    if (t && t.id) upsert(t);
    toast('工单已结束，机器人会请学生评价本次服务。', 'ok');
    await refreshCurrent();
  }));

  for (const b of document.querySelectorAll('[data-hide]')) {
    b.addEventListener('click', () => { $(b.dataset.hide).hidden = true; });
  }

  $('canned-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const title = $('canned-title').value.trim(), text = $('canned-text').value.trim();
    if (!title || !text) { toast('请填写快捷回复的标题和内容'); return; }
    const button = e.target.querySelector('button');
    act(button, async () => {
      await call('POST', '/api/staff/canned', { department_id: $('canned-dept').value || null, title, text });
      $('canned-title').value = '';
      $('canned-text').value = '';
      toast('快捷回复已添加。', 'ok');
      await refreshCurrent();
    });
  });

  async function deleteCanned(c) {
    if (!window.confirm(`删除快捷回复“${c.title || ''}”？`)) return;
    try {
      await call('DELETE', `/api/staff/canned/${c.id}`);
      await refreshCurrent();
    } catch (err) { toast(err.message); }
  }

  // ---------- tabs and sound ----------
  for (const tab of document.querySelectorAll('.tab')) {
    tab.addEventListener('click', () => {
      for (const other of document.querySelectorAll('.tab')) {
        const on = other === tab;
        other.classList.toggle('active', on);
        other.setAttribute('aria-selected', String(on));
        $(other.dataset.tab).hidden = !on;
      }
    });
  }
  $('sound').addEventListener('click', () => {
    const ctx = audioContext();
    if (ctx) ctx.resume().then(soundButton, soundButton);
  });
  // Browsers only allow sound after a user gesture: the first click anywhere unlocks it.
  document.addEventListener('click', () => {
    const ctx = audioContext();
    if (ctx && ctx.state === 'suspended') ctx.resume().then(soundButton, soundButton);
    stopBlink();
  }, { capture: true });
  document.addEventListener('keydown', stopBlink, { capture: true });

  // ---------- live connection ----------
  function setConn(ok) {
    const el = $('conn');
    el.textContent = ok ? '实时连接正常' : '连接已断开，正在重连…';
    el.className = `conn ${ok ? 'on' : 'off'}`;
  }

  function onFrame(f) {
    if (f.type === 'ticket' && f.ticket) {
      upsert(f.ticket);
      mergeTicket(f.ticket);
      if (current && current.id === f.ticket.id) refreshCurrent().catch(() => {});
    } else if (f.type === 'alert' && f.ticket) {
      upsert(f.ticket);
      mergeTicket(f.ticket);
      alertUrgent(f.ticket);
    } else if (f.type === 'message' && f.message) {
      const id = Number(f.ticket_id);
      if (current && current.id === id) addMessage(f.message);
      const t = queue.get(id);
      if (t && f.message.role === 'student') {
        t.last_text = f.message.text;
        if (!current || current.id !== id) unread.add(id);
        renderQueue();
      }
    } else if (f.type === 'ticket_removed') {
      queue.delete(Number(f.id));
      renderQueue();
      if (current && current.id === Number(f.id)) { current = null; renderTicket(); toast('这个工单已转到其他部门。', 'ok'); }
    }
  }

  async function resync() {
    await loadQueue();
    await refreshCurrent();
  }

  function scheduleReconnect() {
    setConn(false);
    const delay = Math.min(1000 * 2 ** attempt, 10000);
    attempt += 1;
    setTimeout(connect, delay);
  }

  async function connect() {
    let sock;
    try { sock = new WebSocket(WS_URL); } catch (_) { scheduleReconnect(); return; }
    ws = sock;
    sock.onopen = async () => {
      attempt = 0;
      setConn(true);
      clearInterval(pingTimer);
      pingTimer = setInterval(() => { if (sock.readyState === WebSocket.OPEN) sock.send('{"type":"ping"}'); }, 25000);
      try { await resync(); } catch (err) { toast(err.message); }
    };
    sock.onmessage = (ev) => {
      let f;
      try { f = JSON.parse(ev.data); } catch (_) { return; }
      if (f && typeof f === 'object') onFrame(f);
    };
    sock.onerror = () => { /* a close event follows */ };
    sock.onclose = async () => {
      if (ws !== sock) return;
      ws = null;
      clearInterval(pingTimer);
      // A refused handshake looks like any drop: ask whether the session is still valid.
      try { await call('GET', '/api/staff/me'); } catch (_) { /* 401 redirects to the login page */ }
      scheduleReconnect();
    };
  }

  async function start() {
    try { departments = await call('GET', '/api/staff/departments'); } catch (err) { toast(err.message); }
    try { await loadQueue(); } catch (err) { toast(err.message); }
    soundButton();
    setInterval(tick, 1000);
    connect();
  }

  start();
})();
