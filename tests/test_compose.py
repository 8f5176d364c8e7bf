"""docker-compose.yml validates against the compose-spec JSON schema (Docker cannot run here).
Run: ./run-tests tests/test_compose.py"""

import json
from pathlib import Path

import check_jsonschema
import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose_schema() -> dict:
    path = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(path.read_text())


def test_compose_file_is_valid_compose_spec():
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    jsonschema.validate(document, compose_schema())
    assert set(document["services"]) == {"sink", "trainer"}
    reservation = document["services"]["trainer"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert reservation["capabilities"] == ["gpu"]


def test_schema_rejects_a_broken_compose_file():
    """Proves the check can fail: a service with an unknown key is refused."""
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    document["services"]["sink"]["not_a_compose_key"] = True
    try:
        jsonschema.validate(document, compose_schema())
    except jsonschema.ValidationError:
        return
    raise AssertionError("the schema accepted an unknown service key")
