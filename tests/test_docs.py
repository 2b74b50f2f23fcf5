"""The documentation: every relative link in README.md and docs/*.md points to a file or
folder that exists (anchors and web addresses are not checked), and so does every path in
a code span that starts with ``./``, ``../`` or ``docs/``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: [text](target) and ![alt](target), the target up to a space, ')' or '#'.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s#>]*)")


#: A path in a code span that is meant as a file of this repository.
PATH_SPAN = re.compile(r"`((?:\.\.?/|docs/)[^`\s*<>]+)`")


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)  # code spans are not links
    return [t for t in LINK.findall(text) if t and not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def _path_spans(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return PATH_SPAN.findall(text)


def _exists(doc: Path, target: str) -> bool:
    return (doc.parent / target).exists() or (ROOT / target).exists()


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_exist(doc: Path) -> None:
    missing = [t for t in _links(doc) if not (doc.parent / t).exists()]
    missing += [t for t in _path_spans(doc) if not _exists(doc, t)]
    assert not missing, f"{doc.relative_to(ROOT)} links missing files: {missing}"


def test_the_link_check_sees_links_and_paths(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text("[a](a.md) ![b](img/b.png#x) [w](https://x.org) `../data/README.md` `c`")
    assert _links(doc) == ["a.md", "img/b.png"] and _path_spans(doc) == ["../data/README.md"]


def test_readme_accuracy_command_evaluates_the_shipped_bundle() -> None:
    """The accuracy table reports the shipped bundle; its command must evaluate that
    bundle (sspinn-eval's default model is the float checkpoint)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Accuracy of the shipped model", 1)[1].split("\n## ", 1)[0]
    assert "shipped\nbundle" in section or "shipped bundle" in section
    command = re.search(r"`(sspinn-eval [^`]+)`", section)
    assert command is not None, "no sspinn-eval command next to the accuracy table"
    model = re.search(r"--model (\S+)", command.group(1))
    assert model is not None and model.group(1).endswith(".sspinn"), command.group(1)
    assert (ROOT / model.group(1)).is_file()
