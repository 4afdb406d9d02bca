// Release trains (issue 12 item 4) through two built `ferry serve` processes sharing one App
// installation, against the GitHub double with GitHub's own secondary limits on content
// creation turned on (80 writes a minute, 500 an hour: 403 with GitHub's body and retry-after
// beyond them). Each replica keeps the documented share of the budget
// (FERRY_GITHUB_WRITES_PER_MINUTE=40, _PER_HOUR=250: docs/configuration.md "Write budget").
//
//   (a) the 50 images of one group published within 10 s, to the two processes in turn: one PR
//       with 50 bumps and no secondary-limit response;
//   (b) ungrouped images each published several times with rising tags, shuffled: one PR each,
//       at its highest tag, nothing lost (CI scale: 8 images x 5 tags; the issue's 20 x 10 is
//       test/bench/train.py's);
//   (c) one process killed in the middle of (a): the other finishes after redelivery.
//
// A delivery answered 503 (budget or compare-and-swap still lost) or not answered at all (the
// killed process) is sent again, as GitHub's redelivery and ferry's sweeper do. Figures (time,
// writes, commits, 503s) are printed and recorded as test properties, never asserted.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "service/promotion/group_body.hpp"
#include "test/support/serve_double.hpp"

namespace {

using namespace ferry::test::e2e;  // the shared fixture's helpers (test/support/serve_double.hpp)
using namespace std::chrono_literals;

constexpr int k_group_images = 50;
constexpr int k_solo_images = 8;
constexpr int k_solo_tags = 5;
constexpr auto k_publish_window = 10s;  // the train: every publication within this
// How long redeliveries go on before the test gives up: a bound on "eventually", not a target.
// The issue's 60 s for (a) is a figure the tests print and test/bench/train.py measures; (b) is
// bound by GitHub's 80 writes a minute (about 80 writes: a minute at least), and ASan with a
// second test beside it takes longer still.
constexpr auto k_converge_deadline = 180s;

std::string group_image(int i) {
  return std::string("g") + (i < 10 ? "0" : "") + std::to_string(i);
}
std::string solo_image(int i) {
  return "u" + std::to_string(i);
}

std::string rules_text() {
  std::string r = "version: 1\nimages:\n";
  for (int i = 0; i < k_group_images; ++i) {
    r += "  - name: " + group_image(i) + "\n    image: ghcr.io/dine-together/" + group_image(i) +
         "\n    policy: {semver: {range: \">=1.0.0\"}}\n    group: train\n";
  }
  for (int i = 0; i < k_solo_images; ++i) {
    r += "  - name: " + solo_image(i) + "\n    image: ghcr.io/dine-together/" + solo_image(i) +
         "\n    policy: {semver: {range: \">=1.0.0\"}}\n";
  }
  r += R"(environments:
  - name: staging
    paths: [clusters/staging]
    apply: {flux: {kind: Kustomization, name: apps, namespace: flux-system}}
)";
  return r;
}

std::string kustomization(int from, int count, std::string (*name)(int)) {
  std::string k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n";
  for (int i = from; i < from + count; ++i) {
    k += "  - name: ghcr.io/dine-together/" + name(i) +
         "\n    newTag: \"1.0.0\" # {\"$imagepolicy\": \"flux-system:" + name(i) + ":tag\"}\n";
  }
  return k;
}

std::string digest_for(const std::string& image, const std::string& tag) {
  std::string hex;
  for (const char c : image + tag) {
    hex += "0123456789abcdef"[static_cast<unsigned char>(c) % 16];
  }
  hex.resize(64, '0');
  return "sha256:" + hex;
}

struct publication {
  std::string image;
  std::string tag;
  std::string id;  // the delivery id: a redelivery keeps it
};

