"""Functions route templates (`mcp/{server}`, `{id:int}`, `{name?}`, `{*rest}`) as regular expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+)(?:\([^)]*\))?)?(\?)?\}")
_CONSTRAINTS = {
    None: r"[^/]+",
    "alpha": r"[A-Za-z]+",
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?i:true|false)",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
    "double": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
}


@dataclass(frozen=True)
class RouteTemplate:
    template: str
    pattern: re.Pattern[str]

    @classmethod
    def compile(cls, prefix: str, template: str) -> RouteTemplate:
        path = "/".join(part for part in (prefix.strip("/"), template.strip("/")) if part)
        regex = ""
        position = 0
        for match in _PARAM.finditer(path):
            regex += re.escape(path[position : match.start()])
            catch_all, name, constraint, optional = match.groups()
            if constraint not in _CONSTRAINTS:
                raise ValueError(f"route constraint {constraint!r} in {template!r} is not supported")
            body = r".*" if catch_all else _CONSTRAINTS[constraint]
            group = f"(?P<{name}>{body})"
            if optional or catch_all:
                if regex.endswith("/"):
                    regex = regex[:-1] + f"(?:/{group})?"
                else:
                    regex += f"{group}?"
            else:
                regex += group
            position = match.end()
        regex += re.escape(path[position:])
        return cls(template, re.compile(f"^/{regex}/?$", re.IGNORECASE))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path)
        if found is None:
            return None
        return {key: value for key, value in found.groupdict().items() if value is not None}
