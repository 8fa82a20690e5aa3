"""Python kernel source -> kernel IR."""

from .parse import Template, build_module, template

__all__ = ["build_module", "template", "Template"]
