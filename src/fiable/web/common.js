// Shared by the chat (app.js) and admin (admin.js) pages: the user-visible strings, the HTTP
// API client (API key prompt on 401), small DOM helpers and icons. Plain script, no build.
//
// Every user-visible string lives in STRINGS, one table per language; HTML elements take
// theirs through data-i18n="key" (text) and data-i18n-attr="attribute:key;..." (attributes).
// The language is the one picked with the switch in the top bar (remembered in this
// browser), else the browser's first preferred language that has a table, else English;
// dates and numbers are written with Intl in that language.
"use strict";

(function () {
  const STRINGS = {
    en: {
      "app.name": "Fiable",
      "nav.chat": "Ask",
      "nav.admin": "Admin",
      "nav.label": "Pages",
      "lang.label": "Language",
      "key.title": "API key needed",
      "key.intro": "This server asks for an API key. Your administrator can give you one.",
      "key.invalid": "That API key was not accepted. Check it and try again.",
      "key.label": "API key",
      "key.save": "Save and retry",
      "key.cancel": "Cancel",
      "key.remember": "The key is kept in this browser only.",
      "error.generic": "Something went wrong.",
      "error.network": "The server could not be reached. Check your connection and try again.",
      "error.noKey": "An API key is needed to use this page.",
      "common.close": "Close",
      "common.loading": "Loading…",
      "common.refresh": "Refresh",

      // chat page
      "chat.title": "Ask your documents",
      "chat.intro": "Ask a question in plain words. The answer comes only from your organisation's documents, and every sentence says where it comes from.",
      "chat.question": "Your question",
      "chat.questionHint": "For example: How many days of annual leave do I get?",
      "chat.collection": "Search in",
      "chat.allCollections": "All documents",
      "chat.collectionOption": "{name} ({documents} documents)",
      "chat.collectionOptionOne": "{name} (1 document)",
      "chat.ask": "Ask",
      "chat.asking": "Answering…",
      "chat.answers": "Answers",
      "chat.empty": "Your answers will appear here.",
      "chat.searching": "Searching the documents…",
      "chat.found": "Found {count} passages. Writing the answer…",
      "chat.foundNone": "No passages found.",
      "chat.answerLabel": "Answer",
      "chat.sources": "Sources",
      "chat.closest": "The closest passages found",
      "chat.cite": "Source {number}: {title}",
      "chat.openSource": "Open source {number}: {title}",
      "chat.page": "p. {page}",
      "chat.pages": "pp. {start}–{end}",
      "chat.unsupported": "(not supported by the sources)",
      "chat.partly": "(only partly supported by the sources)",
      "chat.flagNote": "Sentences underlined in orange are not supported by the cited passages. Check them before relying on them.",
      "chat.notice": "AI-generated answer: check the cited sources.",
      "chat.notInDocs": "Not in the documents",
      "chat.notInDocsText": "The documents you can search do not answer this question, so no answer was written.",
      "chat.notInDocsNoSources": "No passage came close to the question.",
      "chat.feedbackQuestion": "Was this answer helpful?",
      "chat.thumbUp": "Yes",
      "chat.thumbDown": "No",
      "chat.thumbUpLabel": "Yes, this answer was helpful",
      "chat.thumbDownLabel": "No, this answer was not helpful",
      "chat.suggest": "Suggest a correction",
      "chat.correction": "What should the answer say?",
      "chat.correctionHint": "Your correction goes to the people who look after the documents.",
      "chat.sendCorrection": "Send correction",
      "chat.cancel": "Cancel",
      "chat.thanksRating": "Thank you: your rating was saved.",
      "chat.thanksCorrection": "Thank you: your correction was sent.",
      "chat.correctionEmpty": "Write the correction first.",
      "chat.understoodAs": "Understood as: {question}",
      "threads.title": "Conversations",
      "threads.new": "New conversation",
      "threads.empty": "No earlier conversations yet.",
      "threads.untitled": "Untitled conversation",
      "threads.turns": "{count} questions",
      "threads.turnsOne": "1 question",
      "threads.loadFailed": "The conversation could not be opened.",

      // passage dialog
      "passage.title": "Source passage",
      "passage.section": "Section",
      "passage.page": "Page",
      "passage.file": "File",
      "passage.collection": "Collection",
      "passage.text": "Passage",

      // upload
      "upload.title": "Add documents",
      "upload.intro": "PDF, Word, HTML, Markdown or text files. They are added to the chosen collection and can be searched as soon as they are processed.",
      "upload.files": "Files",
      "upload.collection": "Collection",
      "upload.submit": "Upload",
      "upload.noFiles": "Choose at least one file.",
      "upload.sending": "Sending the files…",
      "upload.progress": "Processing: {done} of {total} files",
      "upload.progressLabel": "Upload progress",
      "upload.queued": "Waiting to start…",
      "upload.done": "Done: {added} added, {updated} updated, {unchanged} unchanged, {failed} failed.",
      "upload.failed": "The upload failed.",
      "upload.added": "Added",
      "upload.updated": "Updated",
      "upload.unchanged": "Already up to date",
      "upload.failedFiles": "Could not be added",
      "upload.skipped": "Skipped",

      // admin page
      "admin.title": "Quality and activity",
      "admin.intro": "The latest questions asked through this server: how long they took, how well their answers were supported, and what users thought of them.",
      "admin.drift": "Drift alerts",
      "admin.driftNone": "No drift: recent answers look like the baseline.",
      "admin.driftUnavailable": "Not enough requests yet to compare with a baseline.",
      "admin.driftMetric": "Metric",
      "admin.driftValue": "Now",
      "admin.driftBaseline": "Baseline",
      "admin.metric.abstention_rate": "Abstention rate",
      "admin.metric.mean_support": "Mean support",
      "admin.metric.negative_feedback": "Negative feedback",
      "admin.metric.latency_p95_ms": "Latency p95 (ms)",
      "admin.latency": "Latency",
      "admin.latencySummary": "Median {median}, slowest {max}, over {count} requests.",
      "admin.latencyChart": "Latency of the last {count} requests, oldest first: median {median}, slowest {max}.",
      "admin.quality": "Quality",
      "admin.qualitySummary": "Average support {support}. Abstained (not in the documents): {abstained} of {count} ({rate}).",
      "admin.qualityChart": "Answer support of the last {count} requests, oldest first, from 0 to 1; abstentions marked at the bottom.",
      "admin.legendSupport": "Support (0 to 1)",
      "admin.legendAbstained": "Not in the documents",
      "admin.noData": "No requests yet. Ask a question on the chat page first.",
      "admin.requests": "Recent requests",
      "admin.colTime": "Time",
      "admin.colQuestion": "Question",
      "admin.colResult": "Result",
      "admin.colSupport": "Support",
      "admin.colLatency": "Latency",
      "admin.colModel": "Model",
      "admin.colFeedback": "Feedback",
      "admin.answered": "Answered",
      "admin.abstained": "Not in documents",
      "admin.feedbackUp": "Helpful",
      "admin.feedbackDown": "Not helpful",
      "admin.none": "—",
      "admin.openTrace": "Open the trace of: {question}",
      "admin.trace": "Request trace",
      "admin.traceId": "Trace id",
      "admin.chunk": "passage {id}",
      "admin.score": "score {score}",
      "admin.traceAnswer": "Answer",
      "admin.traceReason": "Why it abstained: {reason}",
      "admin.traceSpans": "Timeline",
      "admin.traceNoSpans": "No span tree was recorded; stage timings:",
      "admin.traceMessages": "Prompt sent to the model",
      "admin.traceNoMessages": "No prompt: the question was answered without calling the model.",
      "admin.traceChunks": "Passages",
      "admin.traceFeedback": "Feedback",
      "admin.correction": "Suggested correction: {text}",
      "admin.comment": "Comment: {text}",
      "admin.traceClose": "Close the trace",
      "admin.ms": "{value} ms",
      "admin.s": "{value} s",
    },
    fr: {
      "app.name": "Fiable",
      "nav.chat": "Questions",
      "nav.admin": "Administration",
      "nav.label": "Pages",
      "lang.label": "Langue",
      "key.title": "Clé d'API nécessaire",
      "key.intro": "Ce serveur demande une clé d'API. Votre administrateur peut vous en donner une.",
      "key.invalid": "Cette clé d'API n'a pas été acceptée. Vérifiez-la et réessayez.",
      "key.label": "Clé d'API",
      "key.save": "Enregistrer et réessayer",
      "key.cancel": "Annuler",
      "key.remember": "La clé est gardée dans ce navigateur seulement.",
      "error.generic": "Une erreur s'est produite.",
      "error.network": "Le serveur est injoignable. Vérifiez votre connexion et réessayez.",
      "error.noKey": "Une clé d'API est nécessaire pour utiliser cette page.",
      "common.close": "Fermer",
      "common.loading": "Chargement…",
      "common.refresh": "Actualiser",

      // chat page
      "chat.title": "Interrogez vos documents",
      "chat.intro": "Posez une question avec vos mots. La réponse vient uniquement des documents de votre organisation, et chaque phrase indique d'où elle vient.",
      "chat.question": "Votre question",
      "chat.questionHint": "Par exemple : combien de jours de congés annuels ai-je ?",
      "chat.collection": "Chercher dans",
      "chat.allCollections": "Tous les documents",
      "chat.collectionOption": "{name} ({documents} documents)",
      "chat.collectionOptionOne": "{name} (1 document)",
      "chat.ask": "Demander",
      "chat.asking": "Réponse en cours…",
      "chat.answers": "Réponses",
      "chat.empty": "Vos réponses apparaîtront ici.",
      "chat.searching": "Recherche dans les documents…",
      "chat.found": "{count} passages trouvés. Rédaction de la réponse…",
      "chat.foundNone": "Aucun passage trouvé.",
      "chat.answerLabel": "Réponse",
      "chat.sources": "Sources",
      "chat.closest": "Les passages les plus proches",
      "chat.cite": "Source {number} : {title}",
      "chat.openSource": "Ouvrir la source {number} : {title}",
      "chat.page": "p. {page}",
      "chat.pages": "p. {start}–{end}",
      "chat.unsupported": "(non étayée par les sources)",
      "chat.partly": "(en partie seulement étayée par les sources)",
      "chat.flagNote": "Les phrases soulignées en orange ne sont pas étayées par les passages cités. Vérifiez-les avant de vous y fier.",
      "chat.notice": "Réponse générée par une IA : vérifiez les sources citées.",
      "chat.notInDocs": "Cette information ne figure pas dans les documents",
      "chat.notInDocsText": "Les documents que vous pouvez consulter ne répondent pas à cette question : aucune réponse n'a été rédigée.",
      "chat.notInDocsNoSources": "Aucun passage n'est proche de la question.",
      "chat.feedbackQuestion": "Cette réponse vous a-t-elle aidé ?",
      "chat.thumbUp": "Oui",
      "chat.thumbDown": "Non",
      "chat.thumbUpLabel": "Oui, cette réponse m'a aidé",
      "chat.thumbDownLabel": "Non, cette réponse ne m'a pas aidé",
      "chat.suggest": "Proposer une correction",
      "chat.correction": "Que devrait dire la réponse ?",
      "chat.correctionHint": "Votre correction est transmise aux personnes qui gèrent les documents.",
      "chat.sendCorrection": "Envoyer la correction",
      "chat.cancel": "Annuler",
      "chat.thanksRating": "Merci : votre avis a été enregistré.",
      "chat.thanksCorrection": "Merci : votre correction a été envoyée.",
      "chat.correctionEmpty": "Écrivez d'abord la correction.",
      "chat.understoodAs": "Compris comme : {question}",
      "threads.title": "Conversations",
      "threads.new": "Nouvelle conversation",
      "threads.empty": "Aucune conversation précédente.",
      "threads.untitled": "Conversation sans titre",
      "threads.turns": "{count} questions",
      "threads.turnsOne": "1 question",
      "threads.loadFailed": "La conversation n'a pas pu être ouverte.",

      // passage dialog
      "passage.title": "Passage source",
      "passage.section": "Section",
      "passage.page": "Page",
      "passage.file": "Fichier",
      "passage.collection": "Collection",
      "passage.text": "Passage",

      // upload
      "upload.title": "Ajouter des documents",
      "upload.intro": "Fichiers PDF, Word, HTML, Markdown ou texte. Ils sont ajoutés à la collection choisie et consultables dès qu'ils sont traités.",
      "upload.files": "Fichiers",
      "upload.collection": "Collection",
      "upload.submit": "Envoyer",
      "upload.noFiles": "Choisissez au moins un fichier.",
      "upload.sending": "Envoi des fichiers…",
      "upload.progress": "Traitement : {done} fichiers sur {total}",
      "upload.progressLabel": "Progression de l'envoi",
      "upload.queued": "En attente de démarrage…",
      "upload.done": "Terminé : {added} ajoutés, {updated} mis à jour, {unchanged} inchangés, {failed} en échec.",
      "upload.failed": "L'envoi a échoué.",
      "upload.added": "Ajoutés",
      "upload.updated": "Mis à jour",
      "upload.unchanged": "Déjà à jour",
      "upload.failedFiles": "N'ont pas pu être ajoutés",
      "upload.skipped": "Ignorés",

      // admin page
      "admin.title": "Qualité et activité",
      "admin.intro": "Les dernières questions posées à ce serveur : leur durée, l'appui de leurs réponses dans les sources et l'avis des utilisateurs.",
      "admin.drift": "Alertes de dérive",
      "admin.driftNone": "Aucune dérive : les réponses récentes ressemblent à la référence.",
      "admin.driftUnavailable": "Pas encore assez de requêtes pour comparer avec une référence.",
      "admin.driftMetric": "Mesure",
      "admin.driftValue": "Maintenant",
      "admin.driftBaseline": "Référence",
      "admin.metric.abstention_rate": "Taux d'abstention",
      "admin.metric.mean_support": "Appui moyen",
      "admin.metric.negative_feedback": "Avis négatifs",
      "admin.metric.latency_p95_ms": "Temps de réponse p95 (ms)",
      "admin.latency": "Temps de réponse",
      "admin.latencySummary": "Médiane {median}, la plus lente {max}, sur {count} requêtes.",
      "admin.latencyChart": "Temps de réponse des {count} dernières requêtes, de la plus ancienne à la plus récente : médiane {median}, la plus lente {max}.",
      "admin.quality": "Qualité",
      "admin.qualitySummary": "Appui moyen {support}. Abstentions (absent des documents) : {abstained} sur {count} ({rate}).",
      "admin.qualityChart": "Appui des réponses des {count} dernières requêtes, de la plus ancienne à la plus récente, de 0 à 1 ; abstentions marquées en bas.",
      "admin.legendSupport": "Appui (0 à 1)",
      "admin.legendAbstained": "Absent des documents",
      "admin.noData": "Aucune requête pour l'instant. Posez d'abord une question sur la page Questions.",
      "admin.requests": "Requêtes récentes",
      "admin.colTime": "Heure",
      "admin.colQuestion": "Question",
      "admin.colResult": "Résultat",
      "admin.colSupport": "Appui",
      "admin.colLatency": "Durée",
      "admin.colModel": "Modèle",
      "admin.colFeedback": "Avis",
      "admin.answered": "Répondu",
      "admin.abstained": "Absent des documents",
      "admin.feedbackUp": "Utile",
      "admin.feedbackDown": "Pas utile",
      "admin.none": "—",
      "admin.openTrace": "Ouvrir la trace de : {question}",
      "admin.trace": "Trace de la requête",
      "admin.traceId": "Identifiant de trace",
      "admin.chunk": "passage {id}",
      "admin.score": "score {score}",
      "admin.traceAnswer": "Réponse",
      "admin.traceReason": "Raison de l'abstention : {reason}",
      "admin.traceSpans": "Chronologie",
      "admin.traceNoSpans": "Aucun arbre d'étapes enregistré ; durées des étapes :",
      "admin.traceMessages": "Invite envoyée au modèle",
      "admin.traceNoMessages": "Pas d'invite : la question a reçu une réponse sans appeler le modèle.",
      "admin.traceChunks": "Passages",
      "admin.traceFeedback": "Avis",
      "admin.correction": "Correction proposée : {text}",
      "admin.comment": "Commentaire : {text}",
      "admin.traceClose": "Fermer la trace",
      "admin.ms": "{value} ms",
      "admin.s": "{value} s",
    },
  };

  const LANG_STORAGE = "fiable.lang";
  const LANGUAGE_NAMES = { en: "English", fr: "Français" };

  /** The switch's remembered choice, else the browser's first preferred language with a
   *  table (navigator.languages, e.g. "fr-FR" -> "fr"), else English. */
  function chooseLanguage() {
    let saved = null;
    try {
      saved = localStorage.getItem(LANG_STORAGE);
    } catch {
      /* storage off: follow the browser */
    }
    if (saved && STRINGS[saved]) return saved;
    const wanted = navigator.languages && navigator.languages.length
      ? navigator.languages : [navigator.language];
    for (const tag of wanted) {
      const code = String(tag || "").slice(0, 2).toLowerCase();
      if (STRINGS[code]) return code;
    }
    return "en";
  }

  const lang = chooseLanguage();
  document.documentElement.lang = lang;
  const table = STRINGS[lang] || STRINGS.en;

  /** The string `key`, with `{name}` placeholders filled from `vars`. */
  function t(key, vars) {
    let text = table[key] ?? STRINGS.en[key];
    if (text === undefined) {
      console.warn("fiable: missing string", key);
      return key;
    }
    if (vars) {
      text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
    }
    return text;
  }

  /** Fill data-i18n (text) and data-i18n-attr ("attr:key;attr:key") under `root`. */
  function localise(root) {
    for (const node of root.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n);
    }
    for (const node of root.querySelectorAll("[data-i18n-attr]")) {
      for (const pair of node.dataset.i18nAttr.split(";")) {
        const [attr, key] = pair.split(":").map((s) => s.trim());
        if (attr && key) node.setAttribute(attr, t(key));
      }
    }
  }

  /** el("p", {class: "x", onclick: fn}, "text", child) */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on") && typeof value === "function") {
        node.addEventListener(name.slice(2), value);
      } else if (name === "dataset") {
        Object.assign(node.dataset, value);
      } else {
        node.setAttribute(name, value === true ? "" : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : String(child));
      }
    }
    return node;
  }

  // Icon outlines after Feather icons (MIT licence), drawn with the current text colour.
  const ICONS = {
    "thumb-up": ["M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3z",
                 "M7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3"],
    "thumb-down": ["M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3z",
                   "M17 2h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17"],
    "alert": ["M10.29 3.86L1.82 18a2 2 0 0 0 1.71 3h16.94a2 2 0 0 0 1.71-3L13.71 3.86a2 2 0 0 0-3.42 0z",
              "M12 9v4", "M12 17h.01"],
    "search-off": ["M11 19a8 8 0 1 0 0-16 8 8 0 0 0 0 16z", "M21 21l-4.35-4.35", "M8 11h6"],
    "edit": ["M12 20h9", "M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4z"],
    "x": ["M18 6L6 18", "M6 6l12 12"],
    "upload": ["M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4", "M17 8l-5-5-5 5", "M12 3v12"],
    "check": ["M20 6L9 17l-5-5"],
  };

  /** A decorative icon (aria-hidden): the text next to it carries the meaning. */
  function icon(name) {
    return svg("svg", {
      class: `icon icon-${name}`, viewBox: "0 0 24 24", width: 20, height: 20,
      fill: "none", stroke: "currentColor", "stroke-width": 2, "stroke-linecap": "round",
      "stroke-linejoin": "round", "aria-hidden": "true", focusable: "false",
    }, ICONS[name].map((d) => svg("path", { d })));
  }

  // -- API ----------------------------------------------------------------------------------
  const KEY_STORAGE = "fiable.apiKey";

  /** An error the API answered ({error: {code, message, hint, type}}) or a network failure. */
  class ApiError extends Error {
    constructor(status, error) {
      super(error.message || t("error.generic"));
      this.status = status;
      this.code = error.code || "error";
      this.hint = error.hint || null;
      this.type = error.type || null;
    }
  }

  function storedKey() {
    try {
      return localStorage.getItem(KEY_STORAGE);
    } catch {
      return null;
    }
  }

  async function errorOf(response) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      /* not JSON */
    }
    const error = body && body.error ? body.error : { code: `http_${response.status}`,
      message: `${t("error.generic")} (HTTP ${response.status})` };
    return new ApiError(response.status, error);
  }

  /** fetch() with the stored API key; asks for a key (and retries) on a 401 that needs one.
   *  Resolves to the Response when it is OK, throws ApiError otherwise. */
  async function api(path, options = {}) {
    let invalid = false;
    for (;;) {
      const headers = new Headers(options.headers || {});
      const key = storedKey();
      if (key) headers.set("Authorization", `Bearer ${key}`);
      let response;
      try {
        response = await fetch(path, { ...options, headers });
      } catch (exc) {
        if (exc.name === "AbortError") throw exc;
        throw new ApiError(0, { code: "network", message: t("error.network") });
      }
      if (response.ok) return response;
      const error = await errorOf(response);
      if (response.status === 401 &&
          (error.code === "missing_api_key" || error.code === "invalid_api_key")) {
        invalid = error.code === "invalid_api_key" || (invalid && Boolean(key));
        const entered = await askForKey(invalid);
        if (!entered) throw new ApiError(401, { code: error.code, message: t("error.noKey") });
        invalid = true; // a second 401 means the new key is wrong too
        continue;
      }
      throw error;
    }
  }

  async function apiJSON(path, options = {}) {
    const response = await api(path, options);
    return response.json();
  }

  function postJSON(path, body, options = {}) {
    return api(path, {
      ...options, method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", ...(options.headers || {}) },
    });
  }

  let keyDialog = null;
  let pendingKey = null;

  function buildKeyDialog() {
    const input = el("input", { id: "api-key", name: "api-key", type: "password",
      autocomplete: "current-password", required: true });
    const message = el("p", { id: "api-key-message", class: "form-error", role: "alert" });
    const form = el("form", { method: "dialog", class: "stack" },
      el("div", { class: "dialog-head" },
        el("h2", { id: "api-key-title" }, t("key.title"))),
      el("p", {}, t("key.intro")),
      message,
      el("label", { for: "api-key" }, t("key.label")),
      input,
      el("p", { class: "hint" }, t("key.remember")),
      el("div", { class: "row" },
        el("button", { type: "submit", class: "primary", value: "save" }, t("key.save")),
        el("button", { type: "submit", value: "cancel", formnovalidate: true }, t("key.cancel"))));
    const dialog = el("dialog", { id: "api-key-dialog", "aria-labelledby": "api-key-title" }, form);
    dialog.addEventListener("close", () => {
      const value = input.value.trim();
      const saved = dialog.returnValue === "save" && value;
      if (saved) {
        try {
          localStorage.setItem(KEY_STORAGE, value);
        } catch {
          /* private mode: the key lasts until the page closes */
        }
      }
      input.value = "";
      const resolve = pendingKey;
      pendingKey = null;
      if (resolve) resolve(saved ? value : null);
    });
    document.body.append(dialog);
    return { dialog, input, message };
  }

  /** Show the API key dialog; resolves to the key entered, or null when cancelled. */
  function askForKey(invalid) {
    if (!keyDialog) keyDialog = buildKeyDialog();
    if (pendingKey) return new Promise((resolve) => {
      const previous = pendingKey;
      pendingKey = (value) => { previous(value); resolve(value); };
    });
    const opener = document.activeElement;
    keyDialog.message.textContent = invalid ? t("key.invalid") : "";
    keyDialog.dialog.returnValue = "";
    return new Promise((resolve) => {
      pendingKey = (value) => {
        if (opener && typeof opener.focus === "function") opener.focus();
        resolve(value);
      };
      keyDialog.dialog.showModal();
      keyDialog.input.focus();
    });
  }

  /** A "message. hint" line for an error shown to the user. */
  function describeError(exc) {
    if (exc instanceof ApiError) return exc.hint ? `${exc.message} ${exc.hint}` : exc.message;
    return t("error.generic");
  }

  // -- formatting ---------------------------------------------------------------------------
  const dateFormat = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  const numberFormats = new Map();

  /** `value` with `digits` decimals in the page's language ("0.85" / "0,85"). */
  function formatNumber(value, digits = 2) {
    if (!numberFormats.has(digits)) {
      numberFormats.set(digits, new Intl.NumberFormat(lang,
        { minimumFractionDigits: digits, maximumFractionDigits: digits }));
    }
    return numberFormats.get(digits).format(value);
  }

  /** A share (0..1) as a whole percentage in the page's language ("25%" / "25 %"). */
  function formatPercent(share) {
    return new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 }).format(share);
  }

  function formatDate(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? String(iso || "") : dateFormat.format(date);
  }

  function formatMs(ms) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return t("admin.none");
    if (ms === 0) return t("admin.ms", { value: 0 });
    if (ms >= 1000) return t("admin.s", { value: formatNumber(ms / 1000, ms >= 10000 ? 0 : 1) });
    return t("admin.ms", { value: formatNumber(ms, ms >= 10 ? 0 : 1) });
  }

  function basename(path) {
    return String(path || "").split(/[\\/]/).pop();
  }

  /** "p. 2" / "pp. 2–3" / "" */
  function pages(start, end) {
    if (start === null || start === undefined) return "";
    if (end === null || end === undefined || end === start) return t("chat.page", { page: start });
    return t("chat.pages", { start, end });
  }

  /** The heading path without the document title: "Annual leave › Carry-over". */
  function section(headingPath, title) {
    return (headingPath || []).filter((h) => h && h !== title).join(" › ");
  }

  /** The language switch of the top bar: picking a language remembers it and reloads. */
  function languageSwitch() {
    const select = el("select", { id: "lang-switch", class: "lang-switch" },
      Object.keys(STRINGS).map((code) => el("option",
        { value: code, lang: code, selected: code === lang }, LANGUAGE_NAMES[code] || code)));
    select.addEventListener("change", () => {
      try {
        localStorage.setItem(LANG_STORAGE, select.value);
      } catch {
        return; /* cannot remember it: stay in the browser's language */
      }
      window.location.reload();
    });
    return el("div", { class: "lang-field" },
      el("label", { for: "lang-switch", class: "visually-hidden" }, t("lang.label")), select);
  }

  document.addEventListener("DOMContentLoaded", () => {
    localise(document);
    const bar = document.querySelector(".topbar");
    if (bar && !document.getElementById("lang-switch")) bar.append(languageSwitch());
  });

  window.Fiable = {
    STRINGS, t, localise, el, svg, icon, api, apiJSON, postJSON, ApiError, describeError,
    askForKey, formatDate, formatMs, formatNumber, formatPercent, basename, pages, section, lang,
  };
})();
