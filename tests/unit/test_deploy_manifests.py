"""The Kubernetes recipe (deploy/, docs/distributed.md), checked offline.

Nothing here reaches a cluster: every manifest is validated against the Kubernetes API's own
schemas (kubernetes-validate bundles them, strict: an unknown or misspelt field is refused), and
the names the manifests pass to one another are checked to agree, each against the real thing:
the options against Locust's parser with our plugin's options, the profile against our loader,
the final-report wait against the plugin's constant, the image against pyproject's Locust pin.
A cluster would find each of these mistakes only at run time, most of them silently.
"""

from __future__ import annotations

import copy
import re
import runpy
import tomllib
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from locust.argument_parser import get_parser
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from locust_mlstress import MLUser
from locust_mlstress.plugin import register
from locust_mlstress.plugin.distributed import FINAL_REPORT_WAIT_S
from locust_mlstress.profile import load_profile
from locust_mlstress.profile.gate_expression import parse_gates

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MANIFESTS = DEPLOY / "kubernetes"
DOC = ROOT / "docs" / "distributed.md"
# The oldest Kubernetes minor the recipe claims, whose schemas it is held to: a field added to the
# API after it fails here, and later minors add fields rather than remove them.
KUBERNETES_VERSION = "1.33"
OUTPUT_OPTIONS = ("ml_json", "ml_html", "ml_junit", "ml_artifacts")
CREDENTIAL = re.compile(r"token|passw|secret|api[-_]?key|credential|auth|cookie", re.IGNORECASE)
SECRET_VALUE = "Bearer not-a-real-token"


def _manifests() -> Iterator[tuple[str, dict]]:
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield str(path.relative_to(MANIFESTS)), doc


DOCS = list(_manifests())


def _one(kind: str, component: str | None = None) -> dict:
    found = [
        d
        for _, d in DOCS
        if d["kind"] == kind
        and (component is None or d["metadata"]["labels"]["app.kubernetes.io/component"] == component)
    ]
    assert len(found) == 1, f"expected one {kind} {component or ''}, found {len(found)}"
    return found[0]


