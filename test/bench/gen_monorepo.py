#!/usr/bin/env python3
"""Generate an infra monorepo for the marker benchmark.

10,000 YAML files, about 50 MB, 2,000 Flux setter markers: 1,000 Deployments with a
whole-reference marker and 500 kustomization.yaml files with a :name and a :tag marker, the
rest unmarked manifests (Services, ConfigMaps with bulky data, CRD-sized documents) as an
infra repository holds them. Markers name policies flux-system:app-0 .. app-499, so one
policy has four markers spread over the tree. Deterministic: the same tree every run.

usage: gen_monorepo.py DIR [--files N] [--megabytes M] [--markers K]
"""

import argparse
import os
import random

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: platform
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
    spec:
      serviceAccountName: {name}
      containers:
        - name: {name}
          image: ghcr.io/example/{policy}:v1.{minor}.0 # {{"$imagepolicy": "flux-system:{policy}"}}
          ports:
            - containerPort: 8080
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{memory: 256Mi}}
          readinessProbe:
            httpGet: {{path: /readyz, port: 8080}}
"""

KUSTOMIZATION = """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {ns}
resources:
  - deployment.yaml
  - service.yaml
images:
  - name: {policy}
    newName: ghcr.io/example/{policy} # {{"$imagepolicy": "flux-system:{policy}:name"}}
    newTag: v1.{minor}.0 # {{"$imagepolicy": "flux-system:{policy}:tag"}}
"""

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {ns}
spec:
  selector:
    app.kubernetes.io/name: {name}
  ports:
    - port: 80
      targetPort: 8080
"""


def bulky(rng, name, ns, size):
    """A ConfigMap of about `size` bytes: the unmarked bulk of a real repository."""
    lines = [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        f"  name: {name}",
        f"  namespace: {ns}",
        "data:",
        "  config.yaml: |",
    ]
    total = sum(len(x) + 1 for x in lines)
    words = ["replicas", "timeout", "endpoint", "region", "retries", "feature", "cache", "ttl"]
    i = 0
    while total < size:
        line = f"    {rng.choice(words)}_{i}: value-{rng.randrange(1 << 30):08x} # setting {i}"
        lines.append(line)
        total += len(line) + 1
        i += 1
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--megabytes", type=float, default=50.0)
    ap.add_argument("--markers", type=int, default=2_000)
    args = ap.parse_args()
    rng = random.Random(20261123)

    clusters = ["dev", "staging", "production", "production-eu"]
    deployments = args.markers // 2  # one whole-reference marker each
    kustomizations = args.markers // 4  # a :name and a :tag marker each
    files = {}
    n = 0
    for i in range(deployments):
        cluster = clusters[i % len(clusters)]
        d = f"clusters/{cluster}/apps/app-{i}"
        ctx = dict(name=f"app-{i}", ns=f"team-{i % 40}", policy=f"app-{i % 500}", minor=i % 7)
        files[f"{d}/deployment.yaml"] = DEPLOYMENT.format(**ctx)
        files[f"{d}/service.yaml"] = SERVICE.format(**ctx)
        if i < kustomizations:
            files[f"{d}/kustomization.yaml"] = KUSTOMIZATION.format(**ctx)
        n = i
    fixed = sum(len(v) for v in files.values())
    rest = args.files - len(files)
    budget = int(args.megabytes * 1_000_000) - fixed
    if rest <= 0 or budget <= 0:
        raise SystemExit("too few files or megabytes for the markers asked for")
    mean = budget / rest
    sizes = [max(200, int(rng.expovariate(1 / mean))) for _ in range(rest)]
    scale = budget / sum(sizes)
    for k, size in enumerate(sizes):
        cluster = clusters[k % len(clusters)]
        d = f"clusters/{cluster}/infra/component-{k // 20}"
        files[f"{d}/config-{k}.yaml"] = bulky(rng, f"config-{k}", "infra", int(size * scale))
    del n

    for path, text in files.items():
        full = os.path.join(args.dir, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    total = sum(len(v) for v in files.values())
    markers = sum(v.count('"$imagepolicy"') for v in files.values())
    print(f"{len(files)} files, {total / 1e6:.1f} MB, {markers} markers in {args.dir}")


if __name__ == "__main__":
    main()
