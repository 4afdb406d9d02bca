#include "service/demo/demo.hpp"

#include "service/text.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "handlers/bump.hpp"
#include "handlers/registry.hpp"
#include "service/apply/argocd.hpp"
#include "service/apply/environments.hpp"
#include "service/apply/fleet.hpp"
#include "service/apply/flux.hpp"
#include "service/apply/job.hpp"
#include "service/demo/embedded.hpp"
#include "service/events/events.hpp"
#include "service/git/local_repo.hpp"
#include "service/metrics.hpp"
#include "service/promotion/commands.hpp"
#include "service/promotion/plan.hpp"
#include "service/replay.hpp"
#include "service/server.hpp"

namespace ferry::demo {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// Every commit of the demo is made at this instant, so the same binary prints the same commit
// ids on every run (local_repo signs with the time it was created with).
constexpr std::chrono::sys_seconds k_demo_time{std::chrono::seconds(1767225600)};  // 2026-01-01
constexpr std::string_view k_rules_path = ".github/ferry.yaml";
constexpr std::string_view k_infra_repo = "dine-together/infra";  // the example repo's name
// The embedded GHCR capture, renamed to the image the example's rules promote.
constexpr std::string_view k_ghcr_delivery = "package.published.ghcr-multiarch-index.json";
constexpr std::string_view k_demo_owner = "dine-together";
constexpr std::string_view k_demo_package = "app";
constexpr std::string_view k_demo_tag = "sha-9f8e7d6";

using text::short_sha;

// The event a sample delivery file carries, from its name: <event>.<action>.<what>.json.
std::string event_of(std::string_view file_name) {
  return std::string(file_name.substr(0, file_name.find('.')));
}

// Indented JSON for people (Boost.JSON 1.81 has no pretty printer).
void pretty(std::string& out, const json::value& v, int indent) {
  const auto pad = [&](int n) { out.append(static_cast<std::size_t>(n), ' '); };
  if (v.is_object() && !v.get_object().empty()) {
    out += "{\n";
    bool first = true;
    for (const auto& [k, item] : v.get_object()) {
      out += first ? "" : ",\n";
      first = false;
      pad(indent + 2);
      out += json::serialize(json::value(k)) + ": ";
      pretty(out, item, indent + 2);
    }
    out += "\n";
    pad(indent);
    out += "}";
  } else if (v.is_array() && !v.get_array().empty()) {
    out += "[\n";
    bool first = true;
    for (const auto& item : v.get_array()) {
      out += first ? "" : ",\n";
      first = false;
      pad(indent + 2);
      pretty(out, item, indent + 2);
    }
    out += "\n";
    pad(indent);
    out += "]";
  } else {
    out += json::serialize(v);
  }
}

std::string indented(std::string_view text, std::string_view prefix) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    const auto end = nl == std::string_view::npos ? text.size() : nl + 1;
    out += std::string(prefix) + std::string(text.substr(start, end - start));
    start = end;
  }
  if (!out.empty() && out.back() != '\n') {
    out += '\n';
  }
  return out;
}

class demo {
 public:
  explicit demo(std::FILE* out) : out_(out) {}

  int run() {
    std::fprintf(out_,
                 "ferry demo: the whole loop, offline, on the example infra repository built into "
                 "this binary.\nLocal mode: a pull request is a branch in a local git repository, "
                 "merging it is a git merge,\nand every apply is a dry run that prints what ferry "
                 "would send to Kubernetes.\n");
    const auto dir = fs::temp_directory_path() / ("ferry-demo-" + service::random_delivery_id());
    if (create_repo(dir)) {
      check_rules(dir);
      replay_samples();
      loop();
    }
    repo_.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
    std::fprintf(out_, "\n%s\n",
                 failures_ == 0 ? "demo finished: every step answered as expected"
                                : "demo finished with failures (see above)");
    return failures_ == 0 ? 0 : 1;
  }

 private:
  void heading(const std::string& text) {
    std::fprintf(out_, "\n== %d. %s\n", ++section_, text.c_str());
    std::fflush(out_);
  }
  void fail(const std::string& what) {
    std::fprintf(out_, "  FAILED: %s\n", what.c_str());
    ++failures_;
  }
  void say(const std::string& text) { std::fputs(indented(text, "  ").c_str(), out_); }

