"""The documentation stands alone and names what exists.

* Nothing tracked in the repository points to files outside it (design notes or paper files
  that only the authors have): papers are cited by title and arXiv id, design notes live in docs/.
* docs/architecture.md's module map names every module of src/byzlab (regenerate it with
  `scripts/module-map` when modules are added, moved or split).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tracked() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    return [ROOT / p for p in out if p.endswith((".py", ".md", ".toml", ".txt", ".yml", ".sh"))]


def test_nothing_points_outside_the_repository() -> None:
    outside = re.compile(r"\.\./shared|/work/shared|\bpapers/[\w-]+\.(txt|md|pdf)")
    hits = []
    for path in _tracked():
        if path == Path(__file__).resolve():
            continue
        for k, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if outside.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{k}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_the_module_map_names_every_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    mapped = text.split("## Module map", 1)[1]
    source = (ROOT / "scripts" / "module-map").read_text()
    namespace: dict[str, object] = {
        "__name__": "module_map",
        "__file__": str(ROOT / "scripts" / "module-map"),
    }
    exec(compile(source, "module-map", "exec"), namespace)
    modules = namespace["modules"]()  # type: ignore[operator]
    missing = [name for name in modules if f"`{name}`" not in mapped]
    assert not missing, f"docs/architecture.md's module map lacks {missing}; run scripts/module-map"
    stale = [
        name
        for name in re.findall(r"^- `(byzlab[\w.]*)`", mapped, flags=re.M)
        if name not in modules
    ]
    assert not stale, f"the module map names modules that no longer exist: {stale}"
