"""Build a handler's deployment zip deterministically: same source, same bytes, same CodeSha256.

The zip holds the handler module plus the ``_``-prefixed helper modules it imports from
this folder, with fixed timestamps and permissions, so an unchanged function is never
re-uploaded.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LAMBDA_DIR = Path(__file__).resolve().parent
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Package:
    module: str
    zip_bytes: bytes

    @property
    def code_sha256(self) -> str:
        """The value Lambda reports as CodeSha256: base64 of the zip's SHA-256."""
        return base64.b64encode(hashlib.sha256(self.zip_bytes).digest()).decode()

    @property
    def handler(self) -> str:
        return f"{self.module}.handler"


def _helpers(module: str) -> list[str]:
    """``_``-prefixed sibling modules the handler imports (``import _x`` or ``from . import _x``)."""
    tree = ast.parse((LAMBDA_DIR / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names] if node.level and not node.module else [node.module or ""]
        for name in names:
            if name.startswith("_") and (LAMBDA_DIR / f"{name}.py").exists():
                found.add(name)
    for helper in sorted(found):
        found.update(_helpers(helper))
    return sorted(found)


@cache
def build(module: str) -> Package:
    path = LAMBDA_DIR / f"{module}.py"
    if not path.exists():
        raise FileNotFoundError(f"no Lambda handler module {module!r} in {LAMBDA_DIR}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in [module, *_helpers(module)]:
            info = zipfile.ZipInfo(f"{name}.py", date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (LAMBDA_DIR / f"{name}.py").read_bytes())
    return Package(module, buffer.getvalue())
