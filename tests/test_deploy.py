"""The production shape in temporal-docker/ holds together.

No Docker engine runs where these tests do, so everything is checked by reading the files as
Docker would: the compose file against the Compose Specification's JSON Schema (shipped inside
check-jsonschema), its `${VARIABLES}` against .env.example and core.config.Settings, the
Dockerfiles with dockerfile-parse, and the routes of nginx.conf.
"""

import json
import re
import secrets
import subprocess
import tomllib
from collections.abc import Mapping
from importlib.resources import files
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from api.routes import codec
from core import migrate
from core.config import Settings

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "temporal-docker"
COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"

SERVICES = {"temporal", "temporal-ui", "postgresql", "redis", "api", "worker", "frontend"}
FLOWPILOT_PROCESSES = ("api", "worker", "migrate")
SECRETS = {
    "FLOWPILOT_SECRET_KEY",
    "POSTGRES_PASSWORD",
    "TEMPORAL_DB_PASSWORD",
    "FLOWPILOT_DB_PASSWORD",
}

# Keys of .env.example that are not Flowpilot settings: the compose file reads them itself.
COMPOSE_VARIABLES = {
    "POSTGRES_PASSWORD": "the postgres image's superuser password",
    "TEMPORAL_DB_PASSWORD": "the temporal role's password (init script, Temporal, schema job)",
    "FLOWPILOT_DB_PASSWORD": "the flowpilot role's password (init script, DATABASE_URL)",
    "FLOWPILOT_BIND_ADDRESS": "host address the web app is published on",
    "FLOWPILOT_PUBLISHED_PORT": "host port of the web app",
    "TEMPORAL_UI_BIND_ADDRESS": "host address the Temporal Web UI is published on",
    "TEMPORAL_UI_PUBLISHED_PORT": "host port of the Temporal Web UI",
    "TEMPORAL_UI_CSRF_COOKIE_INSECURE": "the temporalio/ui image's TEMPORAL_CSRF_COOKIE_INSECURE",
    "POSTGRES_MAX_CONNECTIONS": "PostgreSQL's max_connections",
    "TEMPORAL_NUM_HISTORY_SHARDS": "the temporalio/server image's NUM_HISTORY_SHARDS",
    "TEMPORAL_RETENTION": "retention of the namespace the setup job creates",
    "TEMPORAL_LOG_LEVEL": "the temporalio/server image's LOG_LEVEL",
}
# Settings that .env.example does not offer, and why.
FIXED_BY_DEPLOYMENT = {
    "API_HOST": "0.0.0.0 in the container (compose file and image)",
    "API_PORT": "8000, where nginx and the health checks expect the API",
    "WORKER_METRICS_HOST": "0.0.0.0 in the container, so the network can scrape it",
    "DATA_DIR": "development only: the generated secret key and the SQLite file",
    "TEMPORAL_DB_FILE": "development only: the embedded dev server's state",
    "FRONTEND_DIR": "nginx serves the web app; the API image carries no build",
    "TEMPLATES_DIR": "the examples/ baked into the image",
    "GOOGLE_TOKEN_URL": "an override for tests and proxies, not for a deployment",
}
# Variables Flowpilot's containers get that are not settings.
THIRD_PARTY_PROCESS_VARIABLES = {
    "FORWARDED_ALLOW_IPS": "uvicorn: trust the X-Forwarded-For that nginx sets",
}
# Settings whose value in this deployment is not the Settings default, on purpose.
DEPLOYMENT_VALUES = {
    "environment",
    "flowpilot_secret_key",
    "public_url",
    "database_url",
    "redis_url",
    "temporal_address",
    "api_host",
    "worker_metrics_host",
}


# -- reading the files ---------------------------------------------------------------------


