/* The greeting menu's items (admins): list, add, delete through /api/insight/menu. */
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const form = document.getElementById("new-item");
  const body = document.querySelector("#menu-items tbody");
  const notice = document.getElementById("survey-notice");

  function el(tag, text) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function say(text, isError) {
    notice.textContent = text;
    notice.className = isError ? "error" : "notice";
    notice.hidden = false;
  }
  async function call(method, url, data) {
    const resp = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: data ? JSON.stringify(data) : undefined,
    });
    return { resp, data: await resp.json().catch(() => ({})) };
  }
  async function load() {
    const { resp, data } = await call("GET", "/api/insight/menu");
    if (!resp.ok) return say(data.detail || `加载失败（${resp.status}）`, true);
    body.textContent = "";
    for (const item of data.items) {
      const tr = el("tr");
      tr.dataset.item = item.id;
      [item.title, item.stage || "全部", item.first_day ? `${item.first_day} 至 ${item.last_day}` : "全年", item.position]
        .forEach((v) => tr.appendChild(el("td", v)));
      const del = el("button", "删除");
      del.type = "button";
      del.addEventListener("click", async () => {
        const out = await call("DELETE", `/api/insight/menu/${item.id}`);
        if (!out.resp.ok) return say(out.data.detail || `删除失败（${out.resp.status}）`, true);
        load();
      });
      tr.appendChild(el("td")).appendChild(del);
      body.appendChild(tr);
    }
    if (!data.items.length) body.appendChild(el("tr")).appendChild(el("td", "未设置：使用内置菜单")).setAttribute("colspan", "5");
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const item = {
      title: f.get("title"), stage: f.get("stage"), first_day: (f.get("first_day") || "").trim(),
      last_day: (f.get("last_day") || "").trim(), position: Number(f.get("position") || 0),
    };
    const { resp, data } = await call("POST", "/api/insight/menu", item);
    if (resp.status !== 201) return say(data.detail || `添加失败（${resp.status}）`, true);
    say("已添加到欢迎菜单。");
    form.reset();
    load();
  });
  load();
})();
