"""Settings: one table drives defaults, validation, the settings file, env vars and docs.

Precedence, highest first:

1. explicit values (CLI flags, keyword arguments to :meth:`fiable.Workspace.open`);
2. environment variables ``FIABLE_<NAME>`` (upper case, e.g. ``FIABLE_TOP_K=8``);
3. the workspace's ``fiable.toml`` (top-level keys, e.g. ``top_k = 8``);
4. the defaults below.

Secret settings are never logged or printed (``Settings.redacted()``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError, UserError

__all__ = ["COLLECTION_SETTINGS", "SETTINGS_FILE", "Setting", "Settings", "load_settings",
           "read_collection_settings", "read_toml", "replace_table", "settings_table", "toml_value",
           "write_collection_settings", "write_setting", "write_settings"]

SETTINGS_FILE = "fiable.toml"
ENV_PREFIX = "FIABLE_"


def _setting(default: Any, help: str, *, secret: bool = False, choices: tuple[str, ...] = ()) -> Any:
    return field(default=default, metadata={"help": help, "secret": secret, "choices": choices})


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of a workspace. Read the table with :func:`settings_table`."""

    store: str = _setting(
        "",
        "Where documents, chunks and vectors live: empty = the workspace's SQLite file;"
        " `postgresql://user@host/db` = a PostgreSQL server with pgvector, shared by several"
        " replicas (install the `postgres` extra).",
        secret=True,
    )
    embedder: str = _setting(
        "minilm-l6-v2",
        "Embedding model: a catalog name (`minilm-l6-v2` = ONNX int8 route, `minilm-l6-v2-torch`"
        " = torch route, `multilingual-e5-small` = French and 90+ languages) or `hashing`"
        " (deterministic fake, tests only). Per collection too: each collection's vectors"
        " come from its own embedder (docs/multilingual.md).",
    )
    profile: str = _setting(
        "",
        "A named set of defaults chosen by measurement (docs/generators.md): `fast` (the"
        " defaults: Qwen2.5-Coder-0.5B) or `accurate` (Qwen2.5-Coder-1.5B: better answers,"
        " slower); empty: the defaults. Settings given explicitly win over the profile's."
        " Workspace-wide: fiable.toml, FIABLE_PROFILE or `--set profile=accurate`.",
        choices=("", "fast", "accurate"),
    )
    generator: str = _setting(
        "qwen2.5-coder-0.5b",
        "Answer model: a catalog name (`qwen2.5-coder-0.5b`, `qwen2.5-coder-1.5b`, `smollm2-135m`),"
        " a path to a .gguf file, `openai` (any OpenAI-compatible server, see generator_url),"
        " or `fake` (deterministic extractive fake, tests only).",
    )
    generator_url: str = _setting(
        "http://127.0.0.1:11434/v1",
        "Base URL of the OpenAI-compatible server when generator = `openai` (Ollama, vLLM,"
        " llama.cpp server...).",
    )
    generator_model: str = _setting("", "Model name sent to the OpenAI-compatible server.")
    generator_api_key: str = _setting("", "API key for the OpenAI-compatible server.", secret=True)
    model_dir: str = _setting(
        "",
        "Where pulled models live (empty: $FIABLE_MODEL_DIR or ~/.cache/fiable/models).",
    )
    context_size: int = _setting(4096, "Context window (tokens) given to the local model.")
    threads: int = _setting(
        0,
        "CPU threads for the models (0: every CPU available; lower it on a machine shared with"
        " other CPU-bound work, where llama.cpp's threads stall each other).",
    )
    chunk_tokens: int = _setting(
        200, "Largest chunk, in tokens of the embedder's tokenizer (MiniLM reads 256 at most)."
    )
    chunk_overlap: int = _setting(40, "Tokens repeated between consecutive chunks of a section.")
    embed_batch_size: int = _setting(32, "Texts per embedding batch.")
    max_file_mb: int = _setting(50, "Files larger than this are refused at ingest.")
    ingest_executor: str = _setting(
        "local",
        "Where ingestion's load, chunk and embed steps run: `local` (this process) or `ray`"
        " (Ray tasks with one embedder per actor; install the `ray` extra).",
        choices=("local", "ray"),
    )
    ray_address: str = _setting(
        "",
        "Ray cluster to join when ingest_executor = `ray` (empty: start a local one).",
    )
    ray_workers: int = _setting(0, "Ray embedding actors (0: one per CPU the cluster has).")
    top_k: int = _setting(3, "Passages retrieved and shown to the model.")
    fusion: str = _setting(
        "weighted",
        "How lexical and dense results are fused: `rrf` (reciprocal rank) or `weighted`"
        " (min-max normalised scores). Chosen with dense_weight and candidates by the mean"
        " nDCG@10 over seven dev sets (docs/retrieval.md).",
        choices=("rrf", "weighted"),
    )
    rrf_k: int = _setting(60, "RRF constant k.")
    dense_weight: float = _setting(0.4, "Weight of the dense score when fusion = `weighted`.")
    candidates: int = _setting(100, "Candidates taken from each retriever before fusion.")
    query_pool: str = _setting(
        "first",
        "How a query longer than the embedder reads is embedded: `first` (its first window,"
        " the embedder's truncation) or `mean` (cut into windows of sentences that fit, their"
        " vectors averaged; no better on the long-query dev sets, docs/retrieval.md).",
        choices=("first", "mean"),
    )
    query_terms: int = _setting(
        128,
        "BM25 searches at most this many terms of a query, the ones in the fewest chunks"
        " (bounds the cost of a pasted page; fewer than 128 lost nDCG on the long-query dev"
        " sets); 0: every term.",
    )
    min_relevance: float = _setting(
        0.20,
        "When no passage reaches this dense similarity (cosine) to the question, fiable answers"
        " 'not in the documents' without calling the model (a coarse gate for off-topic"
        " questions; the answerability classifier decides the rest).",
    )
    citation_markers: bool = _setting(
        False,
        "Ask the model to end each sentence with [n] passage markers. Off by default: it made"
        " Qwen2.5-0.5B answer 7/23 handbook questions instead of 18/23; sentences are then"
        " cited by evidence overlap. Turn on for larger models.",
    )
    verify: str = _setting(
        "flag",
        "Sentence verification: `flag` (unsupported sentences are marked), `abstain` (an answer"
        " whose support is below support_threshold becomes 'not in the documents' with the"
        " closest passages) or `off`.",
        choices=("flag", "abstain", "off"),
    )
    support_threshold: float = _setting(
        0.1, "Answer support (mean of its sentences' scores, 0-1) below which `verify = abstain`"
        " refuses the answer (0.1: calibrated on the SQuAD 2.0 dev split, benchmarks/abstention.py).")
    verify_judge: bool = _setting(
        False, "Also ask the generator a grammar-constrained yes/no question for sentences the"
        " cheap signals are unsure about (off: with Qwen 0.5B it did not improve detection and"
        " cost ~0.6 s a sentence, see benchmarks/verifier.py).")
    answerability: str = _setting(
        "auto",
        "Answerability check before generation: `auto` (the classifier when the embedder is"
        " MiniLM, whose similarity scale its weights were fitted on; off with another"
        " embedder), `classifier` (always: a logistic model over cheap"
        " question-vs-passage signals: dense and BM25 scores, question words in the best"
        " passage and sentence, missing names and numbers, negation, swapped opposites;"
        " fitted on the SQuAD 2.0 dev split and the bundled evaluation set's dev split; 'not"
        " in the documents' without calling the model when P(answerable) <"
        " answerability_threshold) or `off`. See docs/trust.md.",
        choices=("auto", "off", "classifier"),
    )
    answerability_threshold: float = _setting(
        0.5, "P(answerable) below which `answerability = classifier` abstains (0.5: chosen"
        " on SQuAD 2.0 dev questions 1-100 and the evaluation set's dev split, see"
        " docs/trust.md).")
    answer_threshold: float = _setting(
        0.3, "After generation, when the answerability classifier ran: the answer is given only"
        " when P(answerable), read again with the model's answer (how close it came to"
        " refusing, whether the passage sentence holding the answer's value holds what the"
        " question asks about; fiable.trust.decision), reaches this (0.3: chosen on SQuAD 2.0"
        " dev questions 1-50 of each kind and the evaluation set's dev split, see docs/trust.md);"
        " 0 never withholds an answer.")
    quote_min_coverage: float = _setting(
        0.6, "When the model gives no answer (it says 'not in the documents', or only repeats"
        " the question), quote the shown passage sentence that holds the most of the question's"
        " words, marked as a quote, if it holds at least this share of them (above 1: never"
        " quote). See docs/trust.md.")
    followup_rewrite: str = _setting(
        "merge",
        "A follow-up message in a conversation (\"and below that amount?\") is made a standalone"
        " question before retrieval: `merge` (the message followed by the question it follows;"
        " no model call), `model` (the local model rewrites it from the earlier turns; kept"
        " when it holds the message's words and some of the conversation's, else merged) or"
        " `off` (asked as typed). A message that points back at nothing is never rewritten."
        " `merge` by measurement: gold passage in the top 3 for 94% / 83% of SQuAD / PIAF"
        " dev follow-ups against 91% / 75% with Qwen 0.5B rewrites, which cost 0.8-1.8 s"
        " (benchmarks/conversations.py, docs/conversations.md).",
        choices=("merge", "model", "off"),
    )
    cross_lingual: str = _setting(
        "translate",
        "A question in another language than the documents (\"Combien de jours de congés ?\""
        " over an English handbook): `translate` (the local model translates it into the"
        " documents' main language for retrieval, the answerability gates and the model, one"
        " short call; the answer is put back into the question's language) or `off` (searched"
        " as asked). See docs/multilingual.md.",
        choices=("translate", "off"),
    )
    injection: str = _setting(
        "quarantine",
        "Prompt-injection screening of passages: `quarantine` (suspicious passages are kept out"
        " of the prompt), `fence` (kept, marked as untrusted data) or `off`. Findings are"
        " recorded on the answer either way.",
        choices=("quarantine", "fence", "off"),
    )
    pii: str = _setting(
        "keep",
        "Personal data in documents (at ingest) and questions: `keep`, `mask` (replaced by"
        " placeholders such as <PERSON_1>, the same entity getting the same placeholder within a"
        " document) or `reject` (the document or question is refused, naming the kinds found).",
        choices=("keep", "mask", "reject"),
    )
    pii_logs: str = _setting(
        "mask", "Personal data in the ask log (`fiable history`): `mask` or `keep`.",
        choices=("mask", "keep"),
    )
    pii_ner: bool = _setting(
        True, "Find names, places and organisations with Presidio and spaCy (the `pii` extra);"
        " without it, or when off, only the patterns (e-mail, phone, IBAN, NIR, SIREN/SIRET,"
        " cards).",
    )
    max_question_chars: int = _setting(2000, "Longest question accepted.")
    max_answer_tokens: int = _setting(320, "Longest answer generated, in tokens.")
    temperature: float = _setting(0.0, "Sampling temperature (0: deterministic).")
    seed: int = _setting(0, "Sampling seed.")
    prompt_dir: str = _setting(
        "", "Folder with prompt templates overriding the built-in ones (empty: built-in)."
    )
    answer_language: str = _setting(
        "auto",
        "Language of the answer's prompt and fixed messages: `auto` (the question's language,"
        " the passages' when the question is too short to tell; English for a language without"
        " templates), `en` or `fr`.",
        choices=("auto", "en", "fr"),
    )
    lang: str = _setting(
        "auto",
        "Language of the CLI's messages: `auto` (from LC_ALL / LC_MESSAGES / LANG), `en` or `fr`.",
        choices=("auto", "en", "fr"),
    )
    server_queue: int = _setting(
        16, "`fiable serve`: questions allowed to wait for the model; beyond, 503 with"
        " Retry-After.")
    server_timeout: float = _setting(
        120.0, "`fiable serve`: seconds a question may wait in the queue before 503.")
    trace_content: bool = _setting(
        True, "Traces keep the prompt and the retrieved passages (PII-masked per pii_logs);"
        " off: timings and ids only.")
    otlp_endpoint: str = _setting(
        "", "OpenTelemetry collector to export traces to (OTLP/HTTP, e.g."
        " http://127.0.0.1:4318/v1/traces; the `otlp` extra); empty: none.")
    drift_window: int = _setting(
        100, "`fiable watch` / drift alerts: the last N answers compared with the baseline.")
    drift_webhook: str = _setting(
        "", "URL that receives a JSON POST when a drift threshold is crossed; empty: log only.",
        secret=True)
    log_asks: bool = _setting(
        True, "Store each question, prompt and answer in the workspace (`fiable history`)."
    )
    audit_retention_days: int = _setting(
        0, "`fiable audit prune` deletes audit records older than this many days, leaving a"
        " checkpoint so the chain still verifies (0: keep every record).")
    feedback_export: bool = _setting(
        True, "`fiable feedback export` may include this collection's answers and feedback"
        " (set false per collection to withhold consent).")
    experts_split: str = _setting(
        "heuristic",
        "`fiable ask --experts`: how a question with several asks is split: `heuristic`"
        " (patterns: lists, several '?', 'and'/'et' before a question word, 'compare X and Y'),"
        " `model` (the heuristic, then the generator with a JSON grammar when unsure) or `off`.",
        choices=("heuristic", "model", "off"))
    experts_top_k: int = _setting(2, "Experts kept per sub-question (at most).")
    experts_temperature: float = _setting(
        0.05, "Softmax temperature turning the gate's scores into weights.")
    experts_threshold: float = _setting(
        0.25, "Weight an expert needs to be kept for a sub-question.")
    experts_min_score: float = _setting(
        0.2, "When no expert's gate score reaches this, the sub-question searches every"
        " collection the caller may read.")
    experts_budget: float = _setting(
        120.0, "Seconds one `--experts` request may take; parts still running then abstain on"
        " their own.")
    experts_parallel: int = _setting(
        4, "Sub-questions retrieved and answered at once (generation on one local model is"
        " serialized; remote OpenAI-compatible generators run concurrently).")

    def redacted(self) -> dict[str, Any]:
        """All settings as a dict with secrets masked: safe to log or print."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = "***" if f.metadata["secret"] and value else value
        return out

    def replace(self, **changes: Any) -> "Settings":
        if "profile" in changes and changes["profile"] != self.profile:
            raise ConfigError(  # its models are loaded when the workspace opens
                "profile cannot change for one question",
                hint="set profile in fiable.toml, FIABLE_PROFILE or Workspace.open(profile=...)")
        return dataclasses.replace(self, **_coerce_all(changes, source="arguments"))


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    type: str
    default: Any
    help: str
    env: str
    secret: bool


def settings_table() -> list[Setting]:
    """The settings table (name, type, default, help) in declaration order."""
    return [
        Setting(
            name=f.name,
            type=f.type if isinstance(f.type, str) else f.type.__name__,
            default=f.default,
            help=f.metadata["help"],
            env=ENV_PREFIX + f.name.upper(),
            secret=f.metadata["secret"],
        )
        for f in dataclasses.fields(Settings)
    ]


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, raw: Any, *, source: str) -> Any:
    f = _FIELDS.get(name)
    if f is None:
        known = ", ".join(sorted(_FIELDS))
        raise ConfigError(f"unknown setting {name!r} in {source}", hint=f"known settings: {known}")
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    try:
        if kind == "bool":
            if isinstance(raw, bool):
                value: Any = raw
            elif str(raw).strip().lower() in {"1", "true", "yes", "on"}:
                value = True
            elif str(raw).strip().lower() in {"0", "false", "no", "off"}:
                value = False
            else:
                raise ValueError(raw)
        elif kind == "int":
            if isinstance(raw, bool):
                raise ValueError(raw)
            value = int(raw)
        elif kind == "float":
            value = float(raw)
        else:
            value = str(raw)
    except (TypeError, ValueError):
        shown = "***" if f.metadata["secret"] else repr(raw)
        raise ConfigError(
            f"setting {name} in {source} must be a {kind}, got {shown}",
            hint=f"fix the value of {name} (default: {f.default!r})",
        ) from None
    choices = f.metadata["choices"]
    if choices and value not in choices:
        raise ConfigError(
            f"setting {name} in {source} must be one of {', '.join(choices)}, got {value!r}",
            hint=f"use one of: {', '.join(choices)}",
        )
    if kind in {"int", "float"} and value < 0:
        raise ConfigError(f"setting {name} in {source} must not be negative, got {value}",
                          hint=f"default: {f.default!r}")
    return value


def _coerce_all(values: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    return {k: _coerce(k, v, source=source) for k, v in values.items()}


# What each ``profile`` sets, under every setting given explicitly (docs/generators.md:
# the table these come from)
PROFILES: dict[str, dict[str, Any]] = {
    "fast": {"generator": "qwen2.5-coder-0.5b"},
    "accurate": {"generator": "qwen2.5-coder-1.5b"},
}

# Settings a ``[collections."NAME"]`` table of fiable.toml may set for one collection
# (``fiable eval --sweep`` writes them); they apply when a question targets that collection.
COLLECTION_SETTINGS = ("top_k", "fusion", "rrf_k", "dense_weight", "candidates", "query_pool",
                       "query_terms", "min_relevance",
                       "verify", "support_threshold", "verify_judge", "answerability",
                       "answerability_threshold", "answer_threshold", "quote_min_coverage", "pii",
                       "feedback_export", "answer_language", "embedder")


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's content ({} when there is no file); ConfigError when it is not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", hint="fix the file's syntax") from None


def read_settings_file(path: Path) -> dict[str, Any]:
    """Parse a ``fiable.toml``; ConfigError naming the line on a syntax error."""
    data = read_toml(path)
    return _coerce_all(
        {k: v for k, v in data.items() if not isinstance(v, dict)}, source=str(path)
    )


def read_collection_settings(path: Path) -> dict[str, dict[str, Any]]:
    """The ``[collections."NAME"]`` tables of a ``fiable.toml``, validated."""
    tables = read_toml(path).get("collections", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: 'collections' must be a table of tables",
                          hint='write [collections."NAME"] sections')
    out: dict[str, dict[str, Any]] = {}
    for name, table in tables.items():
        source = f'{path} [collections."{name}"]'
        if not isinstance(table, dict):
            raise ConfigError(f"{source} must be a table", hint='write [collections."NAME"]')
        extra = sorted(set(table) - set(COLLECTION_SETTINGS))
        if extra:
            raise ConfigError(f"{source}: {', '.join(extra)} cannot be set per collection",
                              hint=f"per-collection settings: {', '.join(COLLECTION_SETTINGS)}")
        out[name] = _coerce_all(table, source=source)
    return out


def toml_value(value: Any) -> str:
    """``value`` written as a TOML value (booleans, numbers, lists, else a string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def replace_table(workspace_dir: Path, kind: str, name: str, values: Mapping[str, Any],
                  *, comment: str = "") -> Path:
    """Write ``values`` as the ``[KIND."NAME"]`` table of the workspace's ``fiable.toml``
    (with ``comment`` above it), replacing that table and the comment above it and keeping
    the rest of the file as it is; the text is checked as TOML, written to a temporary file,
    then renamed, so a failure leaves the file as it was."""
    path = workspace_dir / SETTINGS_FILE
    if not workspace_dir.is_dir():
        raise UserError(f"no workspace folder at {workspace_dir}",
                        hint=f"create it with `fiable init {workspace_dir}`")
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    header = f"[{kind}.{json.dumps(name, ensure_ascii=False)}]"
    wanted = {header, f"[{kind}.{name}]"}
    kept: list[str] = []
    skipping = False
    for line in old.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):  # a table header ([x] or [[x]]) ends the one before
            skipping = stripped in wanted
            while skipping and kept and kept[-1].lstrip().startswith("#"):
                kept.pop()  # the comment written above the table being replaced
        if not skipping:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    block = [""] + [f"# {line}" for line in comment.splitlines()] + [header]
    block += [f"{k} = {toml_value(v)}" for k, v in values.items()]
    text = "\n".join(kept + block) + "\n"
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"could not write {path}: {exc}",
                          hint="fix the file's syntax by hand, then try again") from None
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_collection_settings(workspace_dir: Path, collection: str, values: Mapping[str, Any],
                              *, comment: str = "") -> Path:
    """Set ``values`` in the ``[collections."COLLECTION"]`` table of the workspace's
    ``fiable.toml``, replacing that table and keeping the rest of the file as it is."""
    checked = {k: _coerce(k, v, source="arguments") for k, v in values.items()}
    extra = sorted(set(checked) - set(COLLECTION_SETTINGS))
    if extra:
        raise ConfigError(f"{', '.join(extra)} cannot be set per collection",
                          hint=f"per-collection settings: {', '.join(COLLECTION_SETTINGS)}")
    return replace_table(workspace_dir, "collections", collection, checked, comment=comment)