class MissingVariable(Exception):
    """A `${NAME:?message}` whose variable is unset or empty: compose refuses to start."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's variable interpolation: $$, $NAME, ${NAME} and ${NAME<op>word} (nested)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$":
            out.append(text[i])
            i += 1
        elif text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _closing_brace(text, i + 1)
            out.append(_substitute(text[i + 2 : end], env))
            i = end + 1
        elif match := _NAME.match(text, i + 1):
            out.append(env.get(match.group(), ""))
            i = match.end()
        else:
            out.append("$")
            i += 1
    return "".join(out)


def _closing_brace(text: str, opening: int) -> int:
    depth = 0
    for i in range(opening, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise ValueError(f"unclosed ${{ in {text!r}")


def _substitute(expression: str, env: Mapping[str, str]) -> str:
    match = _NAME.match(expression)
    assert match, f"not a variable: ${{{expression}}}"
    name, rest = match.group(), expression[match.end() :]
    value = env.get(name)
    if not rest:
        return value or ""
    operator = next(op for op in _OPERATORS if rest.startswith(op))
    word = rest[len(operator) :]
    is_set = bool(value) if operator.startswith(":") else value is not None
    if operator.endswith("-"):
        return (value or "") if is_set else interpolate(word, env)
    if operator.endswith("?"):
        if not is_set:
            raise MissingVariable(name, interpolate(word, env))
        return value or ""
    return interpolate(word, env) if is_set else ""


def resolved(node: Any, env: Mapping[str, str]) -> Any:
    """The compose file as Docker sees it once every value is interpolated."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: resolved(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [resolved(value, env) for value in node]
    return node


def variables_in(text: str) -> set[str]:
    """Every variable a compose text reads, including those inside defaults."""
    names = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    return names | set(re.findall(r"(?<!\$)\$([A-Za-z_][A-Za-z0-9_]*)", text))


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines, as `docker compose` reads .env (comments and blank lines skipped)."""
    env: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, equals, value = line.partition("=")
        assert equals and _NAME.fullmatch(key), f"{path.name}:{number} is not KEY=value: {line!r}"
        assert key not in env, f"{path.name}:{number}: {key} is set twice"
        env[key] = value
    return env


class _StrictLoader(yaml.SafeLoader):
    """YAML as Docker Compose reads it: a key twice in one mapping is an error, not a silent
    override (merge keys, `<<: *anchor`, may still be overridden)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [key.value for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge"]
        duplicates = {key for key in keys if keys.count(key) > 1}
        if duplicates:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate keys {sorted(duplicates)}", node.start_mark
            )
        return super().construct_mapping(node, deep=deep)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(COMPOSE.read_text(), Loader=_StrictLoader)
    return loaded


def env_example() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


def filled_in_env() -> dict[str, str]:
    """.env.example with its secrets generated, as the operator is told to do."""
    return env_example() | {name: secrets.token_urlsafe(32) for name in SECRETS}


def one_shots(services: Mapping[str, Any]) -> set[str]:
    """Jobs that run to completion: what others wait for with service_completed_successfully."""
    return {
        name
        for service in services.values()
        for name, dependency in (service.get("depends_on") or {}).items()
        if dependency.get("condition") == "service_completed_successfully"
    }


