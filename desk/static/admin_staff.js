// The staff-account page (admins): list, create (one-time password shown once), edit roles and
// departments, disable / enable, reset the password.
"use strict";
(function () {
  if (document.body.dataset.page !== "staff") return;
  const { $, esc, when, toast, api } = window.AdminUI;
  const deptName = {};
  document.querySelectorAll('input[name="departments"]').forEach((i) => { deptName[i.value] = i.parentElement.textContent.trim(); });
  const names = (ids) => (ids.length ? ids.map((d) => esc(deptName[d] || d)).join("、") : "—");
  let accounts = [];

  function problem(r, fallback) {
    if (r.data && typeof r.data.detail === "string") return r.data.detail;
    if (r.data && Array.isArray(r.data.detail)) return r.data.detail.some((e) => (e.loc || []).includes("username")) ? "用户名需要 2–64 个字符" : "内容格式不对";
    return fallback;
  }

  async function load() {
    const r = await api("GET", "/api/admin/staff");
    if (!r.ok) { toast(problem(r, "加载失败")); return; }
    accounts = r.data;
    $("#account-rows").innerHTML = accounts.map((a) => `<tr data-id="${a.id}">
      <td><code>${esc(a.username)}</code></td><td>${esc(a.display_name)}</td><td>${a.is_admin ? "是" : ""}</td>
      <td>${names(a.departments)}</td><td>${names(a.editor_departments)}</td><td>${a.active ? "启用" : "已停用"}</td>
      <td>${esc(when(a.last_login_at))}</td>
      <td><button type="button" class="edit">修改</button> <button type="button" class="reset danger">重置密码</button></td></tr>`).join("");
    document.querySelectorAll("#account-rows tr").forEach((tr) => {
      const account = accounts.find((a) => String(a.id) === tr.dataset.id);
      $(".edit", tr).onclick = () => edit(account);
      $(".reset", tr).onclick = () => reset(account);
    });
  }

  function showPassword(result) {
    $("#password-for").textContent = `${result.account.display_name}（${result.account.username}）`;
    $("#new-password").textContent = result.password;
    $("#password-box").hidden = false;
  }

  function checked(name) { return [...document.querySelectorAll(`#account-form input[name="${name}"]:checked`)].map((i) => i.value); }

  function edit(account) {
    const f = $("#account-form");
    f.id.value = account.id;
    f.username.value = account.username;
    f.username.disabled = true;
    f.display_name.value = account.display_name;
    f.is_admin.checked = account.is_admin;
    f.active.checked = account.active;
    $("#active-label").hidden = false;
    document.querySelectorAll('#account-form input[name="departments"]').forEach((i) => { i.checked = account.departments.includes(i.value); });
    document.querySelectorAll('#account-form input[name="editor_departments"]').forEach((i) => { i.checked = account.editor_departments.includes(i.value); });
    $("#account-form-title").textContent = `修改账号 ${account.username}`;
    $("#account-submit").textContent = "保存修改";
    $("#account-cancel").hidden = false;
    $("#account-error").textContent = "";
    f.scrollIntoView();
  }

  function resetForm() {
    const f = $("#account-form");
    f.reset();
    f.id.value = "";
    f.username.disabled = false;
    $("#active-label").hidden = true;
    $("#account-form-title").textContent = "新建账号";
    $("#account-submit").textContent = "创建账号";
    $("#account-cancel").hidden = true;
    $("#account-error").textContent = "";
  }

  async function submit(ev) {
    ev.preventDefault();
    const f = $("#account-form");
    const body = { display_name: f.display_name.value.trim(), is_admin: f.is_admin.checked, departments: checked("departments"), editor_departments: checked("editor_departments") };
    let r;
    if (f.id.value) {
      r = await api("PUT", `/api/admin/staff/${f.id.value}`, Object.assign(body, { active: f.active.checked }));
    } else {
      r = await api("POST", "/api/admin/staff", Object.assign(body, { username: f.username.value.trim().toLowerCase() }));
    }
    if (!r.ok) { $("#account-error").textContent = problem(r, "保存失败"); return; }
    if (r.data.password) { showPassword(r.data); toast("账号已创建"); } else { toast("已保存"); }
    resetForm();
    load();
  }

  async function reset(account) {
    if (!window.confirm(`为 ${account.display_name}（${account.username}）重置密码？此人在所有电脑上的登录会立即失效。`)) return;
    const r = await api("POST", `/api/admin/staff/${account.id}/reset-password`);
    if (!r.ok) { toast(problem(r, "重置失败")); return; }
    showPassword(r.data);
    toast(`密码已重置，${r.data.sessions_ended} 个登录已失效`);
  }

  $("#account-form").addEventListener("submit", submit);
  $("#account-cancel").onclick = resetForm;
  $("#password-done").onclick = () => { $("#password-box").hidden = true; $("#new-password").textContent = ""; };
  load();
})();
