// The booking-schedule pages: the list of bookable services and the editor (weekly grid, staff, exceptions,
// preview of the slots the bot would offer, save with the loaded version and confirmed affected bookings).
"use strict";
(function () {
  const { $, esc, toast, api } = window.AdminUI;
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const DAY_NAMES = { mon: "周一", tue: "周二", wed: "周三", thu: "周四", fri: "周五", sat: "周六", sun: "周日" };

  const detail = (r, fallback) => (r.data && typeof r.data.detail === "string" ? r.data.detail : fallback);
  const clock = (iso) => new Date(iso).toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit" });
  const when = (iso) => new Date(iso).toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai", month: "numeric", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit" });
  const hoursText = (grid) => DAYS.filter((d) => grid[d]).map((d) => `${DAY_NAMES[d]} ${grid[d]}`).join("；") || "（未设置）";

  // -- list ---------------------------------------------------------------------------------------
  async function loadList() {
    const r = await api("GET", "/api/admin/schedules");
    if (!r.ok) { toast(detail(r, "加载失败")); return; }
    $("#schedule-rows").innerHTML = r.data.map((s) => `<tr>
      <td><a href="/admin/services/${encodeURIComponent(s.service_id)}/schedule">${esc(s.service_name)}</a></td>
      <td>${esc(s.department)}</td><td>${s.has_schedule ? esc(hoursText(s.hours)) : "（还没有排班，不能在线预约）"}</td>
      <td>${s.staff || "—"}</td><td>${s.exceptions || "—"}</td></tr>`).join("");
    $("#empty").hidden = r.data.length > 0;
  }

  // -- editor -------------------------------------------------------------------------------------
  const state = { id: "", version: "", staff: [], affected: [] };

  function weekInputs(prefix, grid, cls) {
    return DAYS.map((d) => `<label>${DAY_NAMES[d]}<input class="${cls}" data-day="${d}" data-field="${prefix}.${d}" value="${esc((grid || {})[d] || "")}" placeholder="不开放" aria-label="${DAY_NAMES[d]}的时间段"></label>`).join("");
  }

  function staffRow(p) {
    const tr = document.createElement("tr");
    tr.dataset.id = p.id || "";
    const own = p.hours != null;
    tr.innerHTML = `<td><input class="staff-name" value="${esc(p.name)}" placeholder="如 王老师" aria-label="工作人员姓名"></td>
      <td><select class="staff-mode" aria-label="值班时间"><option value="service">按服务的时间</option><option value="own">单独设置</option></select>
        <div class="mini-week" ${own ? "" : "hidden"}>${weekInputs("staff.?.hours", p.hours, "staff-day")}</div></td>
      <td><button type="button" class="danger remove">删除</button></td>`;
    $(".staff-mode", tr).value = own ? "own" : "service";
    $(".staff-mode", tr).onchange = (ev) => { $(".mini-week", tr).hidden = ev.target.value !== "own"; };
    $(".remove", tr).onclick = () => { tr.remove(); renumber(); };
    return tr;
  }

  function staffOptions(selected) {
    const saved = state.staff.filter((p) => p.id);
    return `<option value="">整个服务</option>` + saved.map((p) => `<option value="${esc(p.id)}" ${p.id === selected ? "selected" : ""}>${esc(p.name)}</option>`).join("");
  }

  function exceptionRow(e) {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td><input type="date" class="exc-first" value="${esc(e.first_day || "")}" aria-label="开始日期"></td>
      <td><input type="date" class="exc-last" value="${esc(e.last_day && e.last_day !== e.first_day ? e.last_day : "")}" aria-label="结束日期（一天可不填）"></td>
      <td><select class="exc-staff" aria-label="适用于">${staffOptions(e.staff_id)}</select></td>
      <td><select class="exc-kind" aria-label="当天"><option value="closed">关闭</option><option value="hours">其他时间</option></select></td>
      <td><input class="exc-hours" value="${esc(e.hours || "")}" placeholder="如 09:00-11:30" aria-label="当天的时间段"></td>
      <td><input class="exc-reason" value="${esc(e.reason || "")}" maxlength="200" placeholder="如 教师培训" aria-label="原因"></td>
      <td><button type="button" class="danger remove">删除</button></td>`;
    $(".exc-kind", tr).value = e.closed === false ? "hours" : "closed";
    $(".exc-hours", tr).disabled = e.closed !== false;
    $(".exc-kind", tr).onchange = (ev) => { $(".exc-hours", tr).disabled = ev.target.value !== "hours"; };
    $(".remove", tr).onclick = () => { tr.remove(); renumber(); };
    return tr;
  }

  // field names of the rows follow their position (staff.0.name, exceptions.2.hours) like the API's errors
  function renumber() {
    document.querySelectorAll("#staff-rows tr").forEach((tr, i) => {
      $(".staff-name", tr).dataset.field = `staff.${i}.name`;
      $(".staff-mode", tr).dataset.field = `staff.${i}.hours`;
      tr.querySelectorAll(".staff-day").forEach((inp) => { inp.dataset.field = `staff.${i}.hours.${inp.dataset.day}`; });
    });
    document.querySelectorAll("#exception-rows tr").forEach((tr, i) => {
      for (const [cls, key] of [["exc-first", "first_day"], ["exc-last", "last_day"], ["exc-staff", "staff_id"], ["exc-hours", "hours"], ["exc-reason", "reason"]]) {
        $("." + cls, tr).dataset.field = `exceptions.${i}.${key}`;
      }
    });
  }

  function fill(d) {
    state.version = d.version;
    state.staff = d.staff;
    $("#service-name").textContent = d.service_name;
    $("#week").innerHTML = weekInputs("hours", d.hours, "service-day");
    const f = $("#schedule-form");
    f.duration_minutes.value = d.duration_minutes;
    f.slot_minutes.value = d.slot_minutes || "";
    f.capacity_per_slot.value = d.capacity_per_slot;
    f.observe_holidays.checked = d.observe_holidays;
    f.one_open_per_student.checked = d.one_open_per_student;
    $("#staff-rows").replaceChildren(...d.staff.map(staffRow));
    $("#exception-rows").replaceChildren(...d.exceptions.map(exceptionRow));
    renumber();
    showSlots("#slots-now", d.next_slots);
    $("#slots-preview").innerHTML = '<li class="empty">点「预览」查看</li>';
    $("#conflict").hidden = true;
    clearErrors();
    hideAffected();
  }

  function form() {
    const f = $("#schedule-form");
    const grid = (root, cls) => Object.fromEntries([...root.querySelectorAll("." + cls)].map((i) => [i.dataset.day, i.value.trim()]));
    const num = (v) => (v === "" ? null : Number(v));
    return {
      hours: grid($("#week"), "service-day"),
      duration_minutes: num(f.duration_minutes.value),
      slot_minutes: num(f.slot_minutes.value),
      capacity_per_slot: num(f.capacity_per_slot.value),
      observe_holidays: f.observe_holidays.checked,
      one_open_per_student: f.one_open_per_student.checked,
      staff: [...document.querySelectorAll("#staff-rows tr")].map((tr) => ({
        id: tr.dataset.id || null,
        name: $(".staff-name", tr).value.trim(),
        hours: $(".staff-mode", tr).value === "own" ? grid(tr, "staff-day") : null,
      })),
      exceptions: [...document.querySelectorAll("#exception-rows tr")].map((tr) => {
        const closed = $(".exc-kind", tr).value === "closed";
        return {
          first_day: $(".exc-first", tr).value || null,
          last_day: $(".exc-last", tr).value || null,
          staff_id: $(".exc-staff", tr).value || null,
          closed,
          hours: closed ? "" : $(".exc-hours", tr).value.trim(),
          reason: $(".exc-reason", tr).value.trim(),
        };
      }),
    };
  }

  function clearErrors() {
    document.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    document.querySelectorAll(".field-error").forEach((el) => el.remove());
    $("#errors").hidden = true;
  }

  const LABELS = { hours: "每周开放时间", duration_minutes: "每次时长", slot_minutes: "号源间隔", capacity_per_slot: "每个号源可约人数", staff: "工作人员", exceptions: "例外日期" };

  function label(field) {
    const parts = field.split(".");
    let text = LABELS[parts[0]] || parts[0];
    if (parts[0] === "hours" && parts[1]) text += " " + (DAY_NAMES[parts[1]] || parts[1]);
    if ((parts[0] === "staff" || parts[0] === "exceptions") && parts[1] !== undefined) text += ` 第${Number(parts[1]) + 1}行`;
    return text;
  }

  function showErrors(errors) {
    clearErrors();
    for (const e of errors) {
      const el = document.querySelector(`[data-field="${CSS.escape(e.field)}"]`);
      if (el) {
        el.classList.add("invalid");
        const msg = document.createElement("span");
        msg.className = "field-error";
        msg.textContent = e.message;
        el.insertAdjacentElement("afterend", msg);
      }
    }
    $("#errors").innerHTML = `<strong>有 ${errors.length} 处需要修改：</strong><ul>${errors.map((e) => `<li>${esc(label(e.field))}：${esc(e.message)}</li>`).join("")}</ul>`;
    $("#errors").hidden = false;
  }

  // FastAPI's own 422 (a wrong type, an empty number) in the same shape as our errors
  function requestErrors(r) {
    if (r.ok) return null;
    if (r.data && Array.isArray(r.data.errors)) return r.data.errors;
    if (r.data && Array.isArray(r.data.detail)) {
      return r.data.detail.map((e) => ({ field: (e.loc || []).slice(1).join("."), message: e.type === "missing" || e.input === null ? "请填写" : "格式不对" }));
    }
    return null;
  }

  // one line per day: "12月2日周三：09:00、09:20（王老师）…", the seats left when fewer than the capacity
  function showSlots(sel, slots) {
    const days = new Map();
    for (const s of slots) {
      const day = new Date(s.start).toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai", month: "long", day: "numeric", weekday: "short" });
      if (!days.has(day)) days.set(day, []);
      days.get(day).push(`${clock(s.start)}${s.staff.length ? "（" + s.staff.map(esc).join("、") + "）" : ""}`);
    }
    $(sel).innerHTML = days.size
      ? [...days].map(([day, times]) => `<li><strong>${esc(day)}</strong>：${times.join("、")}</li>`).join("")
      : '<li class="empty">预约期内没有空闲时间</li>';
  }

  function hideAffected() { $("#affected").hidden = true; state.affected = []; $("#confirm-affected").checked = false; }

  function showAffected(list, text) {
    state.affected = list;
    if (!list.length) { hideAffected(); return; }
    $("#affected-text").textContent = text || `有 ${list.length} 个已有预约不在新的开放时间内。保存不会取消它们。`;
    $("#affected-rows").innerHTML = list.map((a) => `<tr><td><code>${esc(a.code)}</code></td><td>${esc(when(a.starts_at))}</td><td>${esc(a.staff)}</td><td>${esc(a.reason)}</td></tr>`).join("");
    $("#affected").hidden = false;
  }

  async function load() {
    const r = await api("GET", `/api/admin/services/${encodeURIComponent(state.id)}/schedule`);
    if (!r.ok) { toast(detail(r, "加载失败")); return; }
    fill(r.data);
  }

  async function preview() {
    const r = await api("POST", `/api/admin/services/${encodeURIComponent(state.id)}/schedule/preview`, form());
    const errors = requestErrors(r);
    if (errors) { showErrors(errors); return; }
    if (!r.ok) { toast(detail(r, "预览失败")); return; }
    if (r.data.errors.length) { showErrors(r.data.errors); return; }
    clearErrors();
    showSlots("#slots-preview", r.data.next_slots);
    showAffected(r.data.affected);
  }

  async function save() {
    const confirmed = $("#confirm-affected").checked ? state.affected.map((a) => a.id) : [];
    const r = await api("PUT", `/api/admin/services/${encodeURIComponent(state.id)}/schedule`, Object.assign(form(), { version: state.version, confirm_affected: confirmed }));
    if (r.status === 409 && r.data && r.data.reason === "affected_bookings") {
      showAffected(r.data.affected, r.data.detail);
      toast("请先确认受影响的预约");
      return;
    }
    if (r.status === 409) {
      const box = $("#conflict");
      box.innerHTML = `<strong>保存冲突：</strong>${esc(detail(r, ""))} <button type="button" id="reload">加载最新排班</button>`;
      box.hidden = false;
      $("#reload").onclick = load;
      return;
    }
    const errors = requestErrors(r);
    if (errors) { showErrors(errors); toast(detail(r, "有内容需要修改，没有保存")); return; }
    if (!r.ok) { toast(detail(r, "保存失败")); return; }
    fill(r.data);
    toast("已保存：机器人下一次回答预约就按新的排班。");
  }

  const page = document.body.dataset.page;
  if (page === "schedules") {
    loadList();
  } else if (page === "schedule") {
    state.id = $(".schedule-editor").dataset.serviceId;
    $("#add-staff").onclick = () => { $("#staff-rows").append(staffRow({ id: "", name: "", hours: null })); renumber(); };
    $("#add-exception").onclick = () => { $("#exception-rows").append(exceptionRow({ closed: true })); renumber(); };
    $("#preview").onclick = preview;
    $("#save").onclick = save;
    load();
  }
})();