def settings_from(environment: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The Settings a process builds with exactly `environment`."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def dockerfile(name: str) -> list[list[dict[str, Any]]]:
    """The instructions of a Dockerfile in temporal-docker/, stage by stage."""
    parser = DockerfileParser(fileobj=BytesIO((DEPLOY / name).read_bytes()))
    stages: list[list[dict[str, Any]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if instruction["instruction"] != "COMMENT":
            assert stages, f"{name}: an instruction before the first FROM"
            stages[-1].append(instruction)
    return stages


def instructions(stage: list[dict[str, Any]], kind: str) -> list[str]:
    return [str(each["value"]) for each in stage if each["instruction"] == kind]


def copy_sources(stage: list[dict[str, Any]]) -> set[str]:
    """The build-context paths a stage COPYs (not those it copies from another stage)."""
    sources: set[str] = set()
    for value in instructions(stage, "COPY"):
        words = value.split()
        if any(word.startswith("--from=") for word in words):
            continue
        paths = [word for word in words if not word.startswith("--")]
        sources |= {path.rstrip("/") for path in paths[:-1]}
    return sources


def nginx_conf() -> str:
    return re.sub(r"#[^\n]*", "", (DEPLOY / "nginx.conf").read_text())


def nginx_locations() -> dict[str, str]:
    """`location [modifier] path` -> its body."""
    text = nginx_conf()
    blocks: dict[str, str] = {}
    for match in re.finditer(r"location\s+(?:(=|~\*?|\^~)\s+)?(\S+)\s*\{", text):
        end = _closing_brace(text, match.end() - 1)
        blocks[" ".join(filter(None, match.groups()))] = text[match.end() : end]
    return blocks


def routed(path: str, locations: Mapping[str, str]) -> str:
    """The location nginx picks for `path`: exact, then regex, then the longest prefix."""
    if f"= {path}" in locations:
        return locations[f"= {path}"]
    for key, body in locations.items():
        if key.startswith("~ ") and re.search(key[2:], path):
            return body
    prefixes = [key for key in locations if " " not in key and path.startswith(key)]
    return locations[max(prefixes, key=len)]


def directive(body: str, name: str) -> list[str]:
    return re.findall(rf"(?:^|[;{{}}\s]){name}\s+([^;]+);", body)


# -- the compose file ----------------------------------------------------------------------


def test_compose_file_validates_against_the_compose_specification() -> None:
    spec = files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    schema = json.loads(spec.read_text())
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    for document in (compose(), resolved(compose(), filled_in_env())):
        errors = sorted(validator(schema).iter_errors(document), key=str)
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_every_service_of_the_deployment_is_defined_and_scaled_out() -> None:
    services = compose()["services"]
    assert SERVICES <= services.keys()
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["api"]["command"] == ["python", "-m", "cli", "api"]
    assert services["worker"]["command"] == ["python", "-m", "worker"]


def test_images_are_pinned_to_versions() -> None:
    for name, service in compose()["services"].items():
        if "build" in service:
            continue
        image = service["image"]
        _, _, tag = image.rpartition(":")
        assert re.search(r"\d+\.\d+", tag) and "latest" not in tag, f"{name}: {image}"


def test_long_running_services_have_health_checks_and_restart_policies() -> None:
    services = compose()["services"]
    jobs = one_shots(services)
    assert {"temporal-schema", "temporal-namespace", "migrate"} <= jobs
    for name, service in services.items():
        if name in jobs:
            assert service.get("restart") == "no", f"{name} would run again once finished"
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert service.get("restart") in {"always", "unless-stopped", "on-failure"}, name


def test_dependencies_wait_until_ready_or_done() -> None:
    services = compose()["services"]
    jobs = one_shots(services)
    for name, service in services.items():
        for target, dependency in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on a missing {target}"
            expected = "service_completed_successfully" if target in jobs else "service_healthy"
            assert dependency.get("condition") == expected, f"{name} -> {target}"
    for process in ("api", "worker"):
        assert {"migrate", "temporal-namespace"} <= services[process]["depends_on"].keys()
    assert "temporal-schema" in services["temporal"]["depends_on"]
    assert "api" in services["frontend"]["depends_on"]


def test_only_the_web_app_and_the_temporal_ui_are_published() -> None:
    services = resolved(compose(), filled_in_env())["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"frontend", "temporal-ui"}
    assert services["frontend"]["ports"] == ["0.0.0.0:8080:8080"]
    assert services["temporal-ui"]["ports"] == ["127.0.0.1:8233:8080"]
    raw = compose()["services"]
    assert all("${" in port for name in published for port in raw[name]["ports"])


def test_volumes_are_named_and_mounted_files_exist() -> None:
    document = compose()
    declared = document.get("volumes") or {}
    for name, service in document["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), f"{name} mounts a missing {source}"
            else:
                assert source in declared, f"{name} uses an undeclared volume {source}"
    assert "postgres-data:/var/lib/postgresql/data" in document["services"]["postgresql"]["volumes"]


def test_temporal_runs_on_postgresql_with_its_schema_and_dynamic_config() -> None:
    services = compose()["services"]
    temporal = services["temporal"]["environment"]
    assert temporal["DB"] == "postgres12"
    assert temporal["POSTGRES_SEEDS"] == "postgresql"
    assert (temporal["DBNAME"], temporal["VISIBILITY_DBNAME"]) == (
        "temporal",
        "temporal_visibility",
    )
    assert "SQL_PLUGIN=postgres12" in (DEPLOY / "temporal" / "setup-schema.sh").read_text()
    # The init script creates what Temporal and Flowpilot connect to.
    init = (DEPLOY / "postgres" / "init-databases.sh").read_text()
    for database in ("temporal", "temporal_visibility"):
        assert f"CREATE DATABASE {database} OWNER {temporal['POSTGRES_USER']};" in init
    assert "CREATE DATABASE flowpilot OWNER flowpilot;" in init
    assert "@postgresql:5432/flowpilot}" in services["api"]["environment"]["DATABASE_URL"]
    # The dynamic config file the server is pointed at is the one mounted from this directory.
    mounted = dict(reversed(volume.split(":")[:2]) for volume in services["temporal"]["volumes"])
    path = PurePosixPath(temporal["DYNAMIC_CONFIG_FILE_PATH"])
    source = DEPLOY / mounted[str(path.parent)] / path.name
    config = yaml.safe_load(source.read_text())
    assert config and all(
        isinstance(values, list) and all("value" in value for value in values)
        for values in config.values()
    )


def test_the_temporal_ui_decodes_payloads_through_flowpilots_codec() -> None:
    env = filled_in_env()
    ui = resolved(compose(), env)["services"]["temporal-ui"]["environment"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == env["PUBLIC_URL"] + codec.PREFIX
    # The UI has no Flowpilot token: it is the codec cookie of signing in that opens payloads.
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    assert ui["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert ui["TEMPORAL_CORS_ORIGINS"] == env["TEMPORAL_UI_URL"]


def test_setup_scripts_are_valid_executable_shell() -> None:
    scripts = sorted(DEPLOY.rglob("*.sh"))
    assert len(scripts) >= 3
    for script in scripts:
        subprocess.run(["sh", "-n", str(script)], check=True)
        # The postgres image sources, rather than runs, an init script that is not executable.
        assert script.stat().st_mode & 0o111, f"{script.name} is not executable"


def test_stop_grace_periods_outlast_the_shutdown_grace_settings() -> None:
    services = compose()["services"]
    env = env_example()
    for service, setting in (
        ("api", "API_SHUTDOWN_GRACE_SECONDS"),
        ("worker", "WORKER_SHUTDOWN_GRACE_SECONDS"),
    ):
        period = services[service]["stop_grace_period"]
        assert period.endswith("s"), period
        assert float(period[:-1]) > float(env[setting]), f"{service}: {period}"


# -- variables: compose file, .env.example and Settings --------------------------------------


def test_every_compose_variable_is_defined_in_env_example() -> None:
    missing = variables_in(COMPOSE.read_text()) - env_example().keys()
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_env_example_sets_only_settings_and_named_compose_variables() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    assert not fields & COMPOSE_VARIABLES.keys()
    unknown = env_example().keys() - fields - COMPOSE_VARIABLES.keys()
    assert not unknown, f"neither a Settings field nor a compose variable: {sorted(unknown)}"


def test_every_setting_is_offered_in_env_example_or_fixed_by_the_deployment() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    assert FIXED_BY_DEPLOYMENT.keys() <= fields
    missing = fields - env_example().keys() - FIXED_BY_DEPLOYMENT.keys()
    assert not missing, (
        f"new settings {sorted(missing)}: add them to temporal-docker/.env.example and to "
        "x-flowpilot-environment in docker-compose.yml (or to FIXED_BY_DEPLOYMENT, with why)"
    )


def test_flowpilot_processes_get_every_offered_setting_and_nothing_unknown() -> None:
    services = compose()["services"]
    fields = {name.upper() for name in Settings.model_fields}
    offered = env_example().keys() & fields
    for process in FLOWPILOT_PROCESSES:
        environment = services[process]["environment"]
        unknown = environment.keys() - fields - THIRD_PARTY_PROCESS_VARIABLES.keys()
        assert not unknown, f"{process} gets variables no setting reads: {sorted(unknown)}"
        assert offered <= environment.keys(), f"{process} ignores {offered - environment.keys()}"


def test_compose_refuses_to_start_until_the_secrets_are_filled_in() -> None:
    env = env_example()
    assert all(env[name] == "" for name in SECRETS), "no secret may ship with a value"
    missing: set[str] = set()
    for name in SECRETS:
        # Each secret in turn is the only one left empty.
        try:
            resolved(compose(), filled_in_env() | {name: ""})
        except MissingVariable as error:
            missing.add(error.name)
    assert missing == SECRETS


def test_env_example_filled_in_gives_each_process_production_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = filled_in_env()
    services = resolved(compose(), env)["services"]
    for process in FLOWPILOT_PROCESSES:
        settings = settings_from(services[process]["environment"], monkeypatch)
        assert settings.environment == "production"
        assert settings.flowpilot_secret_key is not None
        assert settings.flowpilot_secret_key.get_secret_value() == env["FLOWPILOT_SECRET_KEY"]
        assert settings.payload_encryption is True
        assert settings.log_format == "json"
        assert settings.database_url == (
            f"postgresql+asyncpg://flowpilot:{env['FLOWPILOT_DB_PASSWORD']}"
            "@postgresql:5432/flowpilot"
        )
        assert settings.redis_url == "redis://redis:6379/0"
        assert settings.temporal_address == "temporal:7233"
        assert (settings.api_host, settings.api_port) == ("0.0.0.0", 8000)
        assert settings.openai_api_key is None or not settings.openai_api_key.get_secret_value()


def test_an_empty_optional_setting_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """What makes `${OPENAI_API_KEY:-}` in the compose file, or `KEY=` in .env, safe."""
    empty = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "REDIS_URL": "", "LOG_FORMAT": ""}
    settings = settings_from(empty, monkeypatch)
    assert (settings.openai_api_key, settings.openai_base_url, settings.redis_url) == (None,) * 3
    assert settings.log_format is None
    with pytest.raises(ValueError, match="FLOWPILOT_SECRET_KEY must be set"):
        settings_from({"ENVIRONMENT": "production", "FLOWPILOT_SECRET_KEY": ""}, monkeypatch)


def test_compose_fallbacks_are_the_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a .env that has only the required lines (an older .env), every other setting is
    the one Settings would choose by itself."""
    required = {name: "x" for name in SECRETS} | {"PUBLIC_URL": "https://flowpilot.example"}
    environment = resolved(compose(), required)["services"]["api"]["environment"]
    deployed = settings_from(environment, monkeypatch)
    defaults = settings_from({}, monkeypatch)
    differing = {
        name
        for name in Settings.model_fields
        if name not in DEPLOYMENT_VALUES and getattr(deployed, name) != getattr(defaults, name)
    }
    assert not differing, f"compose fallbacks differ from Settings: {sorted(differing)}"


# -- the images ----------------------------------------------------------------------------


def _final_user(stages: list[list[dict[str, Any]]]) -> str:
    users = instructions(stages[-1], "USER")
    assert users, "the final stage sets no USER"
    last_user = max(i for i, each in enumerate(stages[-1]) if each["instruction"] == "USER")
    assert all(each["instruction"] != "RUN" for each in stages[-1][last_user:]), "RUN after USER"
    return users[-1]


@pytest.mark.parametrize("name", ["Dockerfile", "frontend.Dockerfile"])
def test_images_are_multi_stage_pinned_and_run_as_a_numeric_non_root_user(name: str) -> None:
    stages = dockerfile(name)
    assert len(stages) >= 2, f"{name} is not multi-stage"
    for stage in stages:
        image = instructions(stage, "FROM")[0].split()[0]
        assert re.search(r":\S*\d+\.\d+", image) and "latest" not in image, image
        for value in instructions(stage, "ADD"):
            assert not re.search(r"https?://", value), f"{name}: ADD from the network"
    user = _final_user(stages)
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"{name} ends as user {user!r}"


def test_app_image_copies_every_package_and_the_migrations() -> None:
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    modules = {f"{name}.py" for name in setuptools["py-modules"]}
    packages = {pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]}
    migrations = migrate.MIGRATIONS.relative_to(REPO).as_posix()
    templates = Settings.model_fields["templates_dir"].default.relative_to(REPO).as_posix()
    needed = modules | packages | {migrations, templates}
    assert all((REPO / path).exists() for path in needed)

    runtime = dockerfile("Dockerfile")[-1]
    copied = copy_sources(runtime)
    for path in needed:
        assert any(path == source or path.startswith(f"{source}/") for source in copied), (
            f"the runtime stage does not copy {path}"
        )
    assert any(
        "--from=" in value and "/opt/venv" in value for value in instructions(runtime, "COPY")
    ), "the runtime stage does not take the builder's virtual environment"
    assert not re.search(r"apt-get|build-essential|gcc", " ".join(instructions(runtime, "RUN")))
    environment = " ".join(instructions(runtime, "ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in environment and "PYTHONUNBUFFERED=1" in environment
    assert instructions(runtime, "HEALTHCHECK") and instructions(runtime, "EXPOSE") == ["8000"]
    assert json.loads(instructions(runtime, "CMD")[-1]) == ["python", "-m", "cli", "api"]

    ignored = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line]
    patterns = [line for line in ignored if not line.startswith("#")]
    for path in needed:
        assert not any(_ignores(pattern, path) for pattern in patterns), f"{path} is ignored"
    for junk in (".venv", "frontend/node_modules", "frontend/dist", ".git", ".flowpilot"):
        assert any(_ignores(pattern, junk) for pattern in patterns), f"{junk} is sent"
    assert any(_ignores(pattern, "frontend/test-results") for pattern in patterns)


def _ignores(pattern: str, path: str) -> bool:
    """Whether a .dockerignore pattern excludes `path` or a directory above it."""
    regex = re.escape(pattern.strip("/")).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
    parts = path.split("/")
    return any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1))


def test_web_image_builds_the_app_and_serves_it_with_nginx() -> None:
    build, *_, serve = dockerfile("frontend.Dockerfile")
    assert instructions(build, "FROM")[0].startswith("node:20.")
    commands = " ".join(instructions(build, "RUN"))
    assert "npm ci" in commands and "npm run build" in commands
    assert instructions(serve, "FROM")[0].startswith("nginxinc/nginx-unprivileged:")
    copies = instructions(serve, "COPY")
    assert "temporal-docker/nginx.conf /etc/nginx/conf.d/default.conf" in copies
    assert any(value.startswith("--from=build ") and "dist" in value for value in copies)


# -- the proxy -------------------------------------------------------------------------------


def test_nginx_serves_the_app_with_a_fallback_and_proxies_the_api() -> None:
    locations = nginx_locations()
    assert "/index.html" in directive(routed("/runs/123", locations), "try_files")[0]
    assert directive(routed("/", locations), "expires") == ["-1"]
    assert directive(routed("/assets/index-abc.js", locations), "expires") == ["1y"]
    for path in ("/api/workflows", "/healthz", "/readyz", "/docs", "/openapi.json"):
        assert directive(routed(path, locations), "proxy_pass") == ["http://flowpilot_api"], path
    upstream = re.search(r"upstream flowpilot_api\s*\{([^}]*)\}", nginx_conf())
    assert upstream and "server api:8000" in upstream.group(1)


def test_nginx_streams_run_events_without_buffering() -> None:
    events = routed("/api/runs/0b5e/events", nginx_locations())
    assert directive(events, "proxy_pass") == ["http://flowpilot_api"]
    assert directive(events, "proxy_buffering") == ["off"]
    assert directive(events, "proxy_read_timeout") == ["1h"]


def test_nginx_security_headers_allow_only_the_apps_own_resources() -> None:
    conf = nginx_conf()
    server = conf[conf.index("server {") : conf.index("location")]
    headers = dict(re.findall(r'add_header\s+(\S+)\s+"([^"]*)"\s+always;', server))
    policy = headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Referrer-Policy" in headers
    # The policy admits the app: index.html has no inline script or style.
    page = (REPO / "frontend" / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", page)
    assert "<style" not in page and " style=" not in page
