// Which package deliveries name a promotion (handlers/package_published.hpp), one row a case.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <variant>

#include "handlers/package_published.hpp"
#include "service/events/events.hpp"

namespace ferry::handlers {
namespace {

events::package_event real_capture() {
  std::ifstream in(std::filesystem::path(FERRY_FIXTURES_DIR) / "github" /
                   "package.published.ghcr-multiarch-index.json");
  std::ostringstream text;
  text << in.rdbuf();
  auto r = events::parse_event("package", text.str());
  EXPECT_TRUE(r.ok());
  return r.ok() ? std::get<events::package_event>(*r) : events::package_event{};
}

struct row {
  const char* name;
  std::function<void(events::package_event&)> change;
  const char* registry_host;
  const char* image;        // nullptr: ignored
  const char* reason_part;  // for ignored rows
};

TEST(package_decision, table) {
  const row rows[] = {
      {"the real capture", [](auto&) {}, "ghcr.io", "ghcr.io/theryangeary/www", nullptr},
      {"registry_package names the same promotion",
       [](auto& e) { e.source = events::package_event::source_kind::registry_package; }, "ghcr.io",
       "ghcr.io/theryangeary/www", nullptr},
      {"GHES registry host", [](auto&) {}, "containers.ghe.example.com",
       "containers.ghe.example.com/theryangeary/www", nullptr},
      {"package_type in lower case", [](auto& e) { e.package_type = "container"; }, "ghcr.io",
       "ghcr.io/theryangeary/www", nullptr},
      {"owner and name lower-cased, name with a slash",
       [](auto& e) {
         e.owner = "Dine-Together";
         e.name = "Services/App";
       },
       "ghcr.io", "ghcr.io/dine-together/services/app", nullptr},
      {"updated with a tag", [](auto& e) { e.action = "updated"; }, "ghcr.io",
       "ghcr.io/theryangeary/www", nullptr},
      {"updated without a tag",
       [](auto& e) {
         e.action = "updated";
         e.tag.clear();
       },
       "ghcr.io", nullptr, "updated without a tag"},
      {"another action", [](auto& e) { e.action = "deleted"; }, "ghcr.io", nullptr,
       "action deleted"},
      {"docker (the retired docker.pkg.github.com registry)",
       [](auto& e) { e.package_type = "docker"; }, "ghcr.io", nullptr, "not a container"},
      {"npm", [](auto& e) { e.package_type = "npm"; }, "ghcr.io", nullptr, "not a container"},
      {"per-platform manifest: empty tag", [](auto& e) { e.tag.clear(); }, "ghcr.io", nullptr,
       "untagged"},
      {"attestation tag",
       [](auto& e) {
         e.tag = "sha256-89160c587d0c36bf54090497a465445c14980ba48efbcf3b0d03c49b76f3feb8";
       },
       "ghcr.io", nullptr, "attestation"},
      {"null package_version",
       [](auto& e) {
         e.has_version = false;
         e.digest.clear();
       },
       "ghcr.io", nullptr, "no package_version"},
      {"null owner", [](auto& e) { e.owner.clear(); }, "ghcr.io", nullptr, "no owner"},
  };
  const events::package_event base = real_capture();
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    events::package_event e = base;
    r.change(e);
    const package_decision d = decide_package(e, r.registry_host);
    if (r.image == nullptr) {
      EXPECT_FALSE(d.promote.has_value());
      EXPECT_NE(d.reason.find(r.reason_part), std::string::npos) << d.reason;
      continue;
    }
    ASSERT_TRUE(d.promote.has_value()) << d.reason;
    EXPECT_EQ(d.promote->image, r.image);
    EXPECT_EQ(d.promote->tag, e.tag);
    EXPECT_EQ(d.promote->digest,
              "sha256:89160c587d0c36bf54090497a465445c14980ba48efbcf3b0d03c49b76f3feb8");
  }
}

}  // namespace
}  // namespace ferry::handlers
