"""The deployment samples under deploy/ (README, "More than one machine"): the nginx front end and the
Kubernetes manifests.

- deploy/nginx/netlens.conf passes `nginx -t` with a self-signed certificate made here (openssl);
  its upload limit is not below Streamlit's.
- A REAL nginx with that file (rendered for 127.0.0.1 and test ports: the upstream servers, the two
  listen addresses, the certificate paths and the log path changed, nothing else) answers plain HTTP
  with a redirect to HTTPS and serves HTTPS with the certificate (verified, not ignored); in front of
  two REAL app servers (the single-machine back end, no warm-up): sessions through nginx over HTTPS
  and WSS render Home, upload a photo larger than nginx's default 1 MB limit and see it convolved
  (Streamlit refuses an upload for a session it does not hold, so that proves the upload reached the
  session's server), and nginx's log shows every request of a browser answered by one server.
- deploy/kubernetes/*.yaml parse, and their key fields agree (the token Secret on every Ray container
  and the app, the same ReadWriteMany claim mounted at NETLENS_STORE in the Ray pods and the app, the
  app pointed at the head's service, a GPU worker group); they fail closed (every Secret required, the
  store's key a mounted file in the app and every Ray pod, every pod non-root with no capabilities and
  a read-only root file system, the app reaching only the head's Jobs API port).

Needs nginx (Debian: apt-get install -y nginx) and the openssl command. Without it the nginx tests skip with the
reason; with
NETLENS_REQUIRE_NGINX=1 (as in CI, .ci/run) a missing nginx is a failure instead.
"""
from __future__ import annotations

import asyncio
import re
import ssl
import subprocess
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import (
    NGINX_CONF,
    ROOT,
    Nginx,
    manifests,
    nginx_binary,
    nginx_cmd,
    pod_templates,
    render,
    run_in_own_loop,
    self_signed,
)


def test_the_nginx_sample_passes_nginx_t(tmp_path):
    nginx = nginx_binary()
    main = render(tmp_path, ["127.0.0.1:18501", "127.0.0.1:18502"], 18443, 18080, *self_signed(tmp_path))
    out = subprocess.run(nginx_cmd(nginx, main, "-t"), capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "syntax is ok" in out.stderr and "test is successful" in out.stderr, out.stderr


def test_the_nginx_upload_limit_is_not_below_streamlits():
    streamlit_mb = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    found = re.findall(r"^\s*client_max_body_size (\d+)m;", NGINX_CONF.read_text(), flags=re.M)
    assert found and all(streamlit_mb <= int(mb) <= streamlit_mb + 5 for mb in found), (found, streamlit_mb)


async def _through(base: str, n: int, photo: bytes) -> list:
    from tests.servers import Student

    students = [Student(base, i + 1) for i in range(n)]
    try:
        for s in students:  # one after the other: the checks are about where requests go, not load
            await s.home(60) and await s.convolution(photo, 60)
    finally:
        await asyncio.gather(*(s.close() for s in students), return_exceptions=True)
    return students


def test_plain_http_redirects_to_https_with_the_certificate(tmp_path):
    import http.client

    nginx = nginx_binary()
    from tests.servers import free_port

    front = Nginx(nginx, tmp_path, [f"127.0.0.1:{free_port()}"], wait_for_app=False)  # no app server: 502
    try:
        plain = http.client.HTTPConnection("127.0.0.1", front.http_port, timeout=10)
        plain.request("GET", "/train?x=1")
        r = plain.getresponse()
        assert r.status == 301 and r.getheader("Location") == "https://127.0.0.1/train?x=1", (r.status, r.getheaders())
        plain.close()
        secure = http.client.HTTPSConnection("127.0.0.1", front.port, timeout=10, context=front.tls)  # verified
        secure.request("GET", "/")
        r = secure.getresponse()
        assert r.status == 502  # nginx itself answered over TLS with our certificate; no app behind it
        assert "max-age=" in (r.getheader("Strict-Transport-Security") or "")
        assert "Secure" in (r.getheader("Set-Cookie") or ""), r.getheaders()
        secure.close()
        with pytest.raises(urllib.error.URLError) as refused:  # a client that does not trust it is refused
            urllib.request.urlopen(front.base, timeout=10, context=ssl.create_default_context())
        assert isinstance(refused.value.reason, ssl.SSLCertVerificationError), refused.value
    finally:
        front.stop()


@pytest.mark.slow  # two app servers and nginx: about 40 s; runs in CI
def test_sessions_through_nginx_stay_on_their_server(tmp_path, monkeypatch):
    pytest.importorskip("websockets")
    nginx = nginx_binary()
    from tests.servers import make_photo, start_servers

    photo = make_photo(3200, 2400)
    assert len(photo) > 1024 * 1024  # above nginx's default client_max_body_size (1 MB)
    servers = start_servers(2, tmp_path, {"NETLENS_RAY_ADDRESS": "", "NETLENS_WARM": "0", "NETLENS_WORKERS": "0"})
    front = None
    try:
        front = Nginx(nginx, tmp_path, [s.base.removeprefix("http://") for s in servers])
        monkeypatch.setenv("SSL_CERT_FILE", str(front.cert))  # the sessions' HTTPS and WSS trust it (verified)
        students = run_in_own_loop(lambda: _through(front.base, 4, photo))
    finally:
        if front is not None:
            front.stop()
        for s in servers:
            s.stop()
    for s in students:
        assert not s.errors and "conv_upload" in s.times, (s.index, s.errors, front.log.read_text()[-3000:])
    log = front.log.read_text()
    assert log.count("/_stcore/stream") >= 4 and log.count("/_stcore/upload_file/") >= 4, log[-3000:]
    # A browser's first request has no cookie yet (a key of its own, one line); then all of it carries one.
    browsers = {k: v for k, v in front.routes().items() if len(v) > 1}
    assert len(browsers) == 4, browsers
    assert all(len(set(v)) == 1 for v in browsers.values()), browsers  # each browser: one server for everything


# ---------------------------------------------------------------- Kubernetes (KubeRay) manifests


def env_of(container: dict) -> dict[str, object]:
    """A container's env: name -> value, or ('secret', name, key) for a secretKeyRef."""
    out = {}
    for e in container.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        out[e["name"]] = ("secret", ref["name"], ref["key"]) if ref else e.get("value")
    return out


def store_mounts(pod_spec: dict) -> set[tuple[str, str]]:
    """(claim name, mount path) of every PVC a pod template's containers mount."""
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod_spec.get("volumes", [])
              if "persistentVolumeClaim" in v}
    return {(claims[m["name"]], m["mountPath"]) for c in pod_spec["containers"] for m in c.get("volumeMounts", [])
            if m["name"] in claims}


