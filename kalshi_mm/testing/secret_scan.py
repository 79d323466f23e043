"""Find secrets (private keys, request signatures, tokens) in whatever a run wrote: logs, databases, captured output.

For tests, the chaos suite and release checks: scan everything a daemon run left behind for the key it ran with and
the signatures it produced. A secret is found whole, and — when it has a ``min_fragment`` — as any substring of at
least that many characters, so a key that leaked one line at a time, or cut short, is still found.

Encodings are handled the cheap, robust way: files are read as bytes and decoded as Latin-1 (byte-transparent, so
an ASCII secret inside UTF-8 text or a binary SQLite page still matches); NUL bytes are dropped (so UTF-16/32 text
of an ASCII secret matches too); line breaks, their escaped forms (``\\n`` as in ``.env`` files and JSON) and
JSON's escaped slash (``\\/``) are dropped from both the secret and the text before comparing. Base64 re-encoded
with another alphabet, hex dumps or compressed data are not recognised.

A :class:`Finding` names where and which secret (by its label) and how much of it matched, never the secret text
itself, so a failing assertion that prints findings cannot leak what it found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Finding",
    "Secret",
    "pem_secrets",
    "scan_paths_for_secrets",
    "scan_text_for_secrets",
    "signature_secrets",
]

DEFAULT_MIN_FRAGMENT = 40
# What a secret and a text lose before they are compared: line breaks, escaped ones, NULs, JSON's escaped slash.
_NOISE = re.compile(r"\\r\\n|\\n|\\r|\r|\n|\x00")


@dataclass(frozen=True)
class Secret:
    """``text`` to look for, known in reports as ``label``. With ``min_fragment``, any substring of ``text`` (after
    normalisation) at least that long counts as a leak too; without, only the whole text does."""

    label: str
    text: str = field(repr=False)
    min_fragment: int | None = None

    def __post_init__(self) -> None:
        if not _normalise(self.text):
            raise ValueError(f"secret {self.label!r} is empty")
        if self.min_fragment is not None and self.min_fragment < 8:
            raise ValueError(f"secret {self.label!r}: min_fragment {self.min_fragment} would match ordinary text")


@dataclass(frozen=True)
class Finding:
    """``secret`` (a label) found in ``where``; ``length`` characters of it starting at ``offset`` of the
    normalised text (line breaks removed, so offsets are approximate in the original)."""

    where: str
    secret: str
    offset: int
    length: int
    whole: bool  # the whole secret, not only a fragment

    def __str__(self) -> str:
        what = "the whole secret" if self.whole else f"a {self.length}-character fragment"
        return f"{self.where}: {what} of {self.secret} at offset {self.offset}"


def _normalise(text: str) -> str:
    return _NOISE.sub("", text).replace("\\/", "/")


def pem_secrets(
    pem: str | bytes, *, label: str = "private key", min_fragment: int = DEFAULT_MIN_FRAGMENT
) -> tuple[Secret, ...]:
    """The secrets of a PEM private key: the whole PEM, and its base64 body with fragments of ``min_fragment``."""
    text = pem.decode("ascii") if isinstance(pem, bytes) else pem
    text = text.replace("\\n", "\n")
    body = "".join(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("-----"))
    if not body:
        raise ValueError(f"{label}: no PEM body found")
    return Secret(f"{label} (PEM)", text), Secret(f"{label} (base64 body)", body, min_fragment)


def signature_secrets(
    signatures: Iterable[str], *, label: str = "request signature", min_fragment: int = DEFAULT_MIN_FRAGMENT
) -> tuple[Secret, ...]:
    """One secret per distinct signature (``KALSHI-ACCESS-SIGNATURE`` values), fragments of ``min_fragment``."""
    return tuple(
        Secret(f"{label} #{i}", sig, min(min_fragment, len(sig))) for i, sig in enumerate(dict.fromkeys(signatures), 1)
    )


class _Index:
    """The secrets prepared for scanning: whole texts, and per fragment length the fragments and their alphabet."""

    def __init__(self, secrets: Iterable[Secret | str]) -> None:
        self.whole: list[tuple[str, str]] = []  # (normalised text, label)
        # fragment length -> (regex of runs of the secrets' characters, fragment -> label)
        self.fragments: dict[int, tuple[re.Pattern[str], dict[str, str]]] = {}
        grams: dict[int, dict[str, str]] = {}
        alphabets: dict[int, set[str]] = {}
        for i, item in enumerate(secrets, 1):
            secret = item if isinstance(item, Secret) else Secret(f"secret #{i}", item)
            text = _normalise(secret.text)
            self.whole.append((text, secret.label))
            k = secret.min_fragment
            if k is None or len(text) < k:
                continue
            table = grams.setdefault(k, {})
            for start in range(len(text) - k + 1):
                table.setdefault(text[start : start + k], secret.label)
            alphabets.setdefault(k, set()).update(text)
        for k, table in grams.items():
            chars = "".join(sorted(alphabets[k]))
            run = re.compile(f"[{re.escape(chars)}]{{{k},}}")
            self.fragments[k] = (run, table)


def _scan(text: str, index: _Index, where: str) -> list[Finding]:
    text = _normalise(text)
    findings: list[Finding] = []
    wholes = set()
    for secret, label in index.whole:
        at = text.find(secret)
        if at >= 0:
            findings.append(Finding(where, label, at, len(secret), True))
            wholes.add(label)
    for k, (run_re, table) in index.fragments.items():
        for run in run_re.finditer(text):
            chunk, base = run.group(), run.start()
            start = 0
            while start + k <= len(chunk):
                label = table.get(chunk[start : start + k])
                if label is None:
                    start += 1
                    continue
                end = start + k  # extend while consecutive windows still belong to the same secret
                while end < len(chunk) and table.get(chunk[end - k + 1 : end + 1]) == label:
                    end += 1
                if label not in wholes:
                    findings.append(Finding(where, label, base + start, end - start, False))
                start = end
    return findings


def scan_text_for_secrets(text: str | bytes, secrets: Iterable[Secret | str], where: str = "<text>") -> list[Finding]:
    """Findings of ``secrets`` (plain strings match only whole) in one text or byte string."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    return _scan(text, _Index(secrets), where)


def scan_paths_for_secrets(
    paths: Iterable[str | Path] | Mapping[str, str | bytes], secrets: Iterable[Secret | str]
) -> list[Finding]:
    """Findings of ``secrets`` in every file of ``paths`` (directories are walked; paths that do not exist, such
    as a SQLite ``-wal`` already checkpointed away, are skipped). A mapping of name -> text or bytes (captured
    output, exception messages) is scanned as if each entry were a file."""
    index = _Index(secrets)
    findings: list[Finding] = []
    if isinstance(paths, Mapping):
        for name, content in paths.items():
            text = content.decode("latin-1") if isinstance(content, bytes) else content
            findings.extend(_scan(text, index, name))
        return findings
    for path in map(Path, paths):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            try:
                data = file.read_bytes()
            except FileNotFoundError:
                continue
            findings.extend(_scan(data.decode("latin-1"), index, str(file)))
    return findings
