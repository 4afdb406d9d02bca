// Marker benchmarks. Google Benchmark cases: scan_file on a typical Deployment, apply_edits,
// unified_diff, and scan_tree on a generated monorepo when FERRY_BENCH_TREE names one
// (test/bench/gen_monorepo.py makes it). `markers_bench --plan-once DIR POLICY` runs what
// `ferry plan` will run once (scan the whole tree, edit the policy's markers, print the diff)
// for run_monorepo_bench.sh to time against grep as separate processes.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "service/markers/markers.hpp"

namespace m = ferry::markers;

namespace {

const std::string k_deployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: apps
  labels:
    app.kubernetes.io/name: app
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: app
  template:
    metadata:
      labels:
        app.kubernetes.io/name: app
    spec:
      containers:
        - name: app
          image: ghcr.io/example/app:v1.2.0 # {"$imagepolicy": "flux-system:app"}
          ports:
            - containerPort: 8080
          resources:
            requests: {cpu: 100m, memory: 128Mi}
        - name: sidecar
          image: "ghcr.io/example/sidecar:v3" # {"$imagepolicy": "flux-system:sidecar"}
)";

m::edit_request request_for(std::string policy) {
  m::edit_request r;
  r.ns = "flux-system";
  r.repository = "ghcr.io/example/" + policy;
  r.name = std::move(policy);
  r.tag = "v2.0.0";
  r.digest = "sha256:" + std::string(64, 'a');
  return r;
}

void bm_scan_file_marked(benchmark::State& state) {
  for (auto _ : state) {
    auto r = m::scan_file("apps/deployment.yaml", k_deployment);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * k_deployment.size()));
}
BENCHMARK(bm_scan_file_marked);

void bm_scan_file_unmarked(benchmark::State& state) {
  std::string text;
  while (text.size() < 5000) {
    text += "    setting: value-0123abcd # a comment with no marker\n";
  }
  for (auto _ : state) {
    auto r = m::scan_file("infra/config.yaml", text);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(bm_scan_file_unmarked);

void bm_apply_edits_and_diff(benchmark::State& state) {
  const auto scanned = m::scan_file("apps/deployment.yaml", k_deployment);
  const auto request = request_for("app");
  for (auto _ : state) {
    auto r = m::apply_edits(k_deployment, scanned->markers, request);
    const m::file_change c[] = {{"apps/deployment.yaml", k_deployment, r->content}};
    auto d = m::unified_diff(c);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(bm_apply_edits_and_diff);

void bm_scan_tree(benchmark::State& state) {
  const char* tree = std::getenv("FERRY_BENCH_TREE");
  if (tree == nullptr) {
    state.SkipWithError("set FERRY_BENCH_TREE to a tree made by test/bench/gen_monorepo.py");
    return;
  }
  std::size_t markers = 0;
  for (auto _ : state) {
    auto r = m::scan_tree(tree);
    markers = 0;
    for (const auto& f : r->files) {
      markers += f.markers.size();
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["markers"] = static_cast<double>(markers);
}
BENCHMARK(bm_scan_tree)->Unit(benchmark::kMillisecond);

// What `ferry plan` does for one image: scan, edit, diff. Returns the process exit code.
int plan_once(const char* dir, const char* policy) {
  auto scanned = m::scan_tree(dir);
  if (!scanned) {
    std::fprintf(stderr, "%s\n", scanned.error().message.c_str());
    return 2;
  }
  const auto request = request_for(policy);
  std::vector<m::file_change> changes;
  std::size_t records = 0;
  std::size_t markers = 0;
  for (const auto& f : scanned->files) {
    markers += f.markers.size();
    auto edited = m::apply_edits(f.content, f.markers, request);
    if (!edited) {
      std::fprintf(stderr, "%s\n", edited.error().message.c_str());
      return 2;
    }
    if (!edited->records.empty()) {
      records += edited->records.size();
      changes.push_back({f.path, f.content, std::move(edited->content)});
    }
  }
  const std::string diff = m::unified_diff(changes);
  std::fwrite(diff.data(), 1, diff.size(), stdout);
  std::fprintf(stderr, "%zu files read, %zu markers in %zu files, %zu edits, %zu errors\n",
               scanned->files_seen, markers, scanned->files.size(), records,
               scanned->errors.size());
  return records > 0 ? 0 : 4;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--plan-once") == 0) {
    if (argc != 4) {
      std::fprintf(stderr, "usage: %s --plan-once DIR POLICY\n", argv[0]);
      return 2;
    }
    return plan_once(argv[2], argv[3]);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
