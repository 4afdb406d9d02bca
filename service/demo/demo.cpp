#include "service/demo/demo.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "handlers/registry.hpp"
#include "service/demo/embedded.hpp"
#include "service/metrics.hpp"
#include "service/promotion/commands.hpp"
#include "service/replay.hpp"
#include "service/server.hpp"

namespace ferry::demo {
namespace {

namespace fs = std::filesystem;

// Writes the embedded example infra repository into a fresh temporary directory.
fs::path materialise_example(std::FILE* out) {
  auto dir = fs::temp_directory_path() / ("ferry-demo-" + service::random_delivery_id());
  for (const auto& f : embedded::example_infra()) {
    const auto path = dir / std::string(f.path);
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary)
        .write(f.content.data(), static_cast<std::streamsize>(f.content.size()));
  }
  std::fprintf(out, "example infra repo written to %s\n", dir.c_str());
  return dir;
}

// The event a sample delivery file carries, from its name: <event>.<action>.<what>.json.
std::string event_of(std::string_view file_name) {
  return std::string(file_name.substr(0, file_name.find('.')));
}

void heading(std::FILE* out, const char* text) {
  std::fprintf(out, "\n== %s\n", text);
}

}  // namespace

int run(std::FILE* out) {
  std::atomic<int> failures{0};
  std::fprintf(out, "ferry demo: the loop offline, on the embedded example infra repository\n");
  const auto repo = materialise_example(out);

  heading(out, "ferry check: the rules file and the markers each image rule owns");
  std::fflush(out);
  if (promotion::run_check({repo.string()}, out, out) != 0) {
    ++failures;
  }

  heading(out, "ferry serve on 127.0.0.1 (random port), sample deliveries replayed and signed");
  const std::string secret = service::random_delivery_id();
  boost::asio::io_context ioc{1};
  service::metrics metrics;
  auto sink = std::make_shared<log::sink>(out, log::level::info, log::format::text);
  service::server srv(
      ioc, service::server_settings{.address = "127.0.0.1", .port = 0, .webhook_secret = secret},
      handlers::make_dispatcher({}), log::logger(sink), metrics);
  auto bound = srv.start();
  if (!bound) {
    std::fprintf(out, "cannot start the demo server: %s\n", bound.error().message.c_str());
    return 1;
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(bound->port()) + "/webhook";
  std::thread client([&] {
    for (const auto& f : embedded::sample_deliveries()) {
      auto d = service::load_saved_delivery(f.path, f.content, event_of(f.path));
      if (!d) {
        ++failures;
        continue;
      }
      auto answer = service::post_delivery({url, secret}, *d);
      std::fprintf(
          out, "  %-50s event=%-16s -> %s\n", std::string(f.path).c_str(), d->event.c_str(),
          answer ? std::to_string(answer->status).c_str() : answer.error().message.c_str());
      std::fflush(out);
      if (!answer || answer->status >= 300) {
        ++failures;
      }
    }
    boost::asio::post(ioc, [&] { srv.drain(); });
  });
  ioc.run();
  client.join();

  heading(out,
          "ferry plan: the pull request a publish of ghcr.io/dine-together/app:sha-9f8e7d6 "
          "would open for staging");
  std::fflush(out);
  promotion::plan_options_cli plan;
  plan.repo_dir = repo.string();
  plan.image = "ghcr.io/dine-together/app";
  plan.tag = "sha-9f8e7d6";
  plan.digest = "sha256:" + std::string(64, 'a');
  const int plan_code = promotion::run_plan(plan, out, out);
  if (plan_code != 0) {
    ++failures;
  }

  std::error_code ec;
  fs::remove_all(repo, ec);
  std::fprintf(out, "\n%s\n",
               failures == 0 ? "demo finished: every step answered as expected"
                             : "demo finished with failures (see above)");
  return failures == 0 ? 0 : 1;
}

}  // namespace ferry::demo
