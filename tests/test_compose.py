"""docker-compose.yml, stratlog.env.example and the Dockerfile, checked without Docker (it cannot
run here): the compose file validates against the compose-spec JSON schema (vendored in the
locked check-jsonschema package), its commands parse as the `stratlog` commands they call, the
sink is on the host's loopback and CURVE-protected by default, the trainer reserves GPUs and
does not wait for the sink, every variable it uses is in the example env file, and both image
builds install from requirements/lock.txt. Run: ./run-tests tests/test_compose.py"""

import json
import re
import subprocess
from pathlib import Path

import check_jsonschema
import jsonschema
import yaml

from stratlog.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


def compose_schema() -> dict:
    path = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(path.read_text())


def compose_file() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def with_defaults(text: str) -> str:
    """`text` as compose reads it with no .env: each ${VAR:-default} becomes its default."""
    return VARIABLE.sub(lambda match: match.group(2) or "", text)


def test_compose_file_is_valid_compose_spec():
    jsonschema.validate(compose_file(), compose_schema())


def test_schema_rejects_a_broken_compose_file():
    """Proves the check can fail: a service with an unknown key is refused."""
    document = compose_file()
    document["services"]["sink"]["not_a_compose_key"] = True
    try:
        jsonschema.validate(document, compose_schema())
    except jsonschema.ValidationError:
        return
    raise AssertionError("the schema accepted an unknown service key")


def test_the_sink_is_headless_curve_protected_and_on_the_host_loopback_by_default():
    sink = compose_file()["services"]["sink"]
    args = build_parser().parse_args(sink["command"])
    assert args.command == "sink" and not args.tui and not args.insecure
    assert args.curve_secret and args.curve_clients  # it binds beyond loopback inside the compose network
    assert str(args.log_dir) in {volume.split(":")[1] for volume in sink["volumes"] if volume.startswith("stratlog-logs:")}
    published = [with_defaults(port) for port in sink["ports"]]
    assert published and all(port.startswith("127.0.0.1:") for port in published)


def test_the_trainer_reserves_gpus_reaches_the_sink_with_its_key_and_never_waits_for_it():
    trainer = compose_file()["services"]["trainer"]
    reservation = trainer["deploy"]["resources"]["reservations"]["devices"][0]
    assert reservation["capabilities"] == ["gpu"]
    assert "depends_on" not in trainer
    assert trainer["entrypoint"] == ["torchrun"]
    assert "--strategic_sink_address=tcp://sink:5560" in trainer["command"]
    assert set(trainer["environment"]) == {"STRATLOG_SINK_KEY", "STRATLOG_CLIENT_KEY"}


def test_the_dashboard_attaches_to_the_sink_s_publisher_as_a_listed_viewer():
    services = compose_file()["services"]
    args = build_parser().parse_args(services["dashboard"]["command"])
    sink = build_parser().parse_args(services["sink"]["command"])
    assert args.command == "view" and args.address == "tcp://sink:" + sink.publish.rsplit(":", 1)[1]
    assert args.sink_key and args.client_key


def test_every_variable_of_the_compose_file_is_in_the_example_env_file():
    used = {match.group(1) for match in VARIABLE.finditer((ROOT / "docker-compose.yml").read_text())}
    example = {line.split("=", 1)[0] for line in (ROOT / "stratlog.env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert used and used <= example, used - example


def test_both_image_builds_install_from_the_lock():
    dockerfile = (ROOT / "Dockerfile").read_text()
    commands = " ".join(dockerfile.replace("\\\n", " ").splitlines())
    installs = re.findall(r"pip install ([^&]*?)(?=&&|\s+FROM|\s+COPY|\s+RUN|\s+ENTRYPOINT|$)", commands)
    assert len(installs) == 4, installs
    for install in map(str.strip, installs):
        hashed_lock = "--require-hashes" in install and "--no-deps" in install and "-r requirements/lock" in install
        project = install.split()[-1] == "." and "--no-deps" in install
        torch_of_the_lock = install.endswith('"torch==$TORCH_VERSION"')
        assert hashed_lock or project or torch_of_the_lock, install
    stages = set(re.findall(r"^FROM \S+ AS (\S+)", dockerfile, re.M))
    for service in ("sink", "trainer"):
        assert f"torch-{compose_file()['services'][service]['build']['args']['TORCH']}" in stages


def test_the_cuda_build_swaps_only_torch_out_of_the_lock():
    """Runs the Dockerfile's own awk and sed on the lock: the CUDA build gets the lock's torch
    version and every other pinned, hashed requirement unchanged."""
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    awk_program = re.search(r"awk '([^']*)'", dockerfile).group(1)
    sed_program = re.search(r"sed -n '([^']*)'", dockerfile).group(1)
    lock_path = ROOT / "requirements/lock.txt"
    lock = lock_path.read_text()
    without = subprocess.run(["awk", awk_program, str(lock_path)], capture_output=True, text=True, check=True).stdout
    version = subprocess.run(["sed", "-n", sed_program, str(lock_path)], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == re.search(r"^torch==([\d.]+)\+cpu", lock, re.M).group(1)
    requirement = re.compile(r"^([A-Za-z0-9_.-]+)==.*$", re.M)
    assert set(requirement.findall(lock)) - set(requirement.findall(without)) == {"torch"}
    torch_entry = re.search(r"^torch==.*?(?=^\S)", lock, re.M | re.S).group(0)
    assert without.count("--hash=") == lock.count("--hash=") - torch_entry.count("--hash=")
    assert without.count("\n") == lock.count("\n") - torch_entry.count("\n")
