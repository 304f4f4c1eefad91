"""The container recipes under deploy/docker/ (issue 30): the app image and the Ray image install
exactly requirements.txt (the same pins as the app server; any version a recipe names is the pinned
one), run as a non-root user, download nothing but the base image and the packages, and the
Kubernetes manifests name images built from them (the pod template's `netlens/built-from`
annotation names the recipe, and the image's name is the recipe's title label)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import manifests, pod_templates

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "deploy" / "docker"
RECIPES = {"app": DOCKER / "app.Dockerfile", "ray": DOCKER / "ray.Dockerfile"}


def pins() -> dict[str, str]:
    """requirements.txt as {normalised name: version} (extras dropped: ray[default] -> ray)."""
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(3)
    return out


def instructions(path: Path) -> list[tuple[str, str]]:
    """The recipe's (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(
        r"\\\n", " ", "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
    )
    return [(m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"^\s*([A-Za-z]+)\s+(.*)$", text, flags=re.M)]


def title(path: Path) -> str:
    m = re.search(r'org\.opencontainers\.image\.title="([^"]+)"', path.read_text())
    assert m, f"{path.name} has no org.opencontainers.image.title label"
    return m.group(1)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_a_recipe_installs_exactly_the_pinned_requirements_as_non_root(name):
    path, want = RECIPES[name], pins()
    steps = instructions(path)
    runs = " && ".join(arg for op, arg in steps if op == "RUN")
    assert re.search(r"pip install --no-cache-dir -r \S*requirements\.txt", runs), runs
    assert any(op == "COPY" and "requirements.txt" in arg.split()[-2] for op, arg in steps), steps
    # Any version the recipe names itself (pip install x==v, the base image's Ray or Python) is the pin.
    for pkg, version in re.findall(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([0-9][^\s\"']*)", runs):
        assert want.get(re.sub(r"[-_.]+", "-", pkg).lower()) == version, (name, pkg, version)
    (base,) = [arg for op, arg in steps if op == "FROM"]
    if name == "ray":
        assert re.fullmatch(rf"rayproject/ray:{re.escape(want['ray'])}-py311(-gpu|-cpu)?", base), base
    else:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base  # pinned to a patch release
    assert not re.search(r"\b(curl|wget|git clone)\b|ADD\s+https?://", path.read_text()), "downloads beyond registries"
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users  # the last USER: not root


def test_the_manifests_run_images_built_from_the_recipes():
    titles = {title(p): p.relative_to(ROOT).as_posix() for p in RECIPES.values()}
    assert set(titles) == {"netlens-app", "netlens-ray"}
    used = set()
    for name, template in pod_templates(manifests()):
        recipe = template.get("metadata", {}).get("annotations", {}).get("netlens/built-from")
        assert recipe and (ROOT / recipe).is_file(), f"{name}: no netlens/built-from annotation naming a recipe"
        for c in template["spec"]["containers"]:
            repo, _, tag = c["image"].rpartition(":")
            assert tag and tag != "latest", f"{name}: {c['image']} should name a version, not latest"
            assert titles.get(repo.rsplit("/", 1)[-1]) == recipe, (name, c["image"], recipe)
            used.add(recipe)
    assert used == set(titles.values())  # both images are used
    ray_images = {
        c["image"] for n, t in pod_templates(manifests()) if "netlens-ray" in n for c in t["spec"]["containers"]
    }
    assert all(i.endswith(":" + pins()["ray"]) for i in ray_images), ray_images  # tagged with the pinned Ray


def test_the_readme_says_how_to_build_and_push_them():
    readme = (ROOT / "README.md").read_text()
    for path in RECIPES.values():
        assert f"docker build -f {path.relative_to(ROOT).as_posix()}" in readme
    assert "docker push" in readme
