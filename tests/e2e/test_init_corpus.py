"""``mbtspec init`` over a corpus of real-world OpenAPI documents.

Each document either gives a spec that ``mbtspec lint`` accepts without errors, or (Swagger 2.0,
which mbtspec does not read) a ``UsageError`` that names the problem; never anything else. The
corpus lives outside the repository (``../shared/openapi-corpus`` next to the checkout, see its
MANIFEST.md); without it these tests are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mbtspec.errors import UsageError
from mbtspec.scaffold import scaffold_spec
from mbtspec.spec import lint_spec

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "openapi-corpus"


def _documents() -> list[object]:
    if not CORPUS.is_dir():
        return [pytest.param(None, id="no-corpus", marks=pytest.mark.skip(
            reason=f"the OpenAPI corpus is not there ({CORPUS}); it is shared next to the "
                   "repository, not part of it"))]
    return [pytest.param(doc, id=doc.name) for doc in sorted(CORPUS.iterdir())
            if doc.suffix.lower() in (".yaml", ".yml", ".json")]


def _read(doc: Path) -> object:
    text = doc.read_text(encoding="utf-8")
    if doc.suffix.lower() == ".json":
        return json.loads(text)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@pytest.mark.parametrize("doc", _documents())
def test_init_lints_clean_or_says_why_not(doc: Path, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    try:
        text = scaffold_spec(doc, spec)
    except UsageError as error:
        # only a document mbtspec cannot read may be refused: here, Swagger 2.0
        raw = _read(doc)
        assert isinstance(raw, dict)
        assert "openapi" not in raw
        assert str(raw.get("swagger")) == "2.0"
        message = str(error)
        assert doc.name in message
        assert "Swagger 2.0" in message
        assert "convert it" in message
        return
    spec.write_text(text, encoding="utf-8")
    errors = [p.format() for p in lint_spec(spec) if p.severity == "error"]
    assert errors == []
    data = yaml.safe_load(text)
    assert (spec.parent / data["openapi"]).resolve() == doc.resolve()
    assert "Operations left out" not in text  # every operation of these documents is named
    assert len(data["actions"]) >= 1


def test_conduit_logs_in_by_itself() -> None:
    """The RealWorld 'Conduit' document: registering answers {user: {token}}, and the
    protected operations take 'Authorization: Token ...' (an apiKey scheme)."""
    doc = CORPUS / "realworld.show-conduit-1.1.0.yaml"
    if not doc.is_file():
        pytest.skip(f"the OpenAPI corpus is not there ({CORPUS})")
    data = yaml.safe_load(scaffold_spec(doc, None))
    assert data["generators"]["auth_header"] == "Token ${auth_token}"
    assert data["actions"]["create_user"]["store"] == {
        "auth_tokens": "response.body.user.token"}
    secured = [a for a, v in data["actions"].items() if "headers" in v]
    assert "get_current_user" in secured and "get_tags" not in secured
