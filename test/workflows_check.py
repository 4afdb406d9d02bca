#!/usr/bin/python3
"""Holds ferry's GitHub workflows and the app-repository template to what they promise (issue 9):
they parse as YAML, the release and app workflows have packages: write, push the promotable
`sha-` tag in a step of its own and any semver tag in a separate later step, and label the
image's source and revision (ferry's `newest` policy reads the revision). The CI workflow's
formatting step fails on an empty file list and trusts the checkout. Run by .ci/run; exits 1
naming every problem."""
import pathlib
import sys

import yaml

root = pathlib.Path(__file__).resolve().parent.parent
problems = []


def load(rel):
    path = root / rel
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        problems.append(f"{rel}: {e}")
        return None
    if not isinstance(doc, dict) or "jobs" not in doc:
        problems.append(f"{rel}: not a workflow (no jobs)")
        return None
    return doc


def steps(doc):
    for job in doc["jobs"].values():
        yield from job.get("steps", [])


def check_publisher(rel, doc):
    perms = doc.get("permissions") or {}
    if perms.get("packages") != "write":
        problems.append(f"{rel}: needs permissions packages: write")
    text = [yaml.safe_dump(s) for s in steps(doc)]
    pushes = [i for i, s in enumerate(steps(doc)) if "build-push-action" in str(s.get("uses", ""))]
    if len(pushes) != 1:
        problems.append(f"{rel}: expected exactly one build-and-push step, found {len(pushes)}")
        return
    push = list(steps(doc))[pushes[0]]
    tags = str(push.get("with", {}).get("tags", ""))
    if "sha_tag" not in tags or "\n" in tags.strip() or "," in tags:
        problems.append(f"{rel}: the build step must push only the sha-<commit> tag, got {tags!r}")
    labels = str(push.get("with", {}).get("labels", ""))
    for label in ("org.opencontainers.image.source", "org.opencontainers.image.revision"):
        if label not in labels:
            problems.append(f"{rel}: the image lacks the label {label}")
    semver = [i for i, t in enumerate(text) if "imagetools create" in t]
    if not semver or semver[0] <= pushes[0]:
        problems.append(f"{rel}: the semver tag must be pushed in a separate step after the sha tag")


release = load(".github/workflows/release.yml")
if release:
    check_publisher("release.yml", release)
    if "v*" not in str(release.get(True, release.get("on", {}))):
        problems.append("release.yml: not triggered by v* tags")
app = load(".github/workflows/app-publish.yml")
if app:
    check_publisher("app-publish.yml", app)
    if "workflow_call" not in str(app.get(True, app.get("on", {}))):
        problems.append("app-publish.yml: not reusable (no workflow_call)")
template = load("infra/app-workflow/publish.yml")
if template:
    check_publisher("infra/app-workflow/publish.yml", template)
ci = load(".github/workflows/ci.yml")
if ci:
    fmt = [s for s in steps(ci) if s.get("name") == "formatting"]
    run = fmt[0].get("run", "") if fmt else ""
    for needed in ("pipefail", "safe.directory", "[ -n \"$sources\" ]"):
        if needed not in run:
            problems.append(f"ci.yml: the formatting step lacks {needed}")
dockerfile = (root / "infra/Dockerfile").read_text()
for label in ("source", "revision", "version", "licenses"):
    if f"org.opencontainers.image.{label}=" not in dockerfile:
        problems.append(f"infra/Dockerfile: no org.opencontainers.image.{label} label")
if "USER 65532" not in dockerfile:
    problems.append("infra/Dockerfile: does not run as uid 65532")
if not (root / ".dockerignore").exists() or "build" not in (root / ".dockerignore").read_text():
    problems.append(".dockerignore: missing or does not exclude build output")

for p in problems:
    print(f"workflows_check: {p}", file=sys.stderr)
print(f"workflows_check: {'FAIL' if problems else 'ok'} ({len(problems)} problems)")
sys.exit(1 if problems else 0)