class train_e2e : public serve_double_test {
 protected:
  void before_ferry() override {
    ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/settings",
                      R"({"auto_merge_clean": false})")
                  .status,
              200);
    // GitHub's own numbers, whatever the double's default.
    ASSERT_EQ(control(http::verb::post, "/_double/limits",
                      R"({"writes_per_minute": 80, "writes_per_hour": 500, "forget_writes": true})")
                  .status,
              200);
    const std::string moved = json::serialize(
        json::value{{"ref", "heads/main"},
                    {"files", json::object{{".github/ferry.yaml", rules_text()},
                                           {"clusters/staging/train/kustomization.yaml",
                                            kustomization(0, k_group_images, group_image)},
                                           {"clusters/staging/solo/kustomization.yaml",
                                            kustomization(0, k_solo_images, solo_image)}}}});
    ASSERT_EQ(
        control(http::verb::post, "/_double/repos/dine-together/infra/move-ref", moved).status /
            100,
        2);
    // The writes of the set-up above are not ferry's.
    ASSERT_EQ(control(http::verb::post, "/_double/limits", R"({"forget_writes": true})").status,
              200);
  }

  std::vector<std::string> extra_ferry_env() override {
    return {"FERRY_GITHUB_WRITES_PER_MINUTE=40", "FERRY_GITHUB_WRITES_PER_HOUR=250"};
  }

  void start_second() {
    std::vector<std::string> env = ferry_env_;
    for (auto& e : env) {
      if (e.rfind("FERRY_CACHE_DIR=", 0) == 0) {
        e = "FERRY_CACHE_DIR=" + (dir_ / "cache-second").string();
      }
    }
    fs::create_directories(dir_ / "cache-second");
    second_.emplace(std::vector<std::string>{FERRY_BINARY, "serve"}, env,
                    dir_ / "ferry-second.log");
    const auto listening = second_->wait_for_line("\"listening\"");
    ASSERT_TRUE(listening) << second_->log();
    second_port_ = static_cast<unsigned short>(
        std::stoi(std::string(json::parse(*listening).as_object().at("port").as_string())));
  }

  // 0 when nothing answered (a process killed, a connection refused).
  int send(unsigned short port, const publication& p) {
    ferry::service::replay_target target{"http://127.0.0.1:" + std::to_string(port) + "/webhook",
                                         k_secret, std::chrono::seconds(30)};
    auto r = ferry::service::post_delivery(
        target,
        {"package", p.id, ghcr_package_payload(p.image, p.tag, digest_for(p.image, p.tag))});
    return r.ok() ? r->status : 0;
  }

  // Publishes `train` spread evenly over k_publish_window, each to `port_of(i)`; then sends
  // every delivery not answered 2xx again (to a live process) until each is, or the deadline.
  struct outcome {
    int answered_503 = 0;
    int unanswered = 0;
    int resent = 0;
    bool all_done = false;
  };
  outcome publish(const std::vector<publication>& train,
                  const std::function<unsigned short(std::size_t)>& port_of,
                  const std::function<void(std::size_t)>& after_sending = {}) {
    outcome out;
    const auto started = std::chrono::steady_clock::now();
    std::vector<std::future<int>> answers;
    for (std::size_t i = 0; i < train.size(); ++i) {
      std::this_thread::sleep_until(started + k_publish_window * static_cast<int>(i) /
                                                  static_cast<int>(train.size()));
      const unsigned short port = port_of(i);
      answers.push_back(
          std::async(std::launch::async, [this, port, &train, i] { return send(port, train[i]); }));
      if (after_sending) {
        after_sending(i);
      }
    }
    std::vector<std::size_t> pending;
    for (std::size_t i = 0; i < train.size(); ++i) {
      const int status = answers[i].get();
      out.answered_503 += status == 503 ? 1 : 0;
      out.unanswered += status == 0 ? 1 : 0;
      if (status / 100 != 2) {
        pending.push_back(i);
      }
    }
    // Redeliveries, as GitHub and ferry's sweeper make them: the same delivery, later.
    const auto until = started + k_converge_deadline;
    while (!pending.empty() && std::chrono::steady_clock::now() < until) {
      std::vector<std::size_t> still;
      for (const auto i : pending) {
        ++out.resent;
        const int status = send(live_port(i), train[i]);
        if (status / 100 != 2) {
          still.push_back(i);
        }
      }
      pending = std::move(still);
      if (!pending.empty()) {
        // A redelivery comes seconds later at the earliest (GitHub's and the sweeper's pace).
        std::this_thread::sleep_for(2s);
      }
    }
    out.all_done = pending.empty();
    return out;
  }

  unsigned short live_port(std::size_t i) {
    if (second_killed_ || !second_) {
      return ferry_port_;
    }
    return i % 2 == 0 ? ferry_port_ : second_port_;
  }

  std::vector<json::object> open_pulls() {
    std::vector<json::object> out;
    const auto state = infra_state();
    for (const auto& p : state.at("pulls").as_array()) {
      if (p.as_object().at("state").as_string() == "open") {
        out.push_back(p.as_object());
      }
    }
    return out;
  }

  std::string file_at(const std::string& branch, const std::string& path) {
    const auto state = infra_state();
    const auto* head = state.at("refs").as_object().if_contains("refs/heads/" + branch);
    if (head == nullptr) {
      return {};
    }
    return git("show " + std::string(head->as_string()) + ":" + path);
  }

  json::object limits() {
    return json::parse(control(http::verb::get, "/_double/limits").body).as_object();
  }

  // Commits ferry asked GitHub for (createCommitOnBranch mutations and Git Data commits).
  int commits_made() {
    const auto requests = json::parse(control(http::verb::get, "/_double/requests").body);
    int n = 0;
    for (const auto& r : requests.as_array()) {
      const auto& o = r.as_object();
      const auto* op = o.if_contains("operation");
      const bool gql =
          op != nullptr && op->is_string() &&
          std::string(op->as_string()).find("createCommitOnBranch") != std::string::npos;
      const bool rest = o.at("method").as_string() == "POST" &&
                        std::string(o.at("path").as_string()).ends_with("/git/commits");
      n += (gql || rest) && o.at("status").as_int64() / 100 == 2 ? 1 : 0;
    }
    return n;
  }

  int writes_counted() {
    const auto l = limits();
    const auto* w = l.at("writes").as_object().if_contains("installation:7");
    return w == nullptr ? 0 : static_cast<int>(w->as_object().at("last_hour").as_int64());
  }

  void report(const char* name, const outcome& o, std::chrono::steady_clock::duration took) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
    const auto l = limits();
    const int writes = writes_counted();
    const int commits = commits_made();
    std::printf(
        "%s: converged in %lld ms; %d writes, %d commits; %d answered 503, %d unanswered, %d "
        "redelivered; %lld secondary-limit responses\n",
        name, static_cast<long long>(ms), writes, commits, o.answered_503, o.unanswered, o.resent,
        static_cast<long long>(l.at("secondary_limited").as_int64()));
    RecordProperty("converge_ms", static_cast<int>(ms));
    RecordProperty("writes", writes);
    RecordProperty("commits", commits);
    RecordProperty("answered_503", o.answered_503);
    RecordProperty("redelivered", o.resent);
  }

  // One open PR on the group branch, a row per image at `tag`, every marker at `tag`.
  void expect_group_at(const std::string& tag) {
    const auto pulls = open_pulls();
    ASSERT_EQ(pulls.size(), 1u);
    EXPECT_EQ(pulls[0].at("head").as_string(), "ferry/staging/group-train");
    EXPECT_EQ(std::string(pulls[0].at("title").as_string()),
              "ferry: bump 50 images of group train in staging");
    const auto rows =
        ferry::promotion::parse_group_rows(std::string(pulls[0].at("body").as_string()));
    EXPECT_EQ(rows.size(), static_cast<std::size_t>(k_group_images));
    for (const auto& r : rows) {
      EXPECT_EQ(r.tag, tag) << r.text;
      EXPECT_NE(r.text.find(digest_for(r.image.substr(r.image.rfind('/') + 1), tag)),
                std::string::npos)
          << r.text;
    }
    const std::string file =
        file_at("ferry/staging/group-train", "clusters/staging/train/kustomization.yaml");
    for (int i = 0; i < k_group_images; ++i) {
      EXPECT_NE(file.find("newTag: \"" + tag +
                          "\" # {\"$imagepolicy\": \"flux-system:" + group_image(i) + ":tag\"}"),
                std::string::npos)
          << group_image(i) << "\n"
          << file;
    }
  }

  void dump_logs_on_failure() {
    if (HasFailure()) {
      std::printf("first replica:\n%s\n", ferry_->log().c_str());
      if (second_) {
        std::printf("second replica:\n%s\n", second_->log().c_str());
      }
    }
  }

  std::vector<publication> group_train(const std::string& tag) {
    std::vector<publication> train;
    for (int i = 0; i < k_group_images; ++i) {
      train.push_back({group_image(i), tag, ferry::service::random_delivery_id()});
    }
    return train;
  }

  std::optional<child> second_;
  unsigned short second_port_ = 0;
  bool second_killed_ = false;
};

