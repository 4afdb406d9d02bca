// parse_event + dispatch for the registry_package body of an image no rule names (the ingress
// cost after the signature check), and the pieces it is made of. The body is
// fixtures/github/registry_package.published.14k.json (the wrk load test reuses it).
//
//   cmake --build build --target events_bench && ./build/test/bench/events_bench
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include "handlers/registry.hpp"
#include "service/dispatch.hpp"
#include "service/events/events.hpp"
#include "service/log.hpp"
#include "service/signature.hpp"

namespace {

constexpr std::string_view k_secret = "It's a Secret to Everybody";

const std::string& body() {
  static const std::string text = [] {
    const auto path = std::filesystem::path(FERRY_FIXTURES_DIR) / "github" /
                      "registry_package.published.14k.json";
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      throw std::runtime_error("cannot read " + path.string());
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }();
  return text;
}

// The whole step: parse, then route through the registry to the package handler and back.
// With a verifier, the HMAC-SHA256 check over the raw body comes first, as in the ingress.
void run_parse_and_dispatch(benchmark::State& state, const ferry::log::logger& logger,
                            const ferry::service::webhook_verifier* verifier = nullptr) {
  const auto dispatch = ferry::handlers::make_dispatcher({});
  boost::asio::io_context io;
  const std::string& b = body();
  const std::string signature = ferry::service::sign_sha256(k_secret, b);
  for (auto _ : state) {
    if (verifier != nullptr && !verifier->verify(b, signature)) {
      state.SkipWithError("signature did not verify");
      return;
    }
    auto parsed = ferry::events::parse_event("registry_package", b);
    if (!parsed.ok()) {
      state.SkipWithError(parsed.error().message.c_str());
      return;
    }
    const ferry::service::delivery d{"bench", "registry_package", *parsed, logger};
    std::optional<ferry::service::handler_result> result;
    boost::asio::co_spawn(
        io, [&]() -> boost::asio::awaitable<void> { result.emplace(co_await dispatch(d)); },
        boost::asio::detached);
    io.restart();
    io.run();
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * b.size()));
  state.counters["body_bytes"] = static_cast<double>(b.size());
}

// The ingress's whole CPU cost per delivery after the HTTP parse: HMAC-SHA256 over the raw
// body (constant-time compare), then parse and route. The floor: ~15 us.
void BM_verify_parse_and_dispatch(benchmark::State& state) {
  const ferry::service::webhook_verifier verifier(k_secret);
  run_parse_and_dispatch(state, ferry::log::logger{}, &verifier);
}
BENCHMARK(BM_verify_parse_and_dispatch);

// HMAC-SHA256 alone over the same body.
void BM_verify(benchmark::State& state) {
  const ferry::service::webhook_verifier verifier(k_secret);
  const std::string& b = body();
  const std::string signature = ferry::service::sign_sha256(k_secret, b);
  for (auto _ : state) {
    benchmark::DoNotOptimize(verifier.verify(b, signature));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * b.size()));
}
BENCHMARK(BM_verify);

// Logs discarded: the cost of ferry's own code.
void BM_parse_and_dispatch(benchmark::State& state) {
  run_parse_and_dispatch(state, ferry::log::logger{});
}
BENCHMARK(BM_parse_and_dispatch);

// As in production: the promotion line is formatted as JSON and written (to /dev/null).
void BM_parse_and_dispatch_logged(benchmark::State& state) {
  std::FILE* null = std::fopen("/dev/null", "w");
  const ferry::log::logger logger(
      std::make_shared<ferry::log::sink>(null, ferry::log::level::info, ferry::log::format::json));
  run_parse_and_dispatch(state, logger.with({{"delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
                                             {"event", "registry_package"}}));
  std::fclose(null);
}
BENCHMARK(BM_parse_and_dispatch_logged);

void BM_parse_event(benchmark::State& state) {
  const std::string& b = body();
  for (auto _ : state) {
    auto parsed = ferry::events::parse_event("registry_package", b);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * b.size()));
}
BENCHMARK(BM_parse_event);

// What parse_event pays for a body with no padding after it: simdjson's DOM parse with
// realloc_if_needed (a memcpy into the parser's reused padded buffer) ...
void BM_simdjson_dom_copying(benchmark::State& state) {
  simdjson::dom::parser parser;
  const std::string& b = body();
  for (auto _ : state) {
    auto doc = parser.parse(b.data(), b.size(), true);
    benchmark::DoNotOptimize(doc);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * b.size()));
}
BENCHMARK(BM_simdjson_dom_copying);

// ... against the same parse of an already padded buffer (no copy).
void BM_simdjson_dom_padded(benchmark::State& state) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(body());
  for (auto _ : state) {
    auto doc = parser.parse(padded);
    benchmark::DoNotOptimize(doc);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * padded.size()));
}
BENCHMARK(BM_simdjson_dom_padded);

}  // namespace

BENCHMARK_MAIN();
