"""Built-in prompt templates (data files; see :mod:`fiable.templates`)."""
