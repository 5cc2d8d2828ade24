// 模型管理 (/admin/model): whether the catalog terms need a retrain, start one, follow its progress, restore.
"use strict";
(function () {
  const { $, esc, when, toast, api } = window.AdminUI;
  const RUNNING = ["queued", "validating", "training", "testing", "loading"];
  let polling = null;

  function changesHtml(c) {
    const names = (items) => items.map((n) => `${esc(n.name)} → ${esc(n.service)}`);
    const parts = [];
    if (c.added_names.length) parts.push(`<li>新增服务名称：${names(c.added_names).join("、")}</li>`);
    if (c.removed_names.length) parts.push(`<li>删除服务名称：${names(c.removed_names).join("、")}</li>`);
    if (c.added_words.length) parts.push(`<li>新增词条：${c.added_words.map(esc).join("、")}</li>`);
    if (c.removed_words.length) parts.push(`<li>删除词条：${c.removed_words.map(esc).join("、")}</li>`);
    return parts.length ? `<ul class="changes-list">${parts.join("")}</ul>` : "";
  }

  function showBuild(b) {
    $("#build").hidden = false;
    $("#build-id").textContent = b.id;
    $("#build-status").textContent = b.status_text;
    $("#build-progress").value = b.progress;
    $("#build-percent").textContent = b.progress + "%";
    $("#build-stage").textContent = b.stage;
    $("#build-error").hidden = !b.error;
    $("#build-error").textContent = b.error || "";
    $("#build-log").textContent = b.log_tail;
  }

  function render(o) {
    $("#serving").textContent = o.serving || "未知";
    $("#serving-note").textContent = o.serving_source === "config" ? "（Rasa 未运行：这是它启动时会使用的模型）" : (o.serving_build_id ? `（训练 #${o.serving_build_id}）` : "");
    const down = o.replicas.filter((r) => r.error);
    $("#replicas").textContent = o.replicas.length > 1 ? `${o.replicas.length} 个 Rasa 服务，${o.replicas.length - down.length} 个在运行` : (down.length ? "Rasa 未运行：" + down[0].error : "");
    $("#previous").textContent = o.previous || "—";
    $("#restore").disabled = !o.previous || !!o.running;
    const c = o.changes;
    const count = c.added_words.length + c.removed_words.length + c.added_names.length + c.removed_names.length;
    $("#retrain-due").hidden = !o.retrain_due;
    $("#retrain-due").textContent = o.model_terms_fingerprint ? `需要重新训练：数据库中的目录词条有 ${count} 处与正在使用的模型不同。` : "需要重新训练：无法读取正在使用的模型中的词条。";
    $("#terms-ok").hidden = o.retrain_due;
    $("#changes").innerHTML = changesHtml(c);
    $("#start-build").disabled = !!o.running;
    $("#build-rows").innerHTML = o.builds.map((b) => `<tr><td>${b.id}</td><td>${esc(b.started_by)}</td><td>${esc(when(b.started_at))}</td>
      <td>${esc(when(b.finished_at))}</td><td title="${esc(b.error || b.stage)}">${esc(b.status_text)}${b.error ? "：" + esc(b.error) : ""}</td>
      <td><code>${esc(b.model || "—")}</code></td>
      <td>${b.status === "ready" && !o.running ? `<button type="button" data-activate="${b.id}">启用</button>` : ""}</td></tr>`).join("");
    $("#no-builds").hidden = o.builds.length > 0;
    if (o.running) { showBuild(o.running); follow(o.running.id); }
    else if (o.builds.length && !polling) showBuild(o.builds[0]);
  }

  async function load() {
    const r = await api("GET", "/api/admin/model");
    if (!r.ok) { toast((r.data && r.data.detail) || "加载失败"); return; }
    render(r.data);
  }

  function follow(id) {
    if (polling) return;
    polling = setInterval(async () => {
      const r = await api("GET", `/api/admin/model/builds/${id}`);
      if (!r.ok) return;
      showBuild(r.data);
      if (!RUNNING.includes(r.data.status)) {
        clearInterval(polling);
        polling = null;
        toast(r.data.status === "active" ? "新模型已启用。" : (r.data.status === "failed" ? "训练失败：" + r.data.error : r.data.error || r.data.status_text));
        load();
      }
    }, 2000);
  }

  async function change(url, confirmText) {
    if (confirmText && !confirm(confirmText)) return;
    document.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    const r = await api("POST", url);
    if (!r.ok) { toast((r.data && r.data.detail) || "操作失败"); load(); return; }
    toast("已切换模型。");
    render(r.data);
  }

  $("#start-build").onclick = async () => {
    const r = await api("POST", "/api/admin/model/builds");
    if (!r.ok) { toast((r.data && r.data.detail) || "无法开始训练"); load(); return; }
    showBuild(r.data);
    $("#start-build").disabled = true;
    follow(r.data.id);
  };
  $("#restore").onclick = () => change("/api/admin/model/restore", "恢复上一版模型？正在使用的模型会成为“上一版”。");
  $("#build-rows").addEventListener("click", (ev) => {
    const id = ev.target.dataset && ev.target.dataset.activate;
    if (id) change(`/api/admin/model/builds/${id}/activate`, `启用训练 #${id} 的模型？`);
  });
  load();
})();