def test_the_kubernetes_manifests_agree():
    docs = manifests()
    (ray,) = docs["RayCluster"]
    pin = re.search(r"^ray\[default\]==(\S+)$", (ROOT / "requirements.txt").read_text(), flags=re.M).group(1)
    assert ray["spec"]["rayVersion"] == pin
    pods = [ray["spec"]["headGroupSpec"]["template"]["spec"]]
    pods += [g["template"]["spec"] for g in ray["spec"]["workerGroupSpecs"]]
    assert any(
        c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu") for p in pods[1:] for c in p["containers"]
    )
    tokens = set()
    for pod in pods:  # token authentication on every Ray container
        for c in pod["containers"]:
            env = env_of(c)
            assert env.get("RAY_AUTH_MODE") == "token", c["name"]
            assert isinstance(env.get("RAY_AUTH_TOKEN"), tuple), c["name"]
            tokens.add(env["RAY_AUTH_TOKEN"])
    assert len(tokens) == 1
    ray_mounts = [store_mounts(p) for p in pods]
    assert all(m == ray_mounts[0] and len(m) == 1 for m in ray_mounts), ray_mounts
    ((claim, path),) = ray_mounts[0]

    (app,) = [d for d in docs["Deployment"] if d["metadata"]["name"] == "netlens-app"]
    app_pod = app["spec"]["template"]["spec"]
    env = env_of(app_pod["containers"][0])
    assert env["NETLENS_RAY_ADDRESS"] == f"http://{ray['metadata']['name']}-head-svc:8265"
    assert env["RAY_AUTH_MODE"] == "token" and env["NETLENS_RAY_TOKEN"] in tokens  # the same Secret
    assert env["NETLENS_STORE"] == path and store_mounts(app_pod) == {(claim, path)}  # the same volume, same path
    (pvc,) = [d for d in docs["PersistentVolumeClaim"] if d["metadata"]["name"] == claim]
    assert "ReadWriteMany" in pvc["spec"]["accessModes"]

    labels = app["spec"]["template"]["metadata"]["labels"]
    (svc,) = [d for d in docs["Service"] if d["spec"].get("selector") == labels]
    ingress = [d for d in docs.get("Ingress", []) if "cookie" in d["metadata"].get("annotations", {}).values()]
    assert svc["spec"].get("sessionAffinity") == "ClientIP" or ingress  # sticky one way or the other
    for ing in ingress:
        mb = int(ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"].rstrip("m"))
        assert mb >= tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
        backends = {p["backend"]["service"]["name"] for r in ing["spec"]["rules"] for p in r["http"]["paths"]}
        assert backends == {svc["metadata"]["name"]}

    check_network_policies(docs["NetworkPolicy"], labels, ray["metadata"]["name"])


def check_network_policies(policies: list[dict], app_labels: dict, cluster: str) -> None:
    """What may reach the Ray pods: the Ray pods themselves (any port), and the app pods the head's
    Jobs API port (8265, TCP) only. Every rule names its peers by pod labels (no open rule)."""
    ray_pods = {"ray.io/cluster": cluster}
    opened = []  # (pods the policy selects, peer labels, ports or None = all)
    for policy in policies:
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress"], policy["metadata"]["name"]
        selects = spec["podSelector"]["matchLabels"]
        assert ray_pods.items() <= selects.items(), selects  # only Ray pods are selected
        for rule in spec["ingress"]:
            assert rule.get("from"), f"{policy['metadata']['name']}: a rule without 'from' opens to everyone"
            for peer in rule["from"]:
                assert set(peer) == {"podSelector"}, peer
                ports = [(x.get("protocol", "TCP"), x["port"]) for x in rule["ports"]] if rule.get("ports") else None
                opened.append((selects, peer["podSelector"]["matchLabels"], ports))
    from_app = [(sel, ports) for sel, peer, ports in opened if peer == app_labels]
    assert from_app == [({**ray_pods, "ray.io/node-type": "head"}, [("TCP", 8265)])], from_app
    assert all(peer in (app_labels, ray_pods) for _, peer, _ in opened), opened
    assert any(sel == ray_pods and peer == ray_pods for sel, peer, _ in opened)  # the Ray pods among themselves


def test_the_kubernetes_manifests_fail_closed():
    docs = manifests()
    key_mounts = set()
    for name, template in pod_templates(docs):
        pod = template["spec"]
        sc = pod.get("securityContext", {})
        assert sc.get("runAsNonRoot") is True and sc.get("runAsUser", 0) != 0, name
        assert pod.get("automountServiceAccountToken") is False, name
        secret_volumes = {v["name"]: v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
        for c in pod["containers"]:
            csc = c.get("securityContext", {})
            assert csc.get("allowPrivilegeEscalation") is False, (name, c["name"])
            assert csc.get("readOnlyRootFilesystem") is True, (name, c["name"])
            assert csc.get("capabilities", {}).get("drop") == ["ALL"] and not csc["capabilities"].get("add"), name
            assert not csc.get("privileged") and csc.get("runAsUser", 1) != 0, name
            for e in c.get("env", []):  # a password or token Secret that is missing must stop the pod
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                assert ref is None or not ref.get("optional"), (name, e["name"])
                assert e["name"] != "NETLENS_STORE_KEY", f"{name}: the store's key belongs in a file, not in env"
            writable = {m["mountPath"] for m in c.get("volumeMounts", []) if not m.get("readOnly")}
            assert "/tmp" in writable, f"{name}: a read-only root file system needs a writable /tmp"
            env = env_of(c)
            mounts = {m["mountPath"]: secret_volumes[m["name"]] for m in c.get("volumeMounts", [])
                      if m["name"] in secret_volumes}
            key_file = env.get("NETLENS_STORE_KEY_FILE")
            assert isinstance(key_file, str), f"{name}: NETLENS_STORE_KEY_FILE not set"
            folder = str(Path(key_file).parent)
            assert folder in mounts, f"{name}: {key_file} is not in a mounted Secret"
            assert all(m.get("readOnly") for m in c["volumeMounts"] if m["mountPath"] == folder)
            key_mounts.add((key_file, mounts[folder]))
        for v in pod.get("volumes", []):
            assert not v.get("secret", {}).get("optional"), (name, v["name"])
    assert len(key_mounts) == 1, key_mounts  # one key, at one path, in the app and every Ray pod