def write_setting(workspace_dir: Path, name: str, value: Any) -> Path:
    """Set the top-level setting ``name`` in the workspace's ``fiable.toml`` (replacing its
    line, or adding one before the first table), keeping the rest of the file as it is."""
    return write_settings(workspace_dir, {name: value})


def write_settings(workspace_dir: Path, values: Mapping[str, Any], *, comment: str = "") -> Path:
    """Set top-level settings in the workspace's ``fiable.toml``: each replaces its line, or
    is added before the first table. With ``comment`` (the evidence for them) the lines are
    written together below it, and the comment above their old lines is dropped. The rest of the file stays as it is; the text is checked as TOML and
    renamed into place, so a failure leaves the file as it was."""
    path = workspace_dir / SETTINGS_FILE
    checked = {name: _coerce(name, value, source="arguments") for name, value in values.items()}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    first_table = next((i for i, ln in enumerate(lines) if ln.strip().startswith("[")),
                       len(lines))
    head, tail = lines[:first_table], lines[first_table:]

    def sets(line: str) -> str | None:
        name = line.split("=", 1)[0].strip()
        return name if "=" in line and not line.lstrip().startswith("#") and name in checked else None

    added: list[str] = []
    if comment:  # the lines move below their new evidence, the comment above them goes
        kept: list[str] = []
        for line in head:
            if sets(line):
                while kept and kept[-1].lstrip().startswith("#"):
                    kept.pop()
            else:
                kept.append(line)
        while kept and not kept[-1].strip():
            kept.pop()
        head = kept + ([""] if kept else [])
        added = [f"# {c}" for c in comment.splitlines()]
    for name, value in checked.items():
        line = f"{name} = {toml_value(value)}"
        at = next((i for i, old in enumerate(head) if sets(old) == name), None)
        if at is None:
            added.append(line)
        else:
            head[at] = line
    lines = head + added + ([""] if added and tail else []) + tail
    text = "\n".join(lines) + "\n"
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"could not write {path}: {exc}",
                          hint="fix the file's syntax by hand, then try again") from None
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_settings(
    workspace_dir: Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    collection: str | None = None,
) -> Settings:
    """Settings from defaults < ``fiable.toml`` < its ``[collections."COLLECTION"]`` table
    < ``FIABLE_*`` env < ``overrides``."""
    values: dict[str, Any] = {}
    if workspace_dir is not None:
        values.update(read_settings_file(workspace_dir / SETTINGS_FILE))
        if collection is not None:
            tables = read_collection_settings(workspace_dir / SETTINGS_FILE)
            values.update(tables.get(collection, {}))
    env = os.environ if environ is None else environ
    for name in _FIELDS:
        key = ENV_PREFIX + name.upper()
        if key in env:
            values[name] = _coerce(name, env[key], source=f"environment variable {key}")
    if overrides:
        values.update(_coerce_all({k: v for k, v in overrides.items() if v is not None},
                                  source="arguments"))
    return Settings(**{**PROFILES.get(values.get("profile", ""), {}), **values})
