// 一屏统揽: fills each <section data-panel> from /api/v1/dashboard/<panel>.
// City view: the latest month by district (click a bar to drill in); district view:
// the month-by-month trend. Suppressed cells (counts 1-4 and their amounts) arrive as
// null and are drawn as gaps. Amounts and rates go on the right-hand axis.
(function () {
  "use strict";
  const select = document.getElementById("district");
  const charts = {};
  let district = new URLSearchParams(location.search).get("district") || "";
  const ON_RIGHT = /amount|rate/;

  function records(body) {
    return body.rows.map((row) => Object.fromEntries(body.columns.map((c, i) => [c, row[i]])));
  }

  function categoryDim(body) {
    return body.dims.find((d) => d !== "month" && d !== "division_code") || null;
  }

  function series(rows, body, keyOf, keys) {
    // One series per charted column (and per category when the panel has one).
    const cat = categoryDim(body);
    const cats = cat ? [...new Set(rows.map((r) => r[cat]))] : [null];
    const out = [];
    for (const [col, label] of Object.entries(body.show)) {
      for (const c of cats) {
        const byKey = new Map();
        rows.filter((r) => c === null || r[cat] === c).forEach((r) => byKey.set(keyOf(r), r[col]));
        out.push({
          name: c === null ? label : c + " " + label,
          type: district ? "line" : "bar",
          yAxisIndex: ON_RIGHT.test(col) ? 1 : 0,
          connectNulls: false,
          data: keys.map((k) => (byKey.has(k) ? byKey.get(k) : null)),
        });
      }
    }
    return out;
  }

  function governance(rows, body) {
    // Deliveries and rows add up across units: 归集率 and 隔离率 of the latest month.
    const latest = rows.reduce((m, r) => (r.month > m ? r.month : m), "");
    const feeds = new Map();
    rows.filter((r) => r.month === latest).forEach((r) => {
      const f = feeds.get(r.feed_id) || { title: r.feed_title, got: 0, want: 0, q: 0, n: 0, behind: null };
      const h = r.hours_behind_latest_ingest;
      if (h !== null && (f.behind === null || h < f.behind)) f.behind = h;
      f.got += r.periods_received || 0;
      f.want += r.deliveries_expected || 0;
      f.q += r.rows_quarantined || 0;
      f.n += r.rows_declared || 0;
      feeds.set(r.feed_id, f);
    });
    const list = [...feeds.values()];
    const pct = (a, b) => (b ? Math.round((1000 * a) / b) / 10 : null);
    return {
      note: "月份 " + latest + "；归集率 = 收到期数 / 应报期数，隔离率 = 隔离行 / 申报行，时效 = 该数据源最近一次入库距全局最新入库的小时数（右轴）",
      option: {
        tooltip: { trigger: "axis" },
        legend: { textStyle: { color: "#cfe0ff" } },
        grid: { left: 48, right: 48, top: 36, bottom: 90 },
        xAxis: { type: "category", data: list.map((f) => f.title), axisLabel: { rotate: 40, color: "#cfe0ff" } },
        yAxis: [
          { type: "value", max: 100, axisLabel: { formatter: "{value}%", color: "#cfe0ff" } },
          { type: "value", axisLabel: { formatter: "{value}h", color: "#cfe0ff" }, splitLine: { show: false } },
        ],
        series: [
          { name: body.show.completeness_rate, type: "bar", data: list.map((f) => pct(f.got, f.want)) },
          { name: body.show.quarantine_rate, type: "bar", data: list.map((f) => pct(f.q, f.n)) },
          {
            name: body.show.hours_behind_latest_ingest,
            type: "line",
            yAxisIndex: 1,
            data: list.map((f) => (f.behind === null ? null : Math.round(f.behind * 10) / 10)),
          },
        ],
      },
    };
  }

  function chartOf(rows, body) {
    if (body.dims.includes("feed_id")) return governance(rows, body);
    const axes = [
      { type: "value", axisLabel: { color: "#cfe0ff" } },
      { type: "value", axisLabel: { color: "#cfe0ff" }, splitLine: { show: false } },
    ];
    const common = {
      tooltip: { trigger: "axis" },
      legend: { textStyle: { color: "#cfe0ff" }, type: "scroll" },
      grid: { left: 56, right: 56, top: 40, bottom: 48 },
      yAxis: axes,
    };
    if (district) {
      const months = [...new Set(rows.map((r) => r.month))].sort();
      return {
        note: (rows[0] ? rows[0].division_name : "") + " 逐月趋势；空白为抑制（1-4）或无数据",
        option: Object.assign(common, {
          xAxis: { type: "category", data: months, axisLabel: { color: "#cfe0ff" } },
          series: series(rows, body, (r) => r.month, months),
        }),
      };
    }
    const latest = rows.reduce((m, r) => (r.month > m ? r.month : m), "");
    const current = rows.filter((r) => r.month === latest);
    const codes = [...new Set(current.map((r) => r.division_code))].sort();
    const names = codes.map((c) => (current.find((r) => r.division_code === c) || {}).division_name || c);
    return {
      codes: codes,
      note: "最新月份 " + latest + "，按区对比（点击某区下钻）；空白为抑制（1-4）",
      option: Object.assign(common, {
        xAxis: { type: "category", data: names, axisLabel: { rotate: 30, color: "#cfe0ff" } },
        series: series(current, body, (r) => r.division_code, codes),
      }),
    };
  }

  function draw(section, body) {
    const el = section.querySelector(".chart");
    const chart = charts[body.panel] || (charts[body.panel] = echarts.init(el));
    const spec = chartOf(records(body), body);
    spec.option.animation = false;
    chart.setOption(spec.option, true);
    chart.off("click");
    if (spec.codes) chart.on("click", (p) => drill(spec.codes[p.dataIndex]));
    const note = section.querySelector("[data-note]");
    note.textContent = spec.note;
    note.classList.remove("error");
    section.dataset.state = "ready";
  }

  function load() {
    document.querySelectorAll("section[data-panel]").forEach((section) => {
      const name = section.dataset.panel;
      const note = section.querySelector("[data-note]");
      section.dataset.state = "loading";
      const query = district ? "?district=" + encodeURIComponent(district) : "";
      fetch("/api/v1/dashboard/" + name + query)
        .then((r) => r.json().then((body) => (r.ok ? body : Promise.reject(body))))
        .then((body) => (body.missing ? Promise.reject(body.missing) : draw(section, body)))
        .catch((err) => {
          note.textContent = "暂无数据：" + ((err && err.error && err.error.message) || err);
          note.classList.add("error");
          section.dataset.state = "error";
        });
    });
  }

  function drill(code) {
    district = code || "";
    select.value = district;
    history.replaceState(null, "", district ? "?district=" + district : location.pathname);
    load();
  }

  select.value = district;
  select.addEventListener("change", () => drill(select.value));
  document.getElementById("city").addEventListener("click", () => drill(""));
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  load();
})();
