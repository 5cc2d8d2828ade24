// The knowledge-base admin pages: list, editor (save, publish, history, rollback, 试一试), import, audit.
"use strict";
(function () {
  const { $, esc, when, toast, api } = window.AdminUI;
  const DECISIONS = { faq_answer: "直接回答", faq_suggest: "给出 3 个候选问题", faq_none: "找不到答案（转人工选项）", decline: "礼貌拒答（不在服务范围）", service: "服务卡片（一次性告知）", task: "开始办理流程", crisis: "危机干预", reply: "固定回复" };

  // -- list ---------------------------------------------------------------------------------------
  async function loadList() {
    const form = $("#filters");
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form).entries()) if (v) params.set(k, k === "edited_since" ? v + "T00:00:00+08:00" : v);
    const r = await api("GET", "/api/admin/faqs?" + params.toString());
    if (!r.ok) { toast((r.data && r.data.detail) || "加载失败"); return; }
    $("#rows").innerHTML = r.data.map((f) => `<tr>
      <td><a href="/admin/faqs/${encodeURIComponent(f.id)}">${esc(f.question)}</a></td>
      <td>${esc(f.department || "—")}</td><td>${f.tags.map(esc).join("、")}</td>
      <td>${f.state === "published" ? "已发布" : "草稿"}${f.has_draft ? "（有未发布修改）" : ""}</td>
      <td>${f.version}</td><td>${esc(when(f.updated_at))} ${esc(f.updated_by)}</td>
      <td>${f.hits}${f.last_hit_at ? "，最近 " + esc(when(f.last_hit_at)) : ""}</td></tr>`).join("");
    $("#empty").hidden = r.data.length > 0;
  }

  // -- editor -------------------------------------------------------------------------------------
  const editorState = { id: "", version: null, published: false };

  function fields() {
    const f = $("#faq-form");
    const lines = (s) => s.split("\n").map((x) => x.trim()).filter(Boolean);
    return {
      question: f.question.value.trim(),
      similar: lines(f.similar.value),
      answer: f.answer.value.trim(),
      department: f.department.value || null,
      tags: f.tags.value.split(/[,，]/).map((x) => x.trim()).filter(Boolean),
      service: f.service.value || null,
      valid_from: f.valid_from.value || null,
      valid_until: f.valid_until.value || null,
    };
  }

  function fill(content) {
    const f = $("#faq-form");
    f.question.value = content.question || "";
    f.similar.value = (content.similar || []).join("\n");
    f.answer.value = content.answer || "";
    f.department.value = content.department || "";
    f.service.value = content.service || "";
    f.tags.value = (content.tags || []).join("，");
    f.valid_from.value = content.valid_from || "";
    f.valid_until.value = content.valid_until || "";
  }

  function showState(d) {
    editorState.version = d.version;
    editorState.published = d.state === "published";
    const parts = [d.state === "published" ? "已发布" : "草稿（机器人不会使用）", `第 ${d.version} 版`, `最后编辑：${when(d.updated_at)} ${d.updated_by}`];
    if (d.draft) parts.push("有未发布的修改（下面显示的是草稿）");
    $("#state").textContent = parts.join(" · ");
    $("#unpublish").hidden = d.state !== "published";
  }

  async function loadFaq() {
    const r = await api("GET", "/api/admin/faqs/" + encodeURIComponent(editorState.id));
    if (!r.ok) { toast((r.data && r.data.detail) || "加载失败"); return; }
    fill(r.data.draft || r.data);
    showState(r.data);
    $("#conflict").hidden = true;
    loadHistory();
  }

  function conflict(r) {
    const box = $("#conflict");
    box.innerHTML = `<strong>保存冲突：</strong>${esc(r.data.detail)} <button type="button" id="reload">加载最新版本</button>`;
    box.hidden = false;
    $("#reload").onclick = loadFaq;
  }

  async function save(publish) {
    const body = fields();
    let r;
    if (!editorState.id) {
      const id = $("#faq-form").id.value.trim();
      r = await api("POST", "/api/admin/faqs", Object.assign(body, { id: id || null, publish }));
      if (r.ok) { location.href = "/admin/faqs/" + encodeURIComponent(r.data.id) + "?saved=1"; return; }
    } else {
      r = await api("PUT", "/api/admin/faqs/" + encodeURIComponent(editorState.id),
        Object.assign(body, { version: editorState.version, publish }), { "If-Match": `"v${editorState.version}"` });
    }
    if (r.status === 409 || r.status === 412) { conflict(r); return; }
    if (!r.ok) { toast((r.data && r.data.detail) || "保存失败"); return; }
    showState(r.data);
    toast(publish ? "已发布：学生的下一条消息就会用到新答案。" : (r.data.state === "published" ? "草稿已保存，线上答案不变。" : "已保存。"));
    loadHistory();
  }

  async function unpublish() {
    const r = await api("POST", `/api/admin/faqs/${encodeURIComponent(editorState.id)}/unpublish`, { version: editorState.version });
    if (r.status === 409 || r.status === 412) { conflict(r); return; }
    if (!r.ok) { toast((r.data && r.data.detail) || "操作失败"); return; }
    showState(r.data);
    toast("已下线：机器人不再使用这条问答。");
    loadHistory();
  }

  const LABELS = { question: "标准问题", similar: "相似问法", answer: "答案", department: "部门", tags: "标签", service: "关联服务", valid_from: "生效日期", valid_until: "失效日期", published: "已发布", draft: "草稿" };
  const show = (v) => (Array.isArray(v) ? v.join("、") : v && typeof v === "object" ? JSON.stringify(v) : v == null ? "（空）" : String(v));

  async function loadHistory() {
    if (!editorState.id) return;
    const r = await api("GET", `/api/admin/faqs/${encodeURIComponent(editorState.id)}/history`);
    if (!r.ok) return;
    $("#history").innerHTML = r.data.map((rev) => `<li>
      <div><strong>第 ${rev.version} 版</strong> · ${esc(when(rev.changed_at))} · ${esc(rev.changed_by)}
      ${rev.version !== editorState.version ? `<button type="button" class="rollback" data-version="${rev.version}">回滚到这一版</button>` : "（当前）"}</div>
      <ul class="changes">${rev.changes.map((c) => `<li><b>${esc(LABELS[c.field] || c.field)}</b>：<del>${esc(show(c.before))}</del> → <ins>${esc(show(c.after))}</ins></li>`).join("")}</ul></li>`).join("");
    for (const b of document.querySelectorAll(".rollback")) {
      b.onclick = async () => {
        const r2 = await api("POST", `/api/admin/faqs/${encodeURIComponent(editorState.id)}/rollback`, { to_version: Number(b.dataset.version), version: editorState.version });
        if (r2.status === 409 || r2.status === 412) { conflict(r2); return; }
        if (!r2.ok) { toast((r2.data && r2.data.detail) || "回滚失败"); return; }
        toast(`已回滚到第 ${b.dataset.version} 版（保存为第 ${r2.data.version} 版）。`);
        loadFaq();
      };
    }
  }

  function outcomeHtml(o) {
    if (!o) return "<p class='empty'>—</p>";
    return `<p class="decision">决定：<strong>${esc(DECISIONS[o.decision] || o.decision)}</strong>${o.intent ? `（意图 ${esc(o.intent)}）` : ""}</p>
      ${o.answer ? `<blockquote class="answer">${esc(o.answer)}</blockquote>` : ""}
      <ol class="top3">${o.matches.map((m) => `<li><span class="score">${m.score.toFixed(3)}</span> ${esc(m.question)} <code>${esc(m.faq_id)}</code></li>`).join("")}</ol>`;
  }

  async function tryIt(ev) {
    ev.preventDefault();
    const question = $("#try-form").question.value.trim();
    if (!question) return;
    const draft = fields();
    const body = { question, faq_id: editorState.id || null, draft: draft.question.length >= 2 && draft.answer.length >= 2 ? draft : null };
    const r = await api("POST", "/api/admin/try", body);
    if (!r.ok) { toast((r.data && r.data.detail) || "试一试失败"); return; }
    $("#try-note").textContent = r.data.note;
    $("#try-live").innerHTML = outcomeHtml(r.data.live);
    $("#try-draft").innerHTML = outcomeHtml(r.data.draft);
  }

  // -- import -------------------------------------------------------------------------------------
  async function runImport(dryRun) {
    const form = $("#import-form");
    const file = form.file.files[0];
    if (!file) { toast("请选择文件"); return; }
    const ext = file.name.split(".").pop().toLowerCase();
    const fd = new FormData();
    fd.append("file", file);
    fd.append("format", ext === "xlsx" ? "xlsx" : ext === "csv" ? "csv" : "yaml");
    fd.append("dry_run", dryRun ? "true" : "false");
    const r = await api("POST", "/api/admin/import/faqs", fd);
    const out = $("#import-result");
    if (!r.ok) { out.innerHTML = `<p class="error">${esc((r.data && r.data.detail) || "导入失败")}</p>`; return; }
    const d = r.data;
    if (d.issues.length) {
      out.innerHTML = `<p class="error">发现 ${d.issues.length} 个问题，没有写入任何内容：</p><table class="list"><thead><tr><th>行</th><th>字段</th><th>问题</th></tr></thead><tbody>${d.issues.map((i) => `<tr><td>${i.row}</td><td>${esc(i.field)}</td><td>${esc(i.message)}</td></tr>`).join("")}</tbody></table>`;
      $("#do-import").disabled = true;
    } else if (d.dry_run) {
      out.innerHTML = `<p class="ok">${d.rows} 行全部通过检查，可以导入。</p>`;
      $("#do-import").disabled = false;
    } else {
      out.innerHTML = `<p class="ok">已导入：新增 ${d.created} 条，更新 ${d.updated} 条。</p>`;
      $("#do-import").disabled = true;
    }
  }

  // -- audit --------------------------------------------------------------------------------------
  async function loadAudit(ev) {
    if (ev) ev.preventDefault();
    const params = new URLSearchParams();
    const dayAfter = (d) => new Date(new Date(d + "T00:00:00+08:00").getTime() + 86400000).toISOString();
    for (const [k, v] of new FormData($("#audit-filters")).entries()) {
      if (v) params.set(k, k === "since" ? v + "T00:00:00+08:00" : k === "until" ? dayAfter(v) : v);  // the whole last day
    }
    const r = await api("GET", "/api/admin/audit?" + params.toString());
    if (!r.ok) { toast((r.data && r.data.detail) || "加载失败"); return; }
    $("#audit-rows").innerHTML = r.data.map((e) => `<tr><td>${esc(when(e.at))}</td><td>${esc(e.actor)}</td><td>${esc(e.action)}</td>
      <td>${esc(e.entity)} <code>${esc(e.entity_id)}</code></td>
      <td><details><summary>查看</summary><pre>${esc(JSON.stringify(e.before, null, 1))}</pre><pre>${esc(JSON.stringify(e.after, null, 1))}</pre></details></td></tr>`).join("");
  }

  // -- retrain notice (admins): the catalog terms changed since the served model was trained ----------
  async function retrainBanner() {
    const banner = $("#retrain-banner");
    if (!banner) return;
    const r = await api("GET", "/api/admin/model");
    if (!r.ok || !r.data.retrain_due) return;
    const c = r.data.changes;
    const count = c.added_words.length + c.removed_words.length + c.added_names.length + c.removed_names.length;
    banner.innerHTML = `需要重新训练：目录词条有 ${count} 处变化（部门、服务的名称和别名，标签，同义词），机器人的词典还是旧的。<a href="/admin/model">去模型管理</a>`;
    banner.hidden = false;
  }

  const page = document.body.dataset.page;
  if (page === "faqs") {
    $("#filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadList(); });
    loadList();
    retrainBanner();
  } else if (page === "edit") {
    editorState.id = $(".editor").dataset.faqId;
    $("#save-draft").onclick = () => save(false);
    $("#publish").onclick = () => save(true);
    $("#unpublish").onclick = unpublish;
    $("#try-form").addEventListener("submit", tryIt);
    if (editorState.id) loadFaq();
    if (new URLSearchParams(location.search).get("saved")) toast("已保存。");
  } else if (page === "import") {
    $("#check").onclick = () => runImport(true);
    $("#do-import").onclick = () => runImport(false);
    $("#import-form").file.onchange = () => { $("#do-import").disabled = true; };
  } else if (page === "audit") {
    $("#audit-filters").addEventListener("submit", loadAudit);
    loadAudit();
  }
})();
