// The web chat: ask (streamed over SSE from POST /v1/ask), cited answers whose citations open
// the source passage, feedback, and document upload with progress. Needs common.js first.
"use strict";

(function () {
  const { t, el, icon, api, apiJSON, postJSON, describeError, basename, pages, section,
    formatDate, ApiError } = window.Fiable;

  const $ = (id) => document.getElementById(id);
  let busy = false;
  let turnCount = 0;
  let conversationId = null; // the open thread (also in the URL hash: #c=ID)
  let opening = 0; // bumped on every open / new conversation: a stale load is dropped

  // -- collections ------------------------------------------------------------------------
  async function loadCollections() {
    let collections = [];
    try {
      collections = (await apiJSON("/v1/collections")).collections || [];
    } catch (exc) {
      showAskError(exc);
      return;
    }
    const select = $("collection");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, t("chat.allCollections")));
    for (const c of collections) {
      select.append(el("option", { value: c.name },
        t(c.documents === 1 ? "chat.collectionOptionOne" : "chat.collectionOption",
          { name: c.name, documents: c.documents })));
    }
    if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
    $("collection-names").replaceChildren(...collections.map((c) => el("option", { value: c.name })));
  }

  // -- asking ------------------------------------------------------------------------------
  function showAskError(exc) {
    $("ask-error").textContent = exc ? describeError(exc) : "";
  }

  /** The events of a text/event-stream body: {event, data} with data still a string. */
  async function* sseEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      // keep a trailing "\r" until the next read tells whether "\n" follows it
      const cut = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
      buffer = buffer.slice(0, cut).replace(/\r\n?/g, "\n") + buffer.slice(cut);
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event) yield event;
      }
    }
    buffer += decoder.decode();
    const last = parseEvent(buffer.replace(/\r\n?/g, "\n"));
    if (last) yield last;
  }

  function parseEvent(block) {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    return data.length ? { event, data: data.join("\n") } : null;
  }

  async function ask(question, collection) {
    const turn = newTurn(question);
    let answered = false;
    try {
      const response = await askInThread(question, collection);
      const type = response.headers.get("Content-Type") || "";
      if (!type.includes("text/event-stream")) {
        turn.done(await response.json()); // a server that answered without streaming
        return;
      }
      for await (const { event, data } of sseEvents(response)) {
        const payload = JSON.parse(data);
        if (event === "retrieved") turn.retrieved(payload.sources || []);
        else if (event === "token") turn.token(payload.text || "");
        else if (event === "done") {
          turn.done(payload);
          answered = true;
        } else if (event === "error") {
          throw new window.Fiable.ApiError(500, payload.error || {});
        }
      }
      if (!answered) throw new window.Fiable.ApiError(0, { message: t("error.network") });
    } catch (exc) {
      turn.failed(exc);
    }
  }

  /** POST /v1/ask (streamed) in the open thread, starting one for the first message; a
   *  thread the server no longer knows is forgotten and a new one started. */
  async function askInThread(question, collection, retried = false) {
    const id = await ensureConversation();
    try {
      return await postJSON("/v1/ask", {
        question, collections: collection ? [collection] : null, stream: true,
        conversation_id: id,
      }, { headers: { Accept: "text/event-stream" } });
    } catch (exc) {
      if (!retried && exc instanceof ApiError && exc.code === "unknown_conversation") {
        setConversation(null);
        return askInThread(question, collection, true);
      }
      throw exc;
    }
  }

  /** One question and its answer on the page; returns the handlers of the stream events. */
  function newTurn(question) {
    turnCount += 1;
    const id = `turn-${turnCount}`;
    const status = el("p", { class: "turn-status" }, t("chat.searching"));
    const streamed = el("p", { class: "answer-text streaming" });
    const body = el("div", {
      class: "answer-body", id: `${id}-answer`, "aria-live": "polite", "aria-busy": "true",
      "aria-label": t("chat.answerLabel"),
    }, status, streamed);
    const article = el("article", { class: "turn", id, "aria-labelledby": `${id}-question` },
      el("h3", { class: "turn-question", id: `${id}-question` }, question), body);
    $("empty-state").hidden = true;
    $("conversation").prepend(article);
    let raw = "";
    let sources = [];

    return {
      retrieved(list) {
        sources = list;
        status.textContent = list.length ? t("chat.found", { count: list.length })
          : t("chat.foundNone");
      },
      token(text) {
        raw += text;
        streamed.textContent = raw;
      },
      done(answer) {
        // the final answer replaces the streamed draft: the pipeline may have changed the
        // text after generation (citations placed, a refusal after verification)
        body.replaceChildren(...renderAnswer(answer, answer.sources || sources));
        const followup = answer.followup;
        if (followup && answer.question && answer.question !== followup.message) {
          // the follow-up as the server understood it from the earlier turns
          body.prepend(el("p", { class: "understood-as" },
            t("chat.understoodAs", { question: answer.question })));
        }
        body.setAttribute("aria-busy", "false");
        article.append(feedbackControls(answer));
        article.classList.toggle("abstained-turn", Boolean(answer.abstained));
        article.dataset.traceId = answer.trace_id || "";
      },
      failed(exc) {
        status.remove();
        body.setAttribute("aria-busy", "false");
        body.append(el("p", { class: "form-error", role: "alert" },
          icon("alert"), " ", describeError(exc)));
      },
    };
  }

  function sourceTitle(source) {
    return source.title || basename(source.source);
  }

  /** The answer (sentences with citation buttons) or the "not in the documents" state. */
  function renderAnswer(answer, sources) {
    const byNumber = new Map(sources.map((s) => [s.number, s]));
    if (answer.abstained) {
      // the answer's own text and plain reason (in its language); the page's when absent
      const parts = [
        el("div", { class: "not-in-docs-head" }, icon("search-off"),
          el("p", { class: "not-in-docs-title" }, answer.text || t("chat.notInDocs"))),
        el("p", { class: "not-in-docs-why" }, answer.explanation || t("chat.notInDocsText")),
      ];
      if (sources.length) {
        parts.push(el("h4", { class: "sources-title" }, t("chat.closest")),
          sourceList(sources));
      } else {
        parts.push(el("p", { class: "hint" }, t("chat.notInDocsNoSources")));
      }
      return [el("div", { class: "not-in-docs" }, parts), aiNotice(answer)];
    }

    const text = el("p", { class: "answer-text" });
    const sentences = answer.sentences && answer.sentences.length ? answer.sentences
      : [{ text: answer.text, citations: [], label: null }];
    let flagged = false;
    sentences.forEach((sentence, index) => {
      if (index > 0) text.append(" ");
      const span = el("span", { class: "sentence" }, sentence.text);
      if (sentence.label === "unsupported" || sentence.label === "partly") {
        flagged = true;
        const unsupported = sentence.label === "unsupported";
        span.classList.add(unsupported ? "unsupported" : "partly");
        span.append(" ", icon("alert"),
          el("span", { class: "visually-hidden" },
            unsupported ? t("chat.unsupported") : t("chat.partly")));
        span.title = unsupported ? t("chat.unsupported") : t("chat.partly");
      }
      text.append(span);
      for (const number of sentence.citations || []) {
        const source = byNumber.get(number);
        text.append(" ", citeButton(number, source));
      }
    });

    const cited = new Set(answer.cited_sources ||
      sentences.flatMap((s) => s.citations || []));
    const citedSources = sources.filter((s) => cited.has(s.number));
    const parts = [text];
    if (flagged) {
      parts.push(el("p", { class: "flag-note" }, icon("alert"), " ", t("chat.flagNote")));
    }
    if (citedSources.length) {
      parts.push(el("h4", { class: "sources-title" }, t("chat.sources")), sourceList(citedSources));
    }
    parts.push(aiNotice(answer));
    return parts;
  }

  function aiNotice(answer) {
    // one line: the answer's disclosure (AI-generated or not, by which models), written in
    // the answer's language like the answer itself
    return el("p", { class: "ai-notice" }, answer.disclosure || t("chat.notice"));
  }

  function citeButton(number, source) {
    const title = source ? sourceTitle(source) : "";
    return el("button", {
      type: "button", class: "cite", dataset: { number: String(number) },
      "aria-label": t("chat.cite", { number, title }), title: title || null,
      onclick: (event) => source && openPassage(source, event.currentTarget),
    }, `[${number}]`);
  }

  function sourceList(sources) {
    return el("ol", { class: "sources" }, sources.map((s) => {
      const where = [section(s.heading_path, s.title), pages(s.page_start, s.page_end)]
        .filter(Boolean).join(", ");
      return el("li", { value: s.number },
        el("button", {
          type: "button", class: "source-link", dataset: { number: String(s.number) },
          "aria-label": t("chat.openSource", { number: s.number, title: sourceTitle(s) }) +
            (where ? `, ${where}` : ""),
          onclick: (event) => openPassage(s, event.currentTarget),
        },
        el("span", { class: "source-number" }, `[${s.number}]`), " ",
        el("span", { class: "source-title" }, sourceTitle(s)),
        where ? el("span", { class: "source-where" }, where) : null));
    }));
  }

  // -- the passage dialog -------------------------------------------------------------------
  let passageOpener = null;

  async function openPassage(source, opener) {
    const dialog = $("passage-dialog");
    passageOpener = opener;
    fillPassage({ ...source, text: null });
    if (!dialog.open) dialog.showModal();
    $("passage-close").focus();
    try {
      const chunk = await apiJSON(`/v1/chunks/${encodeURIComponent(source.chunk_id)}`);
      fillPassage({ ...source, ...chunk });
    } catch (exc) {
      fillPassage({ ...source, text: source.snippet, error: describeError(exc) });
    }
  }

  function fillPassage(p) {
    $("passage-title").textContent = p.title || basename(p.source) || t("passage.title");
    const rows = [
      [t("passage.section"), section(p.heading_path, p.title)],
      [t("passage.page"), pages(p.page_start, p.page_end).replace(/^pp?\. /, "")],
      [t("passage.file"), basename(p.source)],
      [t("passage.collection"), p.collection],
    ].filter(([, value]) => value);
    $("passage-meta").replaceChildren(...rows.flatMap(([name, value]) =>
      [el("dt", {}, name), el("dd", {}, value)]));
    const text = $("passage-text");
    text.replaceChildren();
    if (p.error) text.append(el("p", { class: "form-error" }, p.error));
    text.append(p.text === null ? el("p", { class: "hint" }, t("common.loading"))
      : el("p", {}, p.text || ""));
  }

  function setUpPassageDialog() {
    const dialog = $("passage-dialog");
    const close = $("passage-close");
    close.append(icon("x"));
    close.addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close(); // a click on the backdrop
    });
    dialog.addEventListener("close", () => {
      if (passageOpener && passageOpener.isConnected) passageOpener.focus();
      passageOpener = null;
    });
  }

  // -- feedback -----------------------------------------------------------------------------
  function feedbackControls(answer) {
    const confirm = el("p", { class: "confirm", role: "status" });
    const say = (text, ok = true) => {
      confirm.replaceChildren(ok ? icon("check") : icon("alert"), " ", text);
      confirm.classList.toggle("form-error", !ok);
    };
    const send = async (body) => {
      await postJSON("/v1/feedback", { trace_id: answer.trace_id, rating: null, comment: null,
        correction: null, ...body });
    };

    const thumbs = ["up", "down"].map((rating) => el("button", {
      type: "button", class: `thumb thumb-${rating}`, "aria-pressed": "false",
      dataset: { rating },
      "aria-label": t(rating === "up" ? "chat.thumbUpLabel" : "chat.thumbDownLabel"),
      onclick: async (event) => {
        const button = event.currentTarget;
        if (button.getAttribute("aria-pressed") === "true") return;
        try {
          await send({ rating });
          for (const b of thumbs) b.setAttribute("aria-pressed", String(b === button));
          say(t("chat.thanksRating"));
        } catch (exc) {
          say(describeError(exc), false);
        }
      },
    }, icon(rating === "up" ? "thumb-up" : "thumb-down"),
    el("span", {}, t(rating === "up" ? "chat.thumbUp" : "chat.thumbDown"))));

    const formId = `correction-${answer.trace_id || turnCount}`;
    const textarea = el("textarea", { id: `${formId}-text`, name: "correction", rows: 3,
      "aria-describedby": `${formId}-hint` });
    const suggest = el("button", {
      type: "button", class: "link-button", "aria-expanded": "false", "aria-controls": formId,
      onclick: () => {
        const open = form.hidden;
        form.hidden = !open;
        suggest.setAttribute("aria-expanded", String(open));
        if (open) textarea.focus();
      },
    }, icon("edit"), el("span", {}, t("chat.suggest")));
    const form = el("form", { id: formId, class: "correction stack", hidden: true,
      onsubmit: async (event) => {
        event.preventDefault();
        const correction = textarea.value.trim();
        if (!correction) {
          say(t("chat.correctionEmpty"), false);
          textarea.focus();
          return;
        }
        try {
          await send({ correction });
          textarea.value = "";
          form.hidden = true;
          suggest.setAttribute("aria-expanded", "false");
          suggest.focus();
          say(t("chat.thanksCorrection"));
        } catch (exc) {
          say(describeError(exc), false);
        }
      } },
    el("label", { for: textarea.id }, t("chat.correction")),
    el("p", { id: `${formId}-hint`, class: "hint" }, t("chat.correctionHint")),
    textarea,
    el("div", { class: "row" },
      el("button", { type: "submit", class: "primary" }, t("chat.sendCorrection")),
      el("button", { type: "button", onclick: () => {
        form.hidden = true;
        suggest.setAttribute("aria-expanded", "false");
        suggest.focus();
      } }, t("chat.cancel"))));

    const question = el("span", { class: "feedback-question", id: `${formId}-q` },
      t("chat.feedbackQuestion"));
    return el("div", { class: "feedback" },
      el("div", { class: "feedback-row", role: "group", "aria-labelledby": question.id },
        question, ...thumbs, suggest),
      form, confirm);
  }

  // -- conversations -------------------------------------------------------------------------
  function hashConversation() {
    const match = /^#c=([^&]+)/.exec(window.location.hash);
    return match ? decodeURIComponent(match[1]) : null;
  }

  /** Remember `id` as the open thread (in the URL hash), or forget it (null). */
  function setConversation(id) {
    conversationId = id;
    const url = window.location.pathname + window.location.search +
      (id ? `#c=${encodeURIComponent(id)}` : "");
    if (url !== window.location.pathname + window.location.search + window.location.hash) {
      window.history.replaceState(null, "", url);
    }
    for (const button of document.querySelectorAll("#thread-list .thread-button")) {
      button.setAttribute("aria-current", String(button.dataset.id === id));
    }
  }

  async function ensureConversation() {
    if (!conversationId) {
      const thread = await (await postJSON("/v1/conversations", {})).json();
      setConversation(thread.id);
    }
    return conversationId;
  }

  function clearView() {
    $("conversation").replaceChildren();
    $("empty-state").hidden = false;
    showAskError(null);
  }

  function startFresh() {
    opening += 1;
    setConversation(null);
    clearView();
  }

  /** Open a stored thread: each turn's message, then its stored answer, rendered like a live
   *  one (citations, feedback on its trace id). An unknown id is forgotten silently. */
  async function openConversation(id) {
    const token = ++opening;
    clearView();
    setConversation(id);
    let thread;
    try {
      thread = await apiJSON(`/v1/conversations/${encodeURIComponent(id)}`);
    } catch (exc) {
      if (token !== opening) return;
      setConversation(null);
      if (!(exc instanceof ApiError && exc.status === 404)) {
        $("ask-error").textContent = `${t("threads.loadFailed")} ${describeError(exc)}`;
      }
      return;
    }
    if (token !== opening) return;
    for (const turn of thread.turns || []) {
      const answer = { ...(turn.answer || {}) };
      if (!answer.question && turn.question) answer.question = turn.question;
      if (!answer.followup && turn.question && turn.message && turn.question !== turn.message) {
        answer.followup = { message: turn.message, question: turn.question, method: turn.method };
      }
      newTurn(turn.message || turn.question || "").done(answer);
    }
  }

  async function loadConversations() {
    let threads;
    try {
      threads = (await apiJSON("/v1/conversations?limit=20")).conversations || [];
    } catch {
      return; // the list is a convenience: the chat works without it
    }
    $("threads-empty").hidden = threads.length > 0;
    $("thread-list").replaceChildren(...threads.map((thread) => {
      const count = thread.turns || 0;
      return el("li", {}, el("button", {
        type: "button", class: "thread-button", dataset: { id: thread.id },
        "aria-current": String(thread.id === conversationId),
        onclick: () => {
          if (busy || thread.id === conversationId) return;
          openConversation(thread.id);
        },
      }, el("span", { class: "thread-title" }, thread.title || t("threads.untitled")),
      el("span", { class: "thread-meta" },
        `${t(count === 1 ? "threads.turnsOne" : "threads.turns", { count })} · ` +
        formatDate(thread.updated_at))));
    }));
  }

  // -- upload -------------------------------------------------------------------------------
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function upload(event) {
    event.preventDefault();
    if ($("upload-button").getAttribute("aria-disabled") === "true") return;
    const files = $("upload-files").files;
    const message = $("upload-message");
    const progress = $("upload-progress");
    const result = $("upload-result");
    result.replaceChildren();
    if (!files.length) {
      message.textContent = t("upload.noFiles");
      $("upload-files").focus();
      return;
    }
    const button = $("upload-button");
    button.setAttribute("aria-disabled", "true");
    const data = new FormData();
    data.append("collection", $("upload-collection").value.trim() || "default");
    for (const file of files) data.append("files", file, file.name);
    progress.hidden = false;
    progress.removeAttribute("value"); // indeterminate while sending
    message.textContent = t("upload.sending");
    try {
      const { job_id: jobId } = await (await api("/v1/documents", { method: "POST", body: data }))
        .json();
      let job;
      for (;;) {
        job = await apiJSON(`/v1/jobs/${encodeURIComponent(jobId)}`);
        if (job.status === "done" || job.status === "failed") break;
        if (job.total) {
          progress.max = job.total;
          progress.value = job.done;
          message.textContent = t("upload.progress", { done: job.done, total: job.total });
        } else {
          message.textContent = t("upload.queued");
        }
        await sleep(500);
      }
      progress.max = job.total || 1;
      progress.value = job.total || 1;
      if (job.status === "failed") {
        message.textContent = t("upload.failed");
        result.append(el("p", { class: "form-error", role: "alert" },
          describeError(new window.Fiable.ApiError(500, job.error || {}))));
      } else {
        showReport(job.report || {});
        $("upload-files").value = "";
        loadCollections();
      }
    } catch (exc) {
      progress.hidden = true;
      message.textContent = t("upload.failed");
      result.append(el("p", { class: "form-error", role: "alert" }, describeError(exc)));
    } finally {
      button.removeAttribute("aria-disabled");
    }
  }

  /** A loader message without the server-side path it starts with ("/srv/x.pdf: ..."). */
  function withoutPath(message, path) {
    const text = String(message || "");
    return path && text.startsWith(`${path}: `) ? text.slice(path.length + 2) : text;
  }

  function showReport(report) {
    const list = (key) => Array.isArray(report[key]) ? report[key] : [];
    const name = (item) => basename(typeof item === "string" ? item
      : Array.isArray(item) ? item[0] : item.path || item.source || "");
    const counts = { added: list("added").length, updated: list("updated").length,
      unchanged: list("unchanged").length, failed: list("failed").length };
    $("upload-message").textContent = t("upload.done", counts);
    const result = $("upload-result");
    const groups = [
      ["upload.added", list("added"), () => null],
      ["upload.updated", list("updated"), () => null],
      ["upload.unchanged", list("unchanged"), () => null],
      ["upload.failedFiles", list("failed"), (f) => [withoutPath(f.message, f.path), f.hint]
        .filter(Boolean).join(" ")],
      ["upload.skipped", list("skipped"), (s) => (Array.isArray(s) ? s[1] : s.reason) || null],
    ];
    for (const [title, items, why] of groups) {
      if (!items.length) continue;
      const failed = title === "upload.failedFiles";
      result.append(el("h3", { class: failed ? "result-title failed" : "result-title" },
        failed ? icon("alert") : icon("check"), " ", t(title)),
      el("ul", { class: "file-list" }, items.map((item) => {
        const reason = typeof item === "object" ? why(item) : null;
        return el("li", {}, el("span", { class: "file-name" }, name(item)),
          reason ? el("span", { class: "file-reason" }, reason) : null);
      })));
    }
  }

  // -- start --------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    setUpPassageDialog();
    const question = $("question");
    $("ask-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = question.value.trim();
      if (!text) {
        question.focus();
        return;
      }
      if (busy) return;
      busy = true;
      showAskError(null);
      const button = $("ask-button");
      button.setAttribute("aria-disabled", "true");
      button.textContent = t("chat.asking");
      question.value = "";
      try {
        await ask(text, $("collection").value);
        loadConversations();
      } finally {
        busy = false;
        button.removeAttribute("aria-disabled");
        button.textContent = t("chat.ask");
      }
    });
    question.addEventListener("keydown", (event) => {
      // Enter sends, Shift+Enter starts a new line
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("ask-form").requestSubmit();
      }
    });
    $("upload-form").addEventListener("submit", upload);
    $("new-conversation").addEventListener("click", () => {
      if (busy) return;
      startFresh();
      question.focus();
    });
    window.addEventListener("hashchange", () => {
      const id = hashConversation();
      if (busy || id === conversationId) return;
      if (id) openConversation(id);
      else startFresh();
    });
    loadCollections();
    const stored = hashConversation();
    if (stored) openConversation(stored);
    loadConversations();
  });
})();