  bool create_repo(const fs::path& dir) {
    heading("the example infra repo: a local git repository, main at its first commit");
    std::vector<git::file> files;
    for (const auto& f : embedded::example_infra()) {
      files.push_back(git::file{std::string(f.path), std::string(f.content)});
    }
    auto repo = git::local_repo::create(dir, files, k_demo_time);
    if (!repo) {
      fail("creating the repository: " + repo.error().message);
      return false;
    }
    repo_.emplace(std::move(*repo));
    auto head = repo_->head("main");
    auto text = head ? repo_->read_file(*head, k_rules_path) : result<std::string>(head.error());
    if (!text) {
      fail("reading " + std::string(k_rules_path) + ": " + text.error().message);
      return false;
    }
    auto parsed = rules::parse_rules(*text, k_rules_path);
    if (!parsed) {
      fail(parsed.report());
      return false;
    }
    rules_ = std::move(parsed).value();
    say("main = " + short_sha(*head) + " (" + std::to_string(files.size()) + " files)");
    return true;
  }

  void check_rules(const fs::path& dir) {
    heading("ferry check: the rules file and the markers each image rule owns");
    if (promotion::run_check({dir.string()}, out_, out_) != 0) {
      ++failures_;
    }
  }

  // The webhook ingress as `serve` runs it: every sample delivery signed and POSTed to a local
  // listener. Only the answers are printed (the log lines carry times and random ids).
  void replay_samples() {
    heading("ferry serve: the sample deliveries, signed and replayed to a local listener");
    const std::string secret = service::random_delivery_id();
    boost::asio::io_context ioc{1};
    service::metrics metrics;
    std::FILE* quiet = std::fopen("/dev/null", "w");
    auto sink = std::make_shared<log::sink>(quiet != nullptr ? quiet : out_, log::level::error,
                                            log::format::text);
    service::server srv(
        ioc, service::server_settings{.address = "127.0.0.1", .port = 0, .webhook_secret = secret},
        handlers::make_dispatcher(handlers::handler_settings{}), log::logger(sink), metrics);
    auto bound = srv.start();
    if (!bound) {
      fail("starting the local listener: " + bound.error().message);
      if (quiet != nullptr) {
        std::fclose(quiet);
      }
      return;
    }
    const std::string url = "http://127.0.0.1:" + std::to_string(bound->port()) + "/webhook";
    std::atomic<int> failures{0};
    std::vector<std::string> lines;
    std::thread client([&] {
      for (const auto& f : embedded::sample_deliveries()) {
        auto d = service::load_saved_delivery(f.path, f.content, event_of(f.path));
        if (!d) {
          ++failures;
          continue;
        }
        auto answer = service::post_delivery({url, secret}, *d);
        char line[256];
        std::snprintf(
            line, sizeof line, "%-48s %-16s -> %s\n", std::string(f.path).c_str(), d->event.c_str(),
            answer ? std::to_string(answer->status).c_str() : answer.error().message.c_str());
        lines.emplace_back(line);
        if (!answer || answer->status >= 300) {
          ++failures;
        }
      }
      boost::asio::post(ioc, [&] { srv.drain(); });
    });
    ioc.run();
    client.join();
    if (quiet != nullptr) {
      std::fclose(quiet);
    }
    for (const auto& l : lines) {
      say(l);
    }
    say("(204: nothing to do: no infrastructure repository is configured here, so no rule can "
        "name the image; the GHCR publication is still parsed and logged. The loop below makes "
        "its promotion locally.)");
    failures_ += failures;
  }