TEST_F(train_e2e,
       a_fifty_images_of_one_group_in_ten_seconds_make_one_pr_without_a_secondary_limit) {
  start_second();
  const auto train = group_train("1.1.0");
  const auto started = std::chrono::steady_clock::now();
  const auto o = publish(train, [this](std::size_t i) { return live_port(i); });
  const auto took = std::chrono::steady_clock::now() - started;
  report("train (a)", o, took);
  EXPECT_TRUE(o.all_done);
  expect_group_at("1.1.0");
  EXPECT_EQ(limits().at("secondary_limited").as_int64(), 0);
  dump_logs_on_failure();
}

TEST_F(train_e2e, b_ungrouped_images_published_with_rising_tags_shuffled_end_each_at_its_highest) {
  start_second();
  std::vector<publication> all;
  for (int i = 0; i < k_solo_images; ++i) {
    for (int t = 1; t <= k_solo_tags; ++t) {
      all.push_back(
          {solo_image(i), "1." + std::to_string(t) + ".0", ferry::service::random_delivery_id()});
    }
  }
  std::mt19937 shuffle_with(12);  // fixed: a failure can be replayed
  std::shuffle(all.begin(), all.end(), shuffle_with);
  const auto started = std::chrono::steady_clock::now();
  const auto o = publish(all, [this](std::size_t i) { return live_port(i); });
  const auto took = std::chrono::steady_clock::now() - started;
  report("train (b)", o, took);
  EXPECT_TRUE(o.all_done);
  const std::string highest = "1." + std::to_string(k_solo_tags) + ".0";
  const auto pulls = open_pulls();
  EXPECT_EQ(pulls.size(), static_cast<std::size_t>(k_solo_images));
  std::map<std::string, std::string> titles;
  for (const auto& p : pulls) {
    titles[std::string(p.at("head").as_string())] = std::string(p.at("title").as_string());
  }
  for (int i = 0; i < k_solo_images; ++i) {
    const std::string branch = "ferry/staging/flux-system-" + solo_image(i);
    EXPECT_EQ(titles[branch], "ferry: bump " + solo_image(i) + " to " + highest + " in staging");
    const std::string file = file_at(branch, "clusters/staging/solo/kustomization.yaml");
    EXPECT_NE(file.find("newTag: \"" + highest +
                        "\" # {\"$imagepolicy\": \"flux-system:" + solo_image(i) + ":tag\"}"),
              std::string::npos)
        << file;
  }
  // Recorded, not asserted (the issue asks 0 of (a) only): (b) keeps both replicas' budgets full
  // for a minute and more, and on a loaded machine (ASan beside another test) a request can
  // take longer on its way to GitHub than the budget's one-second margin, so GitHub refuses one
  // and ferry waits its retry-after (app_client tests), as it must.
  RecordProperty("secondary_limited",
                 static_cast<int>(limits().at("secondary_limited").as_int64()));
  dump_logs_on_failure();
}

TEST_F(train_e2e, c_one_replica_killed_in_the_middle_of_a_train_the_other_finishes_it) {
  start_second();
  const auto train = group_train("1.2.0");
  const auto started = std::chrono::steady_clock::now();
  const auto o = publish(
      train, [this](std::size_t i) { return live_port(i); },
      [this](std::size_t sent) {
        if (sent + 1 == static_cast<std::size_t>(k_group_images / 2)) {
          second_->kill_hard();  // SIGKILL: whatever it was writing stops where it stands
          second_killed_ = true;
        }
      });
  const auto took = std::chrono::steady_clock::now() - started;
  report("train (c)", o, took);
  EXPECT_TRUE(o.all_done);
  expect_group_at("1.2.0");
  dump_logs_on_failure();
}

}  // namespace
