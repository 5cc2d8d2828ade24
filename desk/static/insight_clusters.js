/* Unanswered-question clusters (admins): each with its examples, the nearest FAQ entry, and a button
   that sends the cluster's draft to the FAQ editor (POST /api/admin/faq/drafts). Text is set as text. */
(function () {
  "use strict";
  const list = document.getElementById("cluster-list");
  const notice = document.getElementById("cluster-notice");

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function say(text, isError) {
    notice.textContent = text;
    notice.className = isError ? "error" : "notice";
    notice.hidden = false;
  }

  async function draft(url, item, button) {
    button.disabled = true;
    let resp;
    try {
      resp = await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": window.insightCsrf },
        body: JSON.stringify(item.draft),
      });
    } catch (e) {
      say("网络错误，草稿未保存，请稍后重试。", true);
      button.disabled = false;
      return;
    }
    if (resp.status === 201) {
      const data = await resp.json();
      say(`已生成草稿 #${data.id}。`);
      const link = el("a", "打开草稿");
      link.href = data.url;
      notice.appendChild(document.createTextNode(" "));
      notice.appendChild(link);
      return;
    }
    button.disabled = false;
    if (resp.status === 404) {
      say("FAQ 编辑器尚未启用（没有 /api/admin/faq/drafts），草稿未保存。可先复制示例问题手动新建条目。", true);
    } else {
      const data = await resp.json().catch(() => ({}));
      say(`草稿未保存：${data.detail || resp.status}`, true);
    }
  }

  function render(data) {
    list.textContent = "";
    if (!data.clusters.length) list.appendChild(el("p", "这段时间没有成组的未答问题。", "muted"));
    for (const item of data.clusters) {
      const box = el("article", null, "cluster");
      box.dataset.cluster = item.id;
      const from = item.kind === "handoff" ? "【人工回复过】" : "";
      box.appendChild(el("h3", `${from}${item.medoid}（${item.count} 次，${item.texts} 种问法）`));
      const ul = el("ul");
      for (const t of item.examples) ul.appendChild(el("li", t));
      box.appendChild(ul);
      if (item.kind !== "handoff") {
        const near = item.nearest ? `最接近的已有条目：${item.nearest.question}（相似度 ${item.nearest.score}）` : "没有相近的已有条目";
        box.appendChild(el("p", near, "nearest"));
      }
      if (item.staff_answer) box.appendChild(el("p", `老师曾这样回答：${item.staff_answer.answer}`, "nearest"));
      const button = el("button", "从此聚类起草 FAQ");
      button.type = "button";
      button.addEventListener("click", () => draft(data.drafts_url, item, button));
      box.appendChild(button);
      list.appendChild(box);
    }
  }

  window.insightClusters = async function (params) {
    if (document.body.dataset.admin !== "1") {
      list.textContent = "";
      list.appendChild(el("p", "未答问题聚类仅管理员可见。", "muted"));
      return;
    }
    params = new URLSearchParams(params);
    params.delete("department");
    list.textContent = "";
    list.appendChild(el("p", "正在分析…", "muted"));
    const resp = await fetch(`/api/insight/clusters?${params}`, { credentials: "same-origin" });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      list.textContent = "";
      say(data.detail || `加载失败（${resp.status}）`, true);
      return;
    }
    render(data);
  };
})();