  // The GHCR delivery, renamed to the example's image, parsed as `serve` parses it.
  std::optional<events::package_event> publication() {
    std::string_view body;
    for (const auto& f : embedded::sample_deliveries()) {
      if (f.path == k_ghcr_delivery) {
        body = f.content;
      }
    }
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object()) {
      fail(std::string(k_ghcr_delivery) + ": not embedded or not JSON");
      return std::nullopt;
    }
    auto& pkg = v.as_object()["package"].as_object();
    pkg["name"] = k_demo_package;
    pkg["owner"].as_object()["login"] = k_demo_owner;
    pkg["html_url"] = "https://github.com/orgs/dine-together/packages/container/package/app";
    pkg["package_version"]
        .as_object()["container_metadata"]
        .as_object()["tag"]
        .as_object()["name"] = k_demo_tag;
    auto parsed = events::parse_event("package", json::serialize(v));
    if (!parsed || !std::holds_alternative<events::package_event>(*parsed)) {
      fail("parsing the delivery: " +
           (parsed ? std::string("not a package event") : parsed.error().message));
      return std::nullopt;
    }
    return std::get<events::package_event>(*parsed);
  }

  // Every marker of the tree at `commit`, as the package handler scans a mirror.
  std::vector<markers::scanned_file> scan(const std::string& commit) {
    std::vector<markers::scanned_file> files;
    auto r = repo_->for_each_file(commit, {}, [&](std::string_view path, std::string_view content) {
      if (markers::may_contain_marker(content)) {
        if (auto s = markers::scan_file(path, content); s && !s->markers.empty()) {
          files.push_back({std::string(path), std::string(content), std::move(s->markers)});
        }
      }
      return true;
    });
    if (!r) {
      fail("reading the tree at " + short_sha(commit) + ": " + r.error().message);
    }
    return files;
  }

  // One promotion: the plan for `c` (in `only` when set, else the entry environments), then per
  // changing environment a "pull request" branch and its merge into main. Returns the merges as
  // (before, after) heads of main.
  // The plan for `c` at main's head (in `only` when set, else the entry environments).
  std::optional<promotion::plan_result> plan_at_main(const promotion::candidate& c,
                                                     const std::optional<std::string>& only) {
    auto main = repo_->head("main");
    if (!main) {
      fail("main: " + main.error().message);
      return std::nullopt;
    }
    promotion::plan_options options;
    options.environment = only;
    auto p = promotion::plan(rules_, scan(*main), c, options);
    if (!p) {
      fail("plan: " + p.error().message);
      return std::nullopt;
    }
    return std::move(*p);
  }

  // Says which environments `c` leaves alone, and why (before any pull request is shown).
  void report_unchanged(const promotion::candidate& c, const std::optional<std::string>& only) {
    if (auto p = plan_at_main(c, only)) {
      for (const auto& e : p->environments) {
        if (e.status != promotion::env_status::change) {
          say(e.environment->name + " " + e.rule->marker_ref() + ": no pull request (" + e.reason +
              ")");
        }
      }
    }
  }

  std::vector<std::pair<std::string, std::string>> promote(const promotion::candidate& c,
                                                           const std::optional<std::string>& only,
                                                           const std::string& why) {
    std::vector<std::pair<std::string, std::string>> merges;
    auto main = repo_->head("main");
    auto p = plan_at_main(c, only);
    if (!main || !p) {
      return merges;
    }
    for (const auto& e : p->environments) {
      if (e.status != promotion::env_status::change) {
        continue;
      }
      const auto branch = rules::branch_name(*e.environment, *e.rule);
      handlers::bump_facts facts;
      facts.image = c.image;
      facts.rule_name = e.rule->name;
      facts.environment = e.environment->name;
      facts.from_values = e.previous_values;
      facts.to_tag = c.tag;
      facts.digest = c.digest.value_or("");
      facts.note = why;
      heading("pull request for " + e.environment->name + ": branch " + branch);
      std::vector<git::file> changes;
      for (const auto& ch : e.changes) {
        changes.push_back({ch.path, ch.new_content});
      }
      auto commit = repo_->commit_on_branch(branch, *main, changes, handlers::commit_message(facts),
                                            std::nullopt);
      if (!commit) {
        fail("committing on " + branch + ": " + commit.error().message);
        continue;
      }
      say("title:  " + handlers::pr_title(facts));
      say("branch: " + branch + " = " + short_sha(*commit) + ", cut from main " + short_sha(*main));
      say("why:    " + e.reason);
      say("diff (what `ferry plan` prints):");
      say(markers::unified_diff(e.changes));
      heading("merge of " + branch + " into main (by a person, or auto-merge)");
      auto merged = repo_->merge_branch(branch, "main", "Merge " + branch);
      if (!merged) {
        fail("merging " + branch + ": " + merged.error().message);
        continue;
      }
      say("main: " + short_sha(*main) + " -> " + short_sha(*merged) +
          (*merged == *commit ? " (fast-forward)" : " (merge commit)"));
      merges.emplace_back(*main, *merged);
      main = *merged;
    }
    return merges;
  }

  // The push GitHub would send for a merge: the environments it applies, each applied (dry run).
  // Returns the environments whose apply succeeded.
  std::vector<const rules::environment*> push(const std::string& before, const std::string& after) {
    std::vector<const rules::environment*> applied;
    heading("push to main " + short_sha(before) + ".." + short_sha(after) +
            ": the environments it applies");
    auto paths = repo_->changed_paths(before, after);
    if (!paths) {
      fail("changed paths: " + paths.error().message);
      return applied;
    }
    std::string changed = "changed:";
    for (const auto& p : *paths) {
      changed += " " + p;
    }
    say(changed);
    const auto envs = apply::environments_to_apply(rules_, *paths, false);
    for (const auto* env : envs.suspended) {
      say(env->name + ": suspended, not applied");
    }
    for (const auto* env : envs.pull_requests_only) {
      say(env->name + ": no apply (pull requests only), not applied");
    }
    if (envs.apply.empty()) {
      say("no environment's paths changed: nothing to apply");
    }
    for (const auto* env : envs.apply) {
      say("applies: " + env->name);
    }
    for (const auto* env : envs.apply) {
      heading("apply " + env->name + " at " + short_sha(after) + " (dry run)");
      bool ok = false;
      if (const auto* flux = std::get_if<rules::apply_flux>(&env->apply->target)) {
        ok = apply_flux(*env, *flux, after);
      } else if (const auto* job = std::get_if<rules::apply_job>(&env->apply->target)) {
        ok = apply_job(*env, *job, after);
      } else if (const auto* argocd = std::get_if<rules::apply_argocd>(&env->apply->target)) {
        ok = apply_argocd(*env, *argocd, after);
      } else {
        ok = apply_fleet(*env, std::get<rules::apply_fleet>(env->apply->target), after);
      }
      if (ok) {
        applied.push_back(env);
      }
    }
    return applied;
  }

  void status(const rules::environment& env, const std::string& commit, const char* state,
              const std::string& text) {
    say("status ferry/apply/" + env.name + " on " + short_sha(commit) + ": " + state + " \"" +
        apply::status_description(text) + "\"");
  }

  bool apply_flux(const rules::environment& env, const rules::apply_flux& target,
                  const std::string& commit) {
    const auto patch = apply::requested_at_patch(commit);
    say("PATCH (application/merge-patch+json) the source GitRepository named by " + target.kind +
        " " + target.namespace_name + "/" + target.name + "'s spec.sourceRef, then the " +
        target.kind + " itself:");
    say("  " + patch);
    // What Flux reports once it has reconciled our request (simulated: there is no cluster),
    // judged exactly as serve judges it, with the ancestry answered by git.
    const std::string revision = "main@sha1:" + commit;
    say("simulated Flux status: lastHandledReconcileAt=" + short_sha(commit) +
        "..., Ready=True, lastAppliedRevision=" + revision.substr(0, 22) + "...");
    const auto verdict = apply::judge_kustomization(commit, "True", "Applied revision: " + revision,
                                                    revision, commit, [&](std::string_view c) {
                                                      auto d = repo_->is_descendant(c, commit);
                                                      return d && *d;
                                                    });
    say("verdict: " + std::string(apply::to_string(verdict.verdict)));
    if (verdict.verdict != apply::flux_verdict::succeeded) {
      fail(env.name + ": " + verdict.message);
      return false;
    }
    status(env, commit, "success", "dry run: " + verdict.message);
    return true;
  }

  bool apply_argocd(const rules::environment& env, const rules::apply_argocd& target,
                    const std::string& commit) {
    std::optional<std::string_view> revision;
    if (target.sync) {
      revision = commit;
    }
    say("PATCH (application/merge-patch+json) Argo CD Application " + target.namespace_name + "/" +
        target.application + ":");
    say("  " + apply::argocd_patch(revision));
    status(env, commit, "success",
           std::string("dry run: asked Argo CD for a hard refresh") +
               (target.sync ? " and a sync of " + short_sha(commit) : std::string()));
    return true;
  }

  bool apply_fleet(const rules::environment& env, const rules::apply_fleet& target,
                   const std::string& commit) {
    kube::fleet_view gitrepo;
    gitrepo.meta.name = target.git_repo;
    gitrepo.meta.ns = target.namespace_name;
    const auto patch = apply::fleet_force_sync_patch(gitrepo, commit);
    say("PATCH (application/merge-patch+json) Fleet GitRepo " + target.namespace_name + "/" +
        target.git_repo + ":");
    say("  " + patch.value_or("(nothing: the sync was forced for this commit already)"));
    status(env, commit, "success", "dry run: forced a Fleet sync of " + short_sha(commit));
    return true;
  }

  bool apply_job(const rules::environment& env, const rules::apply_job& target,
                 const std::string& commit) {
    auto text = repo_->read_file(commit, target.template_path);
    if (!text) {
      fail(target.template_path + ": " + text.error().message);
      return false;
    }
    // serve's defaults: FERRY_APPLY_NAMESPACES=flux-system,
    // FERRY_APPLY_SERVICE_ACCOUNTS=ferry-apply
    apply::job_policy policy;
    policy.namespaces = {"flux-system"};
    policy.service_accounts = {"ferry-apply"};
    auto job = apply::render_job(
        *text, target.template_path, target,
        apply::job_vars{.env = env.name, .sha = commit, .repo = std::string(k_infra_repo)}, policy);
    if (!job) {
      say("the template is refused: " + job.error().message);
      status(env, commit, "failure", job.error().message);
      ++failures_;
      return false;
    }
    say("POST /apis/batch/v1/namespaces/" + job->ns + "/jobs (from " + target.template_path +
        " at " + short_sha(commit) + "):");
    std::string body;
    pretty(body, json::parse(job->json), 0);
    say(indented(body, "  "));
    status(env, commit, "success", "dry run: Job " + job->name + " would be created");
    return true;
  }

  // SPEC: when E's apply at C succeeds, E's marker values at C go to every environment with
  // promoteFrom: E. Returns the candidates, one per image rule with markers in E.
  std::vector<promotion::candidate> values_at(const rules::environment& env,
                                              const std::string& commit) {
    std::vector<promotion::candidate> out;
    const auto files = scan(commit);
    for (const auto& rule : rules_.images) {
      promotion::candidate c{rule.image, "", std::nullopt};
      for (const auto& f : files) {
        if (!promotion::under_paths(f.path, env.paths)) {
          continue;
        }
        for (const auto& m : f.markers) {
          if (m.ns != rule.namespace_name || m.name != rule.name) {
            continue;
          }
          if (m.field == markers::marker_field::whole) {
            const auto ref = markers::parse_image_ref(m.value);
            c.tag = c.tag.empty() ? ref.tag : c.tag;
            if (!ref.digest.empty() && !c.digest) {
              c.digest = ref.digest;
            }
          } else if (m.field == markers::marker_field::tag && c.tag.empty()) {
            c.tag = m.value;
          } else if (m.field == markers::marker_field::digest && !c.digest) {
            c.digest = m.value;
          }
        }
      }
      if (!c.tag.empty()) {
        out.push_back(std::move(c));
      }
    }
    return out;
  }

  void loop() {
    auto published = publication();
    if (!published) {
      return;
    }
    heading(
        "a GHCR publication arrives (the embedded GHCR delivery, renamed to the example's image)");
    const auto image = events::image_reference("ghcr.io", *published);
    say("package event: image " + image + ", tag " + published->tag + ", digest " +
        published->digest.substr(0, 19) + "...");
    const promotion::candidate c{image, published->tag, published->digest};

    // Each round: open and merge the PRs, push, apply, then promote what succeeded downstream.
    report_unchanged(c, std::nullopt);
    std::vector<std::pair<std::string, std::string>> merges =
        promote(c, std::nullopt, "published to GHCR");
    int rounds = 0;
    while (!merges.empty() && rounds++ < 8) {
      std::vector<std::pair<std::string, std::string>> next;
      for (const auto& [before, after] : merges) {
        for (const auto* env : push(before, after)) {
          const auto downstream = rules::direct_downstream(rules_, env->name);
          if (downstream.empty()) {
            continue;
          }
          const auto values = values_at(*env, after);
          for (const auto* d : downstream) {
            heading("promotion " + env->name + " -> " + d->name + ": " + env->name +
                    "'s values at " + short_sha(after) + ", where its apply succeeded");
            if (rules::is_suspended(rules_, d->name)) {
              say(d->name + " is suspended: no promotion");
              continue;
            }
            for (const auto& v : values) {
              say(v.image + ":" + v.tag +
                  (v.digest ? " @ " + v.digest->substr(0, 19) + "..." : ""));
            }
            for (const auto& v : values) {
              report_unchanged(v, d->name);
            }
            for (const auto& v : values) {
              auto m = promote(v, d->name,
                               "promoted from " + env->name + " after its apply at " +
                                   short_sha(after) + " succeeded");
              next.insert(next.end(), m.begin(), m.end());
            }
          }
        }
      }
      merges = std::move(next);
    }
  }

  std::FILE* out_;
  std::optional<git::local_repo> repo_;
  rules::rules_file rules_;
  int section_ = 0;
  int failures_ = 0;
};

}  // namespace

int run(std::FILE* out) {
  return demo(out).run();
}

}  // namespace ferry::demo
