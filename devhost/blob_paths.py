"""Blob trigger paths (`container/in/{tenant}/{name}.{ext}`), matched like the host's templates.

Each `{param}` is a greedy `.*` (so `{name}` spans `/`), `{{`/`}}` are literal braces, and the
container is literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[^{}]+|[{}]")
_PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class BlobPath:
    """A parsed trigger path: literal container plus a capture regex over the blob name."""

    container: str
    prefix: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, pattern: str) -> BlobPath:
        """Parse `container/blob-template` the way the host's binding templates are parsed."""
        container, sep, template = pattern.partition("/")
        if not sep or not template or len(container) < 3 or set(container) & set("{}"):
            raise ValueError(
                f"blob trigger path {pattern!r} must be '<container>/<blob template>' with a"
                " literal container name of at least 3 characters"
            )
        parts: list[str] = []
        prefix: str | None = None
        literal = ""
        names: set[str] = set()
        for token in _TOKEN.finditer(template):
            text, param = token.group(0), token.group(1)
            if param is None:
                if text in ("{", "}"):
                    raise ValueError(f"blob trigger path {pattern!r} has an unmatched {text!r}")
                chunk = text[0] if text in ("{{", "}}") else text
                literal += chunk
                parts.append(re.escape(chunk))
                continue
            if not _PARAM.fullmatch(param) or param in names:
                raise ValueError(f"blob trigger path {pattern!r}: bad or repeated {{{param}}}")
            names.add(param)
            if prefix is None:
                prefix = literal
            parts.append(f"(?P<{param}>.*)")
        regex = re.compile("^" + "".join(parts) + "$", re.DOTALL)
        return cls(container, literal if prefix is None else prefix, regex)

    def match(self, blob_name: str) -> dict[str, str] | None:
        """Binding data for a blob name in this container, or None when it does not match."""
        found = self.regex.match(blob_name)
        return None if found is None else found.groupdict()
