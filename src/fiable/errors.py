"""The one error hierarchy of fiable.

Every error says what went wrong and how to fix it. Edges translate them: the CLI into
exit codes (``exit_code``), the HTTP API into status codes and stable ``code`` strings.

    FiableError                      base; ``code`` is a stable machine-readable name
    ├── UserError                    misuse: the caller can fix it (exit code 2)
    │   ├── ConfigError              a bad setting or settings file
    │   ├── UnknownCollectionError   the named collection does not exist
    │   ├── InputTooLargeError       a question or request over the configured limit
    │   ├── UnknownTraceError        no answer logged under this trace id (erased, or never)
    │   ├── InvalidFeedbackError     a feedback record that breaks its kind's rules
    │   ├── AccessDeniedError        the principal lacks the right (write, admin) for this
    │   ├── NothingToEraseError      an erasure request that matches nothing stored
    │   └── WorkspaceError           no workspace there, or not a fiable workspace
    ├── LoadError                    one input file cannot be ingested (exit code 3)
    │   ├── UnsupportedFormatError   no loader for this file type
    │   ├── EmptyFileError           zero bytes, or no text at all after loading
    │   ├── FileTooLargeError        over ``max_file_mb``
    │   ├── BinaryContentError       binary data under a text extension
    │   ├── EncodingError            text that is not in any supported encoding
    │   ├── CorruptFileError         a PDF/DOCX/HTML the parser cannot read
    │   ├── EncryptedFileError       a password-protected PDF or DOCX
    │   └── NoTextLayerError         a PDF with pages but no extractable text (scanned)
    ├── ModelError                   a model file or backend problem (exit code 4)
    │   ├── ModelNotFoundError       not pulled yet / no such model
    │   ├── ModelIntegrityError      assembled file's sha256 differs from the pinned one
    │   ├── EmbeddingModelMismatchError  the index was built with another embedder
    │   ├── TorchBackendMissingError the torch route's extra is not installed (also ImportError)
    │   └── GeneratorError           the generation backend failed or is unreachable
    └── StoreError                   the store failed (exit code 5)
        └── AuditIntegrityError      the audit trail does not verify (edited, deleted, reordered)
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "AuditIntegrityError",
    "NothingToEraseError",
    "BinaryContentError",
    "ConfigError",
    "CorruptFileError",
    "EmbeddingModelMismatchError",
    "EmptyFileError",
    "EncodingError",
    "EncryptedFileError",
    "FiableError",
    "FileTooLargeError",
    "GeneratorError",
    "InputTooLargeError",
    "InvalidFeedbackError",
    "LoadError",
    "ModelError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "NoTextLayerError",
    "StoreError",
    "TorchBackendMissingError",
    "UnknownCollectionError",
    "UnknownConversationError",
    "UnknownTraceError",
    "UnsupportedFormatError",
    "UserError",
    "WorkspaceError",
]


class FiableError(Exception):
    """Base of every error fiable raises on purpose.

    ``message`` says what went wrong, ``hint`` how to fix it.
    """

    code: str = "fiable_error"
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} (fix: {hint})")


class UserError(FiableError):
    code = "user_error"
    exit_code = 2


class ConfigError(UserError):
    code = "config_error"


class UnknownCollectionError(UserError):
    code = "unknown_collection"


class UnknownConversationError(UserError):
    """No conversation of that id that the asker may open (missing or someone else's: the
    same error, so its existence is not revealed)."""

    code = "unknown_conversation"


class InputTooLargeError(UserError):
    code = "input_too_large"


class UnknownTraceError(UserError):
    code = "unknown_trace"


class InvalidFeedbackError(UserError):
    code = "invalid_feedback"


class WorkspaceError(UserError):
    code = "workspace_error"


class AccessDeniedError(UserError):
    code = "access_denied"


class NothingToEraseError(UserError):
    code = "nothing_to_erase"


class LoadError(FiableError):
    """One file could not be ingested; ``path`` names it. Nothing stored is touched."""

    code = "load_error"
    exit_code = 3

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message, hint=hint)


class UnsupportedFormatError(LoadError):
    code = "unsupported_format"


class EmptyFileError(LoadError):
    code = "empty_file"


class FileTooLargeError(LoadError):
    code = "file_too_large"


class BinaryContentError(LoadError):
    code = "binary_content"


class EncodingError(LoadError):
    code = "bad_encoding"


class CorruptFileError(LoadError):
    code = "corrupt_file"


class EncryptedFileError(LoadError):
    code = "encrypted_file"


class NoTextLayerError(LoadError):
    code = "no_text_layer"


class ModelError(FiableError):
    code = "model_error"
    exit_code = 4


class ModelNotFoundError(ModelError):
    code = "model_not_found"


class ModelIntegrityError(ModelError):
    code = "model_integrity"


class EmbeddingModelMismatchError(ModelError):
    code = "embedding_model_mismatch"


class TorchBackendMissingError(ModelError, ImportError):
    """sentence-transformers (or torch) is not installed: the torch route is an extra."""

    code = "torch_backend_missing"


class GeneratorError(ModelError):
    code = "generator_error"


class StoreError(FiableError):
    code = "store_error"
    exit_code = 5


class AuditIntegrityError(StoreError):
    code = "audit_integrity"
