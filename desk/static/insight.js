/* The insight dashboard: reads /api/insight/dashboard and draws each chart with ECharts (vendored).
   Student text is only ever set as text (textContent, or drawn on the canvas). */
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const form = document.getElementById("filters");
  const errorBox = document.getElementById("error");
  const charts = {};
  const CHANNELS = { web: "网页", tg: "Telegram", wx: "微信公众号", "?": "未知" };
  let names = {};

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function dept(id) { return names[id] || id; }
  function query() {
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form).entries()) if (v) params.set(k, v);
    return params;
  }
  function chartOf(name) {
    const fig = document.querySelector(`figure[data-chart="${name}"]`);
    if (!charts[name]) charts[name] = echarts.init(fig.querySelector(".chart"));
    return { fig, chart: charts[name] };
  }
  function caption(fig, data) {
    const cap = fig.querySelector("figcaption");
    cap.textContent = "";
    cap.appendChild(el("span", data.title));
    const link = el("a", "导出 CSV");
    link.href = `/api/insight/charts/${data.name}.csv?${query()}`;
    link.setAttribute("download", "");
    cap.appendChild(link);
  }
  const grid = { left: 50, right: 20, top: 30, bottom: 40, containLabel: true };

  const draw = {
    messages_per_day(d) {
      const series = {};
      for (const [day, ch, n] of d.rows) (series[ch] = series[ch] || {})[day] = n;
      return {
        tooltip: { trigger: "axis" }, legend: {}, grid,
        xAxis: { type: "category", data: d.days }, yAxis: { type: "value" },
        series: Object.keys(series).map((ch) => ({
          name: CHANNELS[ch] || ch, type: "bar", stack: "all", data: d.days.map((x) => series[ch][x] || 0),
        })),
      };
    },
    outcomes(d) {
      return {
        tooltip: { trigger: "item" }, legend: { bottom: 0 },
        series: [{ type: "pie", radius: ["35%", "65%"], data: d.rows.map((r) => ({ name: r[1], value: r[2] })) }],
      };
    },
    heatmap(d) {
      const max = Math.max(1, ...d.rows.map((r) => r[2]));
      return {
        tooltip: {}, grid: { ...grid, bottom: 60 },
        xAxis: { type: "category", data: [...Array(24).keys()].map((h) => `${h}时`) },
        yAxis: { type: "category", data: d.weekdays },
        visualMap: { min: 0, max, calculable: true, orient: "horizontal", left: "center", bottom: 0 },
        series: [{ type: "heatmap", data: d.rows.map((r) => [r[1], r[0], r[2]]) }],
      };
    },
    top_questions(d) { return barH(d.rows.map((r) => [r[1], r[2]])); },
    top_giveups(d) { return barH(d.rows.map((r) => [r[0], r[1]])); },
    handoff_times(d) {
      const cats = d.rows.map((r) => dept(r[0]));
      const s = (name, i) => ({ name, type: "bar", data: d.rows.map((r) => r[i]) });
      return {
        tooltip: { trigger: "axis" }, legend: {}, grid,
        xAxis: { type: "category", data: cats }, yAxis: { type: "value", name: "分钟" },
        series: [s("等待 p50", 2), s("等待 p95", 3), s("处理 p50", 4), s("处理 p95", 5)],
      };
    },
    satisfaction(d) {
      const rows = d.by_department;
      return {
        tooltip: { trigger: "axis" }, grid,
        xAxis: { type: "category", data: rows.map((r) => dept(r[0])) },
        yAxis: { type: "value", min: 0, max: 5 },
        series: [{ type: "bar", name: "平均分", data: rows.map((r) => r[2]), label: { show: true, position: "top" } }],
      };
    },
    bookings(d) {
      const s = (name, i) => ({ name, type: "bar", data: d.rows.map((r) => r[i]) });
      return {
        tooltip: { trigger: "axis" }, legend: {}, grid,
        xAxis: { type: "category", data: d.rows.map((r) => r[1]) }, yAxis: { type: "value" },
        series: [s("待到访", 2), s("已到", 3), s("未到", 4), s("已取消", 5)],
      };
    },
    related(d) {
      const rows = d.rows.slice().reverse();
      return {
        tooltip: { trigger: "axis" }, legend: {}, grid: { ...grid, left: 10 },
        xAxis: { type: "value" },
        yAxis: { type: "category", data: rows.map((r) => (r[1].length > 18 ? r[1].slice(0, 18) + "…" : r[1])) },
        series: [{ name: "推荐次数", type: "bar", data: rows.map((r) => r[2]) },
                 { name: "点击次数", type: "bar", data: rows.map((r) => r[3]) }],
        graphic: rows.length ? [] : [{ type: "text", left: "center", top: "middle", style: { text: "暂无数据（HELPDESK_INSIGHT_RELATED 未开启或无推荐）", fill: "#999" } }],
      };
    },
  };
  function barH(pairs) {
    const rows = pairs.slice().reverse();
    return {
      tooltip: {}, grid: { ...grid, left: 10 },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: rows.map((r) => (r[0].length > 18 ? r[0].slice(0, 18) + "…" : r[0])) },
      series: [{ type: "bar", data: rows.map((r) => r[1]) }],
    };
  }

  function comments(d) {
    const body = document.querySelector("#comments tbody");
    body.textContent = "";
    for (const [at, dp, staff, rating, text] of d.comments || []) {
      const tr = el("tr");
      [at.slice(0, 16).replace("T", " "), dept(dp), staff, rating, text].forEach((v) => tr.appendChild(el("td", v)));
      body.appendChild(tr);
    }
    if (!(d.comments || []).length) body.appendChild(el("tr")).appendChild(el("td", "暂无留言")).setAttribute("colspan", "5");
  }

  async function load() {
    errorBox.hidden = true;
    const resp = await fetch(`/api/insight/dashboard?${query()}`, { credentials: "same-origin" });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      errorBox.textContent = data.detail || `加载失败（${resp.status}）`;
      errorBox.hidden = false;
      return;
    }
    names = data.department_names || {};
    document.getElementById("f-from").value = data.from;
    document.getElementById("f-to").value = data.to;
    fillDepartments(data);
    for (const d of data.charts) {
      if (!draw[d.name]) continue;
      const { fig, chart } = chartOf(d.name);
      caption(fig, d);
      chart.setOption(draw[d.name](d), true);
      if (d.name === "satisfaction") comments(d);
    }
    document.body.dataset.loaded = "1";
    if (window.insightClusters) window.insightClusters(query());
  }
  function fillDepartments(data) {
    const select = document.getElementById("f-department");
    if (select.options.length > 1) return;
    const mine = document.body.dataset.admin === "1" ? Object.keys(names) : document.body.dataset.departments.split(",");
    for (const id of mine.filter(Boolean).sort()) {
      const opt = el("option", dept(id));
      opt.value = id;
      select.appendChild(opt);
    }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  window.insightCsrf = csrf;
  load();
})();
