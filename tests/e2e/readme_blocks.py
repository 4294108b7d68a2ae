"""Documents the README ships, read from the README itself so that what it shows and what the tests prove
cannot drift: the fenced block that follows a `<!-- NAME -->` marker line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

README = Path(__file__).resolve().parents[2] / "README.md"
RBAC_SECTION = README  # the least-privilege section's Role and ClusterRole
ROLE_MARKER = "virt-expose-role"
NODES_MARKER = "virt-expose-nodes"
FENCE = re.compile(r"^(`{3,}|~{3,})\s*(\S*)\s*$")


def fenced_block(markdown: str, marker: str, language: str = "yaml") -> str:
    """The text of the first fenced block after the line `<!-- marker -->`, which must be in `language`;
    only blank lines may stand between them."""
    lines = markdown.splitlines()
    try:
        start = next(number for number, line in enumerate(lines) if line.strip() == f"<!-- {marker} -->")
    except StopIteration:
        raise LookupError(f"no <!-- {marker} --> marker") from None
    following = iter(enumerate(lines[start + 1:], start=start + 1))
    for number, line in following:
        if not line.strip():
            continue
        opening = FENCE.match(line)
        if not opening or opening.group(2) != language:
            raise LookupError(f"line {number + 1}: a ```{language} block must follow <!-- {marker} -->, not {line!r}")
        fence = opening.group(1)
        body = []
        for _, inner in following:
            if inner.strip() == fence:
                return "\n".join(body) + "\n"
            body.append(inner)
        raise LookupError(f"the block after <!-- {marker} --> is not closed")
    raise LookupError(f"nothing follows <!-- {marker} -->")


def yaml_document(path: Path, marker: str) -> dict[str, Any]:
    """The one YAML document in the block after `<!-- marker -->` of the markdown file at `path`."""
    document = yaml.safe_load(fenced_block(path.read_text(), marker))
    if not isinstance(document, dict):
        raise LookupError(f"{path}: the block after <!-- {marker} --> is not one YAML mapping")
    return document