def _pod(component: str) -> dict:
    """The pod template of the master (a Job, or a Deployment) or of the workers."""
    found = [
        d["spec"]["template"]
        for _, d in DOCS
        if d["kind"] in ("Job", "Deployment")
        and d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    assert len(found) == 1, f"expected one {component} pod template, found {len(found)}"
    return found[0]


def _container(component: str) -> dict:
    (container,) = _pod(component)["spec"]["containers"]
    return container


def _containers_of(doc: dict) -> list[dict]:
    """A manifest's containers: a bare pod's, a controller's template's, or none."""
    spec = doc.get("spec", {})
    return spec.get("template", {}).get("spec", spec).get("containers", [])


def _parse(args: list[str]):
    """Arguments as Locust parses them with our plugin's options (no config file read)."""
    register()
    parser = get_parser(default_config_files=[])
    known = {s for action in parser._actions for s in action.option_strings}
    flags = [a.split("=", 1)[0] for a in args if a.startswith("-")]
    assert not (unknown := [f for f in flags if f not in known]), f"not options of locust + locust-mlstress: {unknown}"
    options, extra = parser.parse_known_args(args)
    assert extra == [], f"arguments Locust would not take: {extra}"
    return options


def _secret_env(container: dict) -> dict[str, tuple[str, str]]:
    """The container's variables taken from a Secret: name -> (secret, key)."""
    return {
        e["name"]: (ref["name"], ref["key"])
        for e in container.get("env", [])
        if (ref := e.get("valueFrom", {}).get("secretKeyRef"))
    }


def _configmap_files(tmp_path: Path) -> Path:
    """The ConfigMap's files laid out as the kubelet mounts them: each name a symlink through
    `..data` into a timestamped folder."""
    data = _one("ConfigMap")["data"]
    stamp = tmp_path / "..2026_01_01_00_00_00.000000000"
    stamp.mkdir()
    (tmp_path / "..data").symlink_to(stamp.name)
    for key, text in data.items():
        (stamp / key).write_text(text)
        (tmp_path / key).symlink_to(f"..data/{key}")
    return tmp_path


@pytest.mark.parametrize(("path", "doc"), DOCS, ids=[f"{p}:{d['kind']}/{d['metadata']['name']}" for p, d in DOCS])
def test_every_manifest_validates_strictly(path, doc):
    assert kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION


def test_the_validator_refuses_an_unknown_field_deep_in_a_pod():
    job = copy.deepcopy(_one("Job"))
    job["spec"]["template"]["spec"]["containers"][0]["resource"] = {}  # `resources` misspelt
    with pytest.raises(kubernetes_validate.ValidationError, match="'resource' was unexpected"):
        kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_lists_every_manifest_beside_it():
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    beside = sorted(p.name for p in MANIFESTS.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == beside
    assert {"Job", "Deployment", "Service", "ConfigMap", "PersistentVolumeClaim"} <= {d["kind"] for _, d in DOCS}


def test_every_option_the_pods_pass_exists_and_means_a_master_and_its_workers():
    master = _parse(_container("master")["args"])
    worker = _parse(_container("worker")["args"])
    assert master.master and master.headless and not master.worker
    assert master.num_users > 0 and master.spawn_rate > 0 and master.run_time > 0
    assert worker.worker and not worker.master
    assert master.locustfile == worker.locustfile and master.ml_profile == worker.ml_profile
    assert parse_gates(master.ml_gate or []), "the Job's verdict needs at least one gate"
    assert master.ml_prometheus_host == "0.0.0.0"  # the default, 127.0.0.1, is unreachable from outside the pod


def test_every_variable_an_argument_names_is_defined():
    # Kubernetes expands $(NAME) in args from the container's env, and leaves an unknown one as is
    for component in ("master", "worker"):
        container = _container(component)
        named = {m for a in container["args"] for m in re.findall(r"\$\((\w+)\)", a)}
        assert named <= {e["name"] for e in container.get("env", [])}, component


def test_the_files_the_pods_read_are_keys_of_the_mounted_configmap():
    configmap = _one("ConfigMap")
    for component in ("master", "worker"):
        pod, container = _pod(component), _container(component)
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        files = set()
        for mount in container["volumeMounts"]:
            source = volumes[mount["name"]].get("configMap")
            if source is None:
                continue
            assert source["name"] == configmap["metadata"]["name"]
            assert mount.get("readOnly") is True
            for item in source["items"]:
                assert item["key"] in configmap["data"], f"{component} mounts a key the ConfigMap lacks: {item['key']}"
                files.add(f"{mount['mountPath']}/{item['path']}")
        options = _parse(container["args"])
        assert {options.locustfile, options.ml_profile} <= files, component


def test_the_service_selects_the_master_alone_and_the_workers_find_it():
    service = _one("Service")
    selector = service["spec"]["selector"].items()
    assert selector <= _pod("master")["metadata"]["labels"].items()
    assert not selector <= _pod("worker")["metadata"]["labels"].items()
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    master_ports = {p["name"]: p["containerPort"] for p in _container("master")["ports"]}
    assert {p["targetPort"] for p in ports.values()} <= master_ports.keys()
    master, worker = _parse(_container("master")["args"]), _parse(_container("worker")["args"])
    assert worker.master_host == service["metadata"]["name"]
    assert worker.master_port == ports["locust"]["port"]
    assert master.master_bind_port == master_ports[ports["locust"]["targetPort"]]


def test_the_prometheus_port_agrees_everywhere():
    service = _one("Service")
    port = _parse(_container("master")["args"]).ml_prometheus_port
    metrics = next(p for p in service["spec"]["ports"] if p["name"] == "metrics")
    container_ports = {p["name"]: p["containerPort"] for p in _container("master")["ports"]}
    annotations = service["metadata"]["annotations"]
    assert int(port) == metrics["port"] == container_ports[metrics["targetPort"]]
    assert annotations["prometheus.io/port"] == str(port) and annotations["prometheus.io/scrape"] == "true"
    assert _container("master")["readinessProbe"]["httpGet"]["port"] == metrics["targetPort"]


def test_the_master_expects_every_worker_and_each_worker_has_one_core():
    master = _parse(_container("master")["args"])
    assert master.expect_workers == _one("Deployment", "worker")["spec"]["replicas"]
    resources = _container("worker")["resources"]
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == "1"


def test_the_master_has_time_for_the_final_reports_and_the_job_for_the_whole_run():
    job, master = _one("Job"), _parse(_container("master")["args"])
    grace = _pod("master")["spec"]["terminationGracePeriodSeconds"]
    linger = float(master.ml_prometheus_linger)
    assert grace >= FINAL_REPORT_WAIT_S + linger + 10  # 10 s: writing the files
    wait = master.expect_workers_max_wait
    assert wait and job["spec"]["activeDeadlineSeconds"] >= wait + master.run_time + grace
    assert job["spec"]["backoffLimit"] == 0  # a rerun would be another run, not the same verdict


def test_the_reports_go_to_the_volume():
    pod, container = _pod("master"), _container("master")
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in pod["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    }
    mounts = [m["mountPath"] for m in container["volumeMounts"] if m["name"] in claims]
    assert set(claims.values()) == {_one("PersistentVolumeClaim")["metadata"]["name"]}
    options = _parse(container["args"])
    for name in OUTPUT_OPTIONS:
        path = getattr(options, name)
        assert path and any(path.startswith(m + "/") for m in mounts), f"--{name.replace('_', '-')} {path}"
    assert pod["spec"]["securityContext"]["fsGroup"] == pod["spec"]["securityContext"]["runAsUser"]


def test_the_profile_in_the_configmap_loads_with_its_secret_from_the_environment(tmp_path, monkeypatch):
    files = _configmap_files(tmp_path)
    provided = {}
    for component in ("master", "worker"):  # both load the profile, so both need its secrets
        provided[component] = _secret_env(_container(component))
        for name in provided[component]:
            monkeypatch.setenv(name, SECRET_VALUE)
    assert provided["master"] == provided["worker"]
    profile = load_profile(files / Path(_parse(_container("master")["args"]).ml_profile).name)
    headers = [*profile.target.headers, *(profile.challenger.headers if profile.challenger else ())]
    read = {h.env for h in headers if h.env}
    assert read, "the recipe shows a credential from a Secret: the profile should read one"
    assert read <= provided["master"].keys(), (
        f"read by the profile, not from a Secret: {read - provided['master'].keys()}"
    )
    for h in headers:
        if CREDENTIAL.search(h.name):
            assert h.env and h.secret, f"header {h.name} must come from a Secret: {{ env = ..., secret = true }}"
    model = runpy.run_path(str(files / Path(_parse(_container("master")["args"]).locustfile).name))
    assert any(isinstance(v, type) and issubclass(v, MLUser) and v is not MLUser for v in model.values())


def test_no_credential_in_a_configmap_an_env_value_or_the_docs_command():
    configmap = _one("ConfigMap")
    assert not [k for k in configmap["data"] if CREDENTIAL.search(k)]
    text = "\n".join(configmap["data"].values())
    assert not re.search(r"Bearer\s+[A-Za-z0-9._~+/-]{8,}", text)
    for component in ("master", "worker"):
        for env in _container(component).get("env", []):
            if CREDENTIAL.search(env["name"]) or env["name"] in _secret_env(_container(component)):
                assert "value" not in env and "secretKeyRef" in env["valueFrom"], env["name"]
    # the walk-through makes the Secret the pods read, by the same name and key
    doc = DOC.read_text()
    for secret, key in set(_secret_env(_container("master")).values()):
        assert f"kubectl create secret generic {secret}" in doc and f"--from-literal={key}=" in doc


def test_the_image_is_locusts_pinned_release_with_this_package_installed():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (pin,) = [d.removeprefix("locust") for d in project["dependencies"] if re.match(r"locust\s*[<>=!~]", d)]
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    froms = [line.split()[1] for line in lines if line.upper().startswith("FROM ")]
    assert froms and all(f.startswith("locustio/locust:") for f in froms), froms
    tags = {f.split(":", 1)[1] for f in froms}
    assert len(tags) == 1 and Version(tags.pop()) in SpecifierSet(pin), (froms, pin)
    copies = [line.split()[-2:] for line in lines if line.upper().startswith("COPY ")]
    (target,) = [dest for source, dest in copies if source == "."]
    assert any(re.search(rf'pip install --no-cache-dir "?{re.escape(target)}\b', line) for line in lines)
    assert not [line for line in lines if re.match(r"USER\s+(root|0)\b", line, re.IGNORECASE)]
    # the build context lets in what pip builds from
    ignore = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()[:1] not in ("", "#")
    ]
    assert ignore[0] == "*" and {"!pyproject.toml", f"!{project['readme']}", "!locust_mlstress/"} <= set(ignore)
    images = {c["image"] for _, d in DOCS for c in _containers_of(d)}
    assert images == {f"locust-mlstress:{project['version']}"}


def test_the_walkthrough_names_the_files_it_applies():
    doc = DOC.read_text()
    for path in MANIFESTS.rglob("*.yaml"):
        if path.name != "kustomization.yaml":
            assert path.relative_to(ROOT).as_posix() in doc, path.name
    assert (DEPLOY / "Dockerfile").relative_to(ROOT).as_posix() in doc
