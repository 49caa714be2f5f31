// The admin page: drift alerts, latency and quality charts (inline SVG, no library), the
// recent requests, and the trace of one request (span tree, exact prompt, passages).
// Needs common.js first.
"use strict";

(function () {
  const { t, el, svg, icon, apiJSON, ApiError, describeError, formatDate, formatMs, basename,
    pages, section, formatNumber, formatPercent, STRINGS } = window.Fiable;

  const $ = (id) => document.getElementById(id);
  let traceOpener = null;

  async function load() {
    $("admin-error").textContent = "";
    const [requests, drift] = await Promise.allSettled([
      apiJSON("/v1/admin/requests?limit=50"), apiJSON("/v1/admin/drift"),
    ]);
    if (requests.status === "fulfilled") {
      const list = requests.value.requests || [];
      renderCharts(list);
      renderRequests(list);
    } else {
      $("admin-error").textContent = describeError(requests.reason);
    }
    renderDrift(drift);
  }

  // -- drift ------------------------------------------------------------------------------
  function renderDrift(result) {
    const box = $("drift");
    if (result.status === "rejected") {
      const exc = result.reason;
      box.replaceChildren(el("p", { class: "hint" },
        exc instanceof ApiError && exc.status === 404 ? t("admin.driftUnavailable")
          : describeError(exc)));
      return;
    }
    const drift = result.value || {};
    const alerts = drift.alerts || [];
    const parts = [];
    if (alerts.length) {
      parts.push(el("ul", { class: "alerts" }, alerts.map((a) => el("li", {}, icon("alert"),
        el("span", {}, a.message || `${a.metric}: ${fmt(a.value)} (${fmt(a.baseline)})`)))));
    } else {
      parts.push(el("p", { class: "ok-note" }, icon("check"), t("admin.driftNone")));
    }
    const metrics = Object.entries(drift.metrics || {});
    if (metrics.length) {
      parts.push(el("div", { class: "table-wrap" }, el("table", { class: "drift-metrics" },
        el("thead", {}, el("tr", {},
          el("th", { scope: "col" }, t("admin.driftMetric")),
          el("th", { scope: "col" }, t("admin.driftValue")),
          el("th", { scope: "col" }, t("admin.driftBaseline")))),
        el("tbody", {}, metrics.map(([name, m]) => el("tr", {},
          el("th", { scope: "row" }, metricName(name)),
          el("td", { class: "num" }, fmt(m && m.value)),
          el("td", { class: "num" }, fmt(m && m.baseline))))))));
    }
    box.replaceChildren(...parts);
  }

  /** A drift metric's name in the page's language (its key, spaced, when it has none). */
  function metricName(name) {
    const key = `admin.metric.${name}`;
    return key in STRINGS.en ? t(key) : name.replace(/_/g, " ");
  }

  function fmt(value) {
    if (value === null || value === undefined) return t("admin.none");
    if (typeof value !== "number") return String(value);
    return Number.isInteger(value) ? formatNumber(value, 0) : formatNumber(value, value < 10 ? 2 : 0);
  }

  // -- charts -----------------------------------------------------------------------------
  const W = 600;
  const H = 220;
  const M = { left: 58, right: 14, top: 14, bottom: 34 };

  function median(values) {
    if (!values.length) return null;
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const step = 10 ** Math.floor(Math.log10(value));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
    return 10 * step;
  }

  /** An SVG line chart of `points` ({y, label, marker}) spaced evenly, oldest first. */
  function chart({ points, yMax, formatY, description }) {
    const plotW = W - M.left - M.right;
    const plotH = H - M.top - M.bottom;
    const x = (i) => M.left + (points.length < 2 ? plotW / 2 : (i * plotW) / (points.length - 1));
    const y = (v) => M.top + plotH - (Math.max(0, Math.min(v, yMax)) / yMax) * plotH;
    const parts = [svg("title", {}, description)];
    for (const f of [0, 0.5, 1]) {
      const gy = y(yMax * f);
      parts.push(svg("line", { class: f === 0 ? "axis" : "grid", x1: M.left, x2: W - M.right, y1: gy, y2: gy }),
        svg("text", { x: M.left - 8, y: gy + 4, "text-anchor": "end" }, formatY(yMax * f)));
    }
    if (points.length) {
      parts.push(svg("text", { x: M.left, y: H - 10, "text-anchor": "start" }, points[0].time),
        svg("text", { x: W - M.right, y: H - 10, "text-anchor": "end" },
          points[points.length - 1].time));
    }
    // the line joins the points that have a value; a gap where one has none
    let path = "";
    let pen = false;
    points.forEach((p, i) => {
      if (p.y === null || p.y === undefined) {
        pen = false;
        return;
      }
      path += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(p.y).toFixed(1)}`;
      pen = true;
    });
    if (path) parts.push(svg("path", { class: "line", d: path }));
    points.forEach((p, i) => {
      if (p.marker) {
        parts.push(svg("rect", { class: "abstained", x: x(i) - 4, y: y(0) - 9, width: 8, height: 8 },
          svg("title", {}, p.label)));
      } else if (p.y !== null && p.y !== undefined) {
        parts.push(svg("circle", { class: "dot", cx: x(i), cy: y(p.y), r: 3.5 },
          svg("title", {}, p.label)));
      }
    });
    return svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img",
      "aria-label": description, preserveAspectRatio: "xMidYMid meet" }, parts);
  }

  function renderCharts(requests) {
    const oldestFirst = [...requests].reverse();
    const count = oldestFirst.length;
    if (!count) {
      for (const id of ["latency-chart", "quality-chart"]) {
        $(id).replaceChildren(el("p", { class: "empty" }, t("admin.noData")));
      }
      $("latency-summary").textContent = "";
      $("quality-summary").textContent = "";
      return;
    }
    const shortTime = (iso) => formatDate(iso);

    const latencies = oldestFirst.map((r) => r.total_ms).filter((v) => typeof v === "number");
    const med = formatMs(median(latencies));
    const max = formatMs(latencies.length ? Math.max(...latencies) : null);
    $("latency-chart").replaceChildren(chart({
      points: oldestFirst.map((r) => ({
        y: typeof r.total_ms === "number" ? r.total_ms : null, time: shortTime(r.created_at),
        label: `${shortTime(r.created_at)}: ${formatMs(r.total_ms)} (${r.question})`,
      })),
      yMax: niceMax(latencies.length ? Math.max(...latencies) : 1),
      formatY: (v) => formatMs(v),
      description: t("admin.latencyChart", { count, median: med, max }),
    }));
    $("latency-summary").textContent = t("admin.latencySummary", { median: med, max, count });

    const supports = oldestFirst.filter((r) => !r.abstained && typeof r.support === "number")
      .map((r) => r.support);
    const abstained = oldestFirst.filter((r) => r.abstained).length;
    const mean = supports.length ? supports.reduce((a, b) => a + b, 0) / supports.length : null;
    $("quality-chart").replaceChildren(chart({
      points: oldestFirst.map((r) => ({
        y: r.abstained || typeof r.support !== "number" ? null : r.support,
        marker: Boolean(r.abstained), time: shortTime(r.created_at),
        label: `${shortTime(r.created_at)}: ${r.abstained ? t("admin.abstained")
          : fmt(r.support)} (${r.question})`,
      })),
      yMax: 1,
      formatY: (v) => formatNumber(v, 1),
      description: t("admin.qualityChart", { count }),
    }));
    $("quality-summary").textContent = t("admin.qualitySummary", {
      support: mean === null ? t("admin.none") : formatNumber(mean, 2), abstained, count,
      rate: formatPercent(abstained / count),
    });
  }

  // -- requests ---------------------------------------------------------------------------
  function renderRequests(requests) {
    const body = $("requests").querySelector("tbody");
    $("requests-empty").hidden = requests.length > 0;
    body.replaceChildren(...requests.map((r) => {
      const button = el("button", {
        type: "button", class: "question-button", dataset: { traceId: r.trace_id },
        "aria-label": t("admin.openTrace", { question: r.question }),
        onclick: (event) => openTrace(r.trace_id, event.currentTarget),
      }, r.question);
      const feedback = r.feedback === "up" ? [icon("thumb-up"), " ", t("admin.feedbackUp")]
        : r.feedback === "down" ? [icon("thumb-down"), " ", t("admin.feedbackDown")]
          : [t("admin.none")];
      return el("tr", { dataset: { traceId: r.trace_id } },
        el("td", { class: "time" }, formatDate(r.created_at)),
        el("td", {}, button),
        el("td", {}, el("span", { class: `badge ${r.abstained ? "abstained" : "answered"}` },
          r.abstained ? t("admin.abstained") : t("admin.answered"))),
        el("td", { class: "num" }, fmt(r.support)),
        el("td", { class: "num" }, formatMs(r.total_ms)),
        el("td", {}, r.generator_model || t("admin.none")),
        el("td", {}, feedback));
    }));
  }

  // -- one trace --------------------------------------------------------------------------
  async function openTrace(traceId, opener) {
    traceOpener = opener;
    for (const row of $("requests").querySelectorAll("tr.selected")) row.classList.remove("selected");
    const row = opener && opener.closest("tr");
    if (row) row.classList.add("selected");
    const panel = $("trace");
    const body = $("trace-body");
    panel.hidden = false;
    body.replaceChildren(el("p", { class: "hint" }, t("common.loading")));
    $("trace-title").focus();
    try {
      body.replaceChildren(...renderTrace(await apiJSON(`/v1/traces/${encodeURIComponent(traceId)}`)));
    } catch (exc) {
      body.replaceChildren(el("p", { class: "form-error", role: "alert" }, describeError(exc)));
    }
  }

  function renderTrace(record) {
    const answer = record.answer || {};
    const parts = [
      el("dl", { class: "meta-list" },
        el("dt", {}, t("admin.traceId")), el("dd", {}, el("code", {}, record.trace_id || answer.trace_id)),
        el("dt", {}, t("admin.colTime")), el("dd", {}, formatDate(answer.created_at)),
        el("dt", {}, t("admin.colModel")),
        el("dd", {}, [answer.generator_model, answer.embedder_model].filter(Boolean).join(", ")),
        el("dt", {}, t("admin.colSupport")), el("dd", {}, fmt(answer.support))),
      el("h3", {}, t("admin.colQuestion")), el("p", {}, record.question || answer.question || ""),
      el("h3", {}, t("admin.traceAnswer")), el("p", { class: "trace-answer" }, answer.text || ""),
    ];
    if (answer.abstained && answer.abstain_reason) {
      parts.push(el("p", { class: "hint" }, t("admin.traceReason", { reason: answer.abstain_reason })));
    }

    parts.push(el("h3", {}, t("admin.traceSpans")));
    const spans = record.trace && Array.isArray(record.trace.spans) ? record.trace.spans : [];
    if (spans.length) {
      const start = Math.min(...spans.map((s) => s.start_ms || 0));
      const end = Math.max(...spans.map((s) => (s.start_ms || 0) + (s.duration_ms || 0)));
      parts.push(spanTree(spans, start, Math.max(end - start, 1e-6)));
    } else {
      parts.push(el("p", { class: "hint" }, t("admin.traceNoSpans")),
        el("ul", { class: "spans timings" }, Object.entries(answer.timings || {}).map(([k, v]) =>
          el("li", {}, el("span", { class: "span-name" }, k), ": ",
            k === "tokens_per_second" ? fmt(v) : formatMs(v * 1000)))));
    }

    parts.push(el("h3", {}, t("admin.traceMessages")));
    const messages = record.messages || [];
    if (messages.length) {
      parts.push(...messages.map((m) => el("div", { class: "message" },
        el("div", { class: "message-role" }, m.role), el("pre", {}, m.content))));
    } else {
      parts.push(el("p", { class: "hint" }, t("admin.traceNoMessages")));
    }

    const feedback = Array.isArray(record.feedback) ? record.feedback : [];
    if (feedback.length) {
      parts.push(el("h3", {}, t("admin.traceFeedback")), el("ul", { class: "feedback-list" },
        feedback.map((f) => el("li", {},
          f.created_at ? `${formatDate(f.created_at)}: ` : "",
          f.rating === "up" ? [icon("thumb-up"), " ", t("admin.feedbackUp")]
            : f.rating === "down" ? [icon("thumb-down"), " ", t("admin.feedbackDown")] : null,
          f.correction ? el("p", {}, t("admin.correction", { text: f.correction })) : null,
          f.comment ? el("p", {}, t("admin.comment", { text: f.comment })) : null))));
    }

    const sources = answer.sources || [];
    if (sources.length) {
      parts.push(el("h3", {}, t("admin.traceChunks")), el("ol", { class: "chunk-list" },
        sources.map((s) => el("li", { value: s.number },
          el("strong", {}, s.title || basename(s.source)),
          [section(s.heading_path, s.title), pages(s.page_start, s.page_end),
            t("admin.chunk", { id: s.chunk_id }), t("admin.score", { score: fmt(s.score) })].filter(Boolean).map((x) => ` · ${x}`),
          el("span", { class: "chunk-snippet" }, s.snippet || "")))));
    }
    return parts;
  }

  function spanTree(spans, origin, total) {
    return el("ul", { class: "spans" }, spans.map((span) => {
      const left = (((span.start_ms || 0) - origin) / total) * 100;
      const width = ((span.duration_ms || 0) / total) * 100;
      const attrs = Object.entries(span.attributes || {})
        .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
      return el("li", { class: "span", dataset: { span: span.name } },
        el("div", { class: "span-row" },
          el("span", { class: "span-name" }, span.name),
          el("span", { class: "span-time" }, formatMs(span.duration_ms)),
          el("span", { class: "span-track", "aria-hidden": "true" },
            el("span", { class: "span-bar",
              style: `left:${Math.max(0, left).toFixed(2)}%;width:${Math.min(100, width).toFixed(2)}%` }))),
        attrs ? el("p", { class: "span-attrs" }, attrs) : null,
        span.children && span.children.length ? spanTree(span.children, origin, total) : null);
    }));
  }

  function closeTrace() {
    $("trace").hidden = true;
    for (const row of $("requests").querySelectorAll("tr.selected")) row.classList.remove("selected");
    if (traceOpener && traceOpener.isConnected) traceOpener.focus();
    traceOpener = null;
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("refresh").addEventListener("click", load);
    $("trace-close").addEventListener("click", closeTrace);
    $("trace").addEventListener("keydown", (event) => {
      if (event.key === "Escape") closeTrace();
    });
    load();
  });
})();
