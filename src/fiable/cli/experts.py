"""``fiable experts list | add | test``."""

from __future__ import annotations

import click

from ._common import echo_json, open_workspace


@click.group("experts")
def experts_group() -> None:
    """Experts: collections with a description, routed to by the gate (docs/experts.md)."""


@experts_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """The experts declared in fiable.toml."""
    with open_workspace(ctx) as ws:
        experts = ws.experts()
    if as_json:
        echo_json([{"name": e.name, **e.to_table()} for e in experts])
        return
    if not experts:
        click.echo('No experts yet: fiable experts add NAME -c COLLECTION -d "what it knows"')
    for e in experts:
        own = ", ".join(f"{k}={v}" for k, v in e.overrides().items())
        click.echo(f"{e.name}: {', '.join(e.collections)}" + (f" ({own})" if own else ""))
        click.secho(f"    {e.description}", dim=True)


@experts_group.command("add")
@click.argument("name")
@click.option("-c", "--collection", "collections", multiple=True, required=True,
              help="Collection the expert searches (repeatable).")
@click.option("-d", "--description", required=True,
              help="What the expert knows, in a sentence (the gate compares questions with it).")
@click.option("--prompt-dir", default="", help="Folder of prompt templates for its answers.")
@click.option("--generator", default="", help="Its own generator (catalog name, .gguf, openai).")
@click.option("--generator-url", default="", help="With --generator openai: the server's URL.")
@click.option("--generator-model", default="", help="With --generator openai: the model name.")
@click.option("--verify", type=click.Choice(["flag", "abstain", "off"]), default=None)
@click.option("--support-threshold", type=float, default=None)
@click.pass_context
def add_cmd(ctx: click.Context, name: str, collections: tuple[str, ...], description: str,
            prompt_dir: str, generator: str, generator_url: str, generator_model: str,
            verify: str | None, support_threshold: float | None) -> None:
    """Add (or replace) expert NAME in fiable.toml."""
    from ..experts.config import expert_from_table

    table = {"description": description, "collections": list(collections),
             "prompt_dir": prompt_dir, "generator": generator, "generator_url": generator_url,
             "generator_model": generator_model, "verify": verify or ""}
    if support_threshold is not None:
        table["support_threshold"] = support_threshold
    expert = expert_from_table(name, table)
    with open_workspace(ctx) as ws:
        ws.add_expert(expert)
    click.echo(f"expert {name!r} searches {', '.join(expert.collections)}")


@experts_group.command("test")
@click.argument("question")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def test_cmd(ctx: click.Context, question: str, as_json: bool) -> None:
    """Show how QUESTION would be split and routed (gate scores), without answering."""
    with open_workspace(ctx) as ws:
        split, routes = ws.route(question)
    if as_json:
        echo_json({"split": split.to_dict(), "gates": [r.to_dict() for r in routes]})
        return
    click.echo(render_route(split.to_dict(), [r.to_dict() for r in routes]), nl=False)


def render_route(split: dict, gates: list[dict], experts_of: list[str | None] | None = None) -> str:
    """The split and each part's gate scores as text (``experts test``, ``ask --explain``)."""
    lines = [f"Split ({split['method']}, {split['ms']:.2f} ms): {len(split['parts'])} part(s)"
             + (f"; the model's split was refused: {split['model_error']}"
                if split.get("model_error") else "")]
    for i, (part, gate) in enumerate(zip(split["parts"], gates), start=1):
        chosen = ", ".join(gate["chosen"]) or "none: every collection you may read"
        lines.append(f"  {i}. {part}")
        lines.append(f"     experts: {chosen} ({gate['reason']}; gate {gate['ms']:.2f} ms)")
        if experts_of is not None and i <= len(experts_of):
            lines.append(f"     answered by: {experts_of[i - 1] or 'all readable collections'}")
        for name, score in gate["scores"].items():
            sig = gate["signals"].get(name, {})
            lines.append(f"       {name:<16} score {score:.3f}  weight {gate['weights'][name]:.3f}"
                         f"  (description {sig.get('description')}, summary "
                         f"{sig.get('summary')}, passages {sig.get('passages')})")
    return "\n".join(lines) + "\n"
