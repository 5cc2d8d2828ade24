/* Surveys page: define a survey, see each one's answers (a bar chart; free text grouped by meaning). */
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const form = document.getElementById("new-survey");
  const notice = document.getElementById("survey-notice");
  const list = document.getElementById("surveys");
  const AUDIENCE = { all: "全部学生" };

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

  async function load() {
    const resp = await fetch("/api/insight/surveys", { credentials: "same-origin" });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) return say(data.detail || `加载失败（${resp.status}）`, true);
    list.textContent = "";
    for (const s of data.surveys) {
      const box = el("article", null, "cluster");
      box.dataset.survey = s.id;
      box.appendChild(el("h3", `${s.title}：${s.question}`));
      const who = AUDIENCE[s.audience] || s.audience.replace("stage:", "阶段：").replace("service:", "服务：");
      box.appendChild(el("p", `${who} · ${s.starts_on} 至 ${s.ends_on} · 已询问 ${s.asked} 人，回答 ${s.answered}，跳过 ${s.skipped}`, "nearest"));
      if (s.distribution) {
        const div = el("div", null, "chart");
        div.style.height = "220px";
        box.appendChild(div);
        list.appendChild(box);
        echarts.init(div).setOption({
          tooltip: {}, grid: { left: 40, right: 20, top: 20, bottom: 30, containLabel: true },
          xAxis: { type: "category", data: s.distribution.map((d) => d[0]) }, yAxis: { type: "value", minInterval: 1 },
          series: [{ type: "bar", data: s.distribution.map((d) => d[1]), label: { show: true, position: "top" } }],
        });
        continue;
      }
      const ul = el("ul");
      for (const g of s.groups || []) {
        const li = el("li", `${g.label}（${g.count}）`);
        if (g.answers.length > 1) li.appendChild(el("span", ` ${g.answers.join(" / ")}`, "muted"));
        ul.appendChild(li);
      }
      if (!(s.groups || []).length) ul.appendChild(el("li", "暂无回答", "muted"));
      box.appendChild(ul);
      list.appendChild(box);
    }
    document.body.dataset.loaded = "1";
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const service = (f.get("service") || "").trim();
    const body = {
      title: f.get("title"), question: f.get("question"), kind: f.get("kind"),
      options: (f.get("options") || "").split(/[、,，]/).map((o) => o.trim()).filter(Boolean),
      audience: service ? `service:${service}` : f.get("audience"),
      starts_on: f.get("starts_on"), ends_on: f.get("ends_on"),
    };
    const resp = await fetch("/api/insight/surveys", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({}));
    if (resp.status !== 201) return say(data.detail || `发布失败（${resp.status}）`, true);
    say(`已发布调查 #${data.id}，学生在下次咨询后会看到。`);
    form.reset();
    load();
  });
  load();
})();
