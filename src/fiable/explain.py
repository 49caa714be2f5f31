"""A readable account of how an answer was produced: decision, passages with their scores,
each sentence's citations and support evidence, screening findings, and the exact prompt.

    for event in ws.ask_stream(question):
        if isinstance(event, Done):
            print(explain(event.answer, event.messages))
"""

from __future__ import annotations

from typing import Sequence

from .answer import Answer

__all__ = ["explain"]


def _decision(answer: Answer) -> str:
    if answer.abstained:
        return f"abstained: {answer.abstain_reason}"
    if answer.unsupported_sentences:
        return (f"answered, {len(answer.unsupported_sentences)} sentence(s) flagged unsupported "
                f"(verification: {answer.verification})")
    return f"answered (verification: {answer.verification or 'off'})"


def _answerability(answer: Answer) -> list[str]:
    """The answerability classifier's verdict and features (answerability = classifier)."""
    a = getattr(answer, "answerability", None)
    if not a:
        return []
    verdict = "abstain" if a["abstain"] else "answer"
    facts = ", ".join(f"{k} {v}" for k, v in a["features"].items())
    lines = [f"  answerability: P(answerable) {a['score']:.2f} vs threshold {a['threshold']:.2f}"
             f" -> {verdict}", f"    features: {facts}"]
    after = a.get("after")
    if after:  # the answer decision, once the model had answered
        facts = ", ".join(f"{k} {v}" for k, v in after["features"].items())
        lines += [f"  answer decision: P(answerable) given the answer {after['score']:.2f} vs "
                  f"answer_threshold {after['threshold']:.2f} -> "
                  f"{'abstain' if after['abstain'] else 'answer'}", f"    features: {facts}"]
        if after.get("anchor"):
            lines.append(f"    the answer's value stands in: {after['anchor'][:160]!r}")
    return lines


def _followup(answer: Answer) -> list[str]:
    """In a conversation: the message as typed and the standalone question answered."""
    f = answer.followup
    if not f:
        return []
    lines = [f"  follow-up ({f.get('method')}, {f.get('seconds', 0) * 1000:.0f} ms): "
             f"message {f.get('message')!r}", f"    answered as {answer.question!r}"]
    if f.get("rewrite") and f.get("method") != "model":
        lines.append(f"    model rewrite not kept: {f['rewrite']!r}")
    return lines


def _translation(answer: Answer) -> list[str]:
    """A question in another language than the documents: what was searched."""
    t = answer.translation
    if not t:
        return []
    if t.get("kept"):
        lines = [f"  translated ({t.get('source')} -> {t.get('target')}, "
                 f"{t.get('seconds', 0) * 1000:.0f} ms) for search: {t.get('text')!r}"]
    else:
        lines = [f"  translation ({t.get('source')} -> {t.get('target')}) not kept: "
                 f"{t.get('raw')!r}; searched as asked"]
    for back in t.get("answer") or ():
        lines.append(f"    answer sentence {back.get('original')!r} -> "
                     + (repr(back.get("text")) if back.get("kept")
                        else f"left as written (translation {back.get('raw')!r} not kept)"))
    return lines


def explain(answer: Answer, messages: Sequence[dict[str, str]] = ()) -> str:
    """The explanation of ``answer`` as text; ``messages`` are the prompt sent (``Done``)."""
    lines = [
        f"Decision: {_decision(answer)}",
        f"  best passage similarity {answer.relevance if answer.relevance is not None else 'n/a'}"
        f"; answer support {answer.support if answer.support is not None else 'n/a'}",
        f"  models: generator {answer.generator_model or 'none'}, embedder {answer.embedder_model};"
        f" prompt {answer.prompt_version or 'none'}; trace {answer.trace_id}",
        *_answerability(answer),
        *_followup(answer),
        *_translation(answer),
        "",
        "Passages (fused score; BM25 rank; dense rank and cosine):",
    ]
    for s in answer.sources:
        lines.append(f"  [{s.number}] {s.location} — score {s.score:.4f}; BM25 "
                     f"{s.lexical_rank or '-'}; dense {s.dense_rank or '-'}"
                     f"{f' ({s.dense_score:.3f})' if s.dense_score is not None else ''}")
    if getattr(answer, "parts", ()):  # ask --experts: who answered which part
        lines += ["", "Parts (sub-question -> expert, gate weight; status; its sources):"]
        for p in answer.parts:
            who = p.get("expert") or "no expert: every readable collection"
            weight = (p.get("weights") or {}).get(p.get("expert") or "", None)
            lines.append(f"  {p['index'] + 1}. {p['question']} -> {who}"
                         + (f" ({weight:.2f})" if weight is not None else "")
                         + f"; {p['status']}; sources "
                         + ("".join(f"[{n}]" for n in p.get("sources") or ()) or "none"))
    lines += ["", "Sentences:"]
    for i, s in enumerate(answer.sentences, start=1):
        cites = "".join(f"[{n}]" for n in s.citations) or "no citation"
        lines.append(f"  {i}. {s.text}")
        lines.append(f"     cited {cites} by {s.method} ({s.evidence:.2f})"
                     + (f"; support {s.support:.2f} {s.label}" if s.support is not None else ""))
        c = s.checks
        if c:
            facts = [f"lexical {c.get('lexical')}", f"similarity {c.get('similarity')}"]
            if c.get("missing_numbers"):
                facts.append("numbers not in the passages: " + ", ".join(c["missing_numbers"]))
            if c.get("missing_entities"):
                facts.append("names not in the passages: " + ", ".join(c["missing_entities"]))
            if "judge" in c:
                facts.append(f"judge said {c['judge']} (signals alone {c.get('signals_score')})")
            lines.append("     " + "; ".join(facts))
    if answer.screening:
        lines += ["", "Prompt-injection screening:"]
        lines += [f"  {f['where']} {f.get('source', '')} {f['kind']} -> {f['action']}: {f['text']!r}"
                  for f in answer.screening]
    if messages:
        lines += ["", "Prompt sent to the model:"]
        for m in messages:
            lines += [f"--- {m['role']} ---", m["content"]]
    return "\n".join(lines) + "\n"
