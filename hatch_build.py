"""The sdist's build hook: hatchling adds git's ignore file to every sdist; this one leaves it out.

The sdist lists what it holds explicitly (pyproject.toml, [tool.hatch.build.targets.sdist]), so nothing in it
needs .gitignore, and a repository file that is not part of the release has no place in it.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        forced = build_data["force_include"]
        build_data["force_include"] = {src: name for src, name in forced.items() if name != ".gitignore"}
