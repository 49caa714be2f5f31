// The admin page's governance panels: the audit trail (verified on demand), the access
// policy, and the model inventory with its model cards. Needs common.js first; reads
// /v1/admin/audit, /v1/admin/access and /v1/admin/models (admin keys only).
"use strict";

(function () {
  const { t, el, apiJSON, ApiError, describeError, formatDate, STRINGS } = window.Fiable;
  const $ = (id) => document.getElementById(id);

  Object.assign(STRINGS.en, {
    "gov.audit": "Audit trail",
    "gov.auditIntro": "Every answer and administrative act, hash-chained. Question and answer texts are not shown here.",
    "gov.verify": "Verify the chain",
    "gov.verified": "Verified: {records} records in {seconds} s. Head {head}.",
    "gov.broken": "Broken at record {seq}: {problem}",
    "gov.colSeq": "#", "gov.colWhen": "When", "gov.colActor": "Who", "gov.colAction": "What",
    "gov.colDetail": "Detail",
    "gov.access": "Access",
    "gov.enforced": "Access control is enforced: keys read only what they are granted.",
    "gov.open": "Single-user mode: every valid key reads every collection.",
    "gov.colSubject": "Principal", "gov.colCollection": "Collection", "gov.colRight": "Right",
    "gov.noGrants": "No grants.",
    "gov.models": "Models in use",
    "gov.colModel": "Model", "gov.colRole": "Role", "gov.colLicence": "Licence",
    "gov.colSha": "sha256", "gov.colUse": "Intended use and limits",
    "gov.adminOnly": "Only an administrator's key can see this.",
  });
  Object.assign(STRINGS.fr, {
    "gov.audit": "Journal d'audit",
    "gov.auditIntro": "Chaque réponse et chaque acte d'administration, chaînés par empreintes. Les textes des questions et réponses ne sont pas affichés ici.",
    "gov.verify": "Vérifier la chaîne",
    "gov.verified": "Vérifié : {records} enregistrements en {seconds} s. Tête {head}.",
    "gov.broken": "Chaîne rompue à l'enregistrement {seq} : {problem}",
    "gov.colSeq": "n°", "gov.colWhen": "Quand", "gov.colActor": "Qui", "gov.colAction": "Quoi",
    "gov.colDetail": "Détail",
    "gov.access": "Accès",
    "gov.enforced": "Le contrôle d'accès est appliqué : chaque clé ne lit que ce qui lui est accordé.",
    "gov.open": "Mode mono-utilisateur : toute clé valide lit toutes les collections.",
    "gov.colSubject": "Principal", "gov.colCollection": "Collection", "gov.colRight": "Droit",
    "gov.noGrants": "Aucun droit accordé.",
    "gov.models": "Modèles utilisés",
    "gov.colModel": "Modèle", "gov.colRole": "Rôle", "gov.colLicence": "Licence",
    "gov.colSha": "sha256", "gov.colUse": "Usage prévu et limites",
    "gov.adminOnly": "Seule une clé d'administrateur peut voir ceci.",
  });

  function table(headers, rows) {
    return el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, t(h))))),
      el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c)))))));
  }

  function failure(box, exc) {
    box.replaceChildren(el("p", { class: "form-error" },
      exc instanceof ApiError && exc.status === 403 ? t("gov.adminOnly") : describeError(exc)));
  }

  function detail(record) {
    const p = record.payload || {};
    if (record.action === "answer") {
      return `${p.decision || ""} · ${(p.collections || []).join(", ")} · ${(p.sources || []).length} sources`
        + (record.erased ? " · [erased]" : "");
    }
    if (record.action === "ingest") {
      const n = (k) => (p[k] || []).length;
      return `${p.collection}: +${n("added")} ~${n("updated")} -${n("removed")}`
        + (n("failed") ? ` !${n("failed")}` : "") + ` · ${p.chunks || 0} chunks`;
    }
    if (record.action === "settings") return `fiable.toml ${(p.file_sha256 || "").slice(0, 12)}…`;
    return JSON.stringify(p).slice(0, 160);
  }

  async function loadAudit(verify) {
    const box = $("gov-audit");
    try {
      const data = await apiJSON(`/v1/admin/audit?limit=30${verify ? "&verify=true" : ""}`);
      const parts = [];
      const v = data.verification;
      if (v) {
        parts.push(el("p", { class: v.ok ? "ok-note" : "form-error", id: "gov-verdict" },
          v.ok ? t("gov.verified", { records: v.records, seconds: v.seconds,
                                     head: `${v.head_seq}:${(v.head_hash || "").slice(0, 12)}…` })
            : t("gov.broken", { seq: v.bad_seq, problem: v.problem })));
      }
      parts.push(table(["gov.colSeq", "gov.colWhen", "gov.colActor", "gov.colAction", "gov.colDetail"],
        data.records.map((r) => [String(r.seq), el("span", { class: "nowrap" }, formatDate(r.at)),
          r.actor, r.action, detail(r)])));
      box.replaceChildren(...parts);
    } catch (exc) {
      failure(box, exc);
    }
  }

  async function loadAccess() {
    const box = $("gov-access");
    try {
      const policy = await apiJSON("/v1/admin/access");
      const rows = (policy.grants || []).map((g) => [g.subject, g.collection, g.right]);
      box.replaceChildren(
        el("p", {}, t(policy.enforced ? "gov.enforced" : "gov.open")),
        rows.length ? table(["gov.colSubject", "gov.colCollection", "gov.colRight"], rows)
          : el("p", { class: "empty" }, t("gov.noGrants")));
    } catch (exc) {
      failure(box, exc);
    }
  }

  async function loadModels() {
    const box = $("gov-models");
    try {
      const data = await apiJSON("/v1/admin/models");
      box.replaceChildren(table(
        ["gov.colModel", "gov.colRole", "gov.colLicence", "gov.colSha", "gov.colUse"],
        data.models.map((m) => {
          const card = m.card || {};
          const sha = (m.files || []).map((f) => `${f.name}: ${(f.sha256 || f.expected_sha256 || "?").slice(0, 16)}…`);
          return [m.display_name || m.setting, m.role, card.licence || m.provenance || "",
            el("code", {}, sha.join(" ")), [card.intended_use, card.limits].filter(Boolean).join(" — ")];
        })));
    } catch (exc) {
      failure(box, exc);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("gov-verify").addEventListener("click", () => loadAudit(true));
    $("refresh").addEventListener("click", () => { loadAudit(false); loadAccess(); loadModels(); });
    loadAudit(false);
    loadAccess();
    loadModels();
  });
})();
