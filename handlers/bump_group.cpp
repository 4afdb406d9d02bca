// An image group's branch and pull request (docs/rules.md "Groups"; issue 12 item 1): every
// image of a group promoted into one environment goes into ferry/<env>/group-<name> and one PR
// whose body has a row per image.
//
//   1. queue: the group's deliveries take turns on the branch in this process
//      (handlers/group_lane.hpp); the one whose turn it is takes the edits queued behind it;
//   2. decide each edit as for a single image (above the default branch's value and the PR's,
//      `newest` compares for the delivery's own edit), and make it on the branch's own files,
//      one after another, so the group's other images stay;
//   3. write them as one commit on top of the branch head, a compare-and-swap
//      (createCommitOnBranch with expectedHeadOid): a lost swap reads the branch again and makes
//      the edits again on top, bounded, then answers 503;
//   4. bring the PR's rows up to what the branch carries.
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "handlers/blocking.hpp"
#include "handlers/bump_run.hpp"
#include "handlers/handlers.hpp"
#include "service/limits.hpp"
#include "service/promotion/group_body.hpp"
#include "service/promotion/plan.hpp"
#include "service/promotion/values.hpp"
#include "service/rules/policy.hpp"

namespace ferry::handlers::bump_detail {

namespace {

bool contains_value(const std::vector<std::string>& values, const std::string& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

const rules::image_rule* rule_by_ref(const rules::rules_file& rules, std::string_view ref) {
  for (const auto& r : rules.images) {
    if (r.marker_ref() == ref) {
      return &r;
    }
  }
  return nullptr;
}

// Puts `changes` into `files` (the branch's marker files as this batch has edited them so far):
// the next edit of the batch is made on top of them.
result<void> apply_to(std::vector<markers::scanned_file>& files,
                      const std::vector<markers::file_change>& changes) {
  for (const auto& c : changes) {
    auto scanned = markers::scan_file(c.path, c.new_content);
    if (!scanned) {
      return scanned.error();
    }
    auto it = std::find_if(files.begin(), files.end(),
                           [&](const markers::scanned_file& f) { return f.path == c.path; });
    if (it == files.end()) {
      files.push_back({c.path, c.new_content, std::move(scanned->markers)});
    } else {
      it->content = c.new_content;
      it->markers = std::move(scanned->markers);
    }
  }
  return ok_v;
}

}  // namespace

asio::awaitable<result<void>> bump_run::group_environment(const rules::rules_file& rules,
                                                          const rules::environment& env,
                                                          const rules::image_rule& rule) {
  const std::string branch = rules::branch_name(env, rule);
  auto own = std::make_shared<group_edit>();
  own->rule = rule.marker_ref();
  own->image = rule.image;
  own->tag = p_.tag;
  own->digest = p_.digest;
  own->source_commit = facts_for(env, rule).source_commit;
  own->package_url = src_.package_url;
  own->source_repo_url = src_.source_repo_url;
  own->delivery_id = std::string(delivery_id_);
  own->target_commitish = src_.target_commitish;
  own->evidence = src_.evidence;
  own->foldable = !std::holds_alternative<rules::newest_policy>(rule.policy.kind);
  std::vector<std::shared_ptr<group_edit>> batch{own};
  group_lanes::turn turn;
  if (s_.lanes) {
    auto entered = co_await s_.lanes->enter(repo_.full() + " " + branch, own);
    if (!entered) {
      log_.info("made in another delivery's commit to the group branch",
                {{"environment", env.name}, {"branch", branch}, {"tag", p_.tag}});
      co_return own->outcome ? *own->outcome : result<void>(ok_v);
    }
    const bool waited = entered->waited();
    turn = std::move(*entered);
    if (own->foldable && !waited) {
      // A train's deliveries arrive over seconds: gathering for a moment makes one commit and
      // one PR update of several (limits::k_group_gather). Only a delivery that found the lane
      // idle gathers: one that waited for its turn has had the queue fill behind it meanwhile,
      // and its deadline (limits::k_delivery_deadline) already paid for the wait.
      asio::steady_timer gather(co_await asio::this_coro::executor);
      gather.expires_after(limits::k_group_gather);
      co_await gather.async_wait(asio::use_awaitable);
    }
    auto more = turn.take_batch(limits::k_group_batch_max - 1);
    batch.insert(batch.end(), more.begin(), more.end());
  }
  auto written = co_await write_group(rules, env, rule, batch);
  turn.answer(written);
  co_return written;
}

asio::awaitable<result<void>> bump_run::write_group(
    const rules::rules_file& rules, const rules::environment& env, const rules::image_rule& rule,
    std::vector<std::shared_ptr<group_edit>> batch) {
  const auto env_log = log_.with({{"environment", env.name}, {"group", rule.group}});
  const std::string branch = rules::branch_name(env, rule);
  // Read now, not from the delivery's first read: the turn and the gathering came since, and a
  // head read then would lose the compare-and-swap to any writer in between. A read costs no
  // write budget.
  auto pulls = co_await pulls_of(*api_, branch);
  if (!pulls) {
    co_return pulls.error();
  }
  std::optional<pull_request> pr = pulls->open;
  const auto& closed = pulls->last_closed;
  std::string evidence;
  std::vector<std::shared_ptr<group_edit>> edits;
  for (auto& e : batch) {
    if (!e->evidence.empty()) {
      evidence = e->evidence;
    }
    // SPEC pull_request: a closed group PR skips exactly the tags its rows named.
    if (!pr && closed && !closed->merged &&
        ferry::promotion::group_body_lists(closed->body, env.name, e->image, e->tag)) {
      env_log.info("tag skipped: the group's pull request that carried it was closed",
                   {{"image", e->image}, {"tag", e->tag}});
      continue;
    }
    edits.push_back(e);
  }
  if (batch.size() > 1) {
    env_log.info("one commit for the group's queued deliveries",
                 {{"branch", branch}, {"edits", std::to_string(edits.size())}});
  }
  branch_read seen;
  if (pr) {
    seen = {.known = true, .head = pr->head_sha};
  }
  for (int attempt = 1;; ++attempt) {
    const bool leftover = !pr && closed && seen.head && closed->head_sha == *seen.head;
    const bool on_branch = seen.known && seen.head && (pr || attempt > 1) && !leftover;
    // The files the edits are made on: the branch's (its other images stay), or the default
    // head's for a branch made anew.
    std::vector<markers::scanned_file> files;
    if (on_branch) {
      auto read = co_await branch_files(*seen.head, env);
      if (!read) {
        co_return read.error();
      }
      files = std::move(*read);
    } else {
      files = head_files_;
    }
    const std::vector<markers::scanned_file> before = files;
    std::vector<ferry::promotion::group_row> rows;
    std::vector<std::string> edited;  // "name to tag", for the commit message
    std::optional<std::string> trailer;
    for (const auto& e : edits) {
      const rules::image_rule* r = rule_by_ref(rules, e->rule);
      if (r == nullptr || r->group != rule.group) {
        // The rules changed between that delivery's read and this one: it decides again.
        e->outcome = make_error(error_kind::transient,
                                "rule " + e->rule + " is no longer in group " + rule.group);
        continue;
      }
      const std::vector<std::string> open_values =
          on_branch ? ferry::promotion::running_tags(before, *r, env) : std::vector<std::string>{};
      ferry::promotion::plan_options options;
      options.environment = env.name;
      options.newest = rules::newest_mode::accept_any;
      for (const auto& v : open_values) {
        options.open_pr_values.emplace_back(env.name, v);
      }
      if (!e->target_commitish.empty()) {
        options.source_branch = e->target_commitish;
      }
      const ferry::promotion::candidate c{
          r->image, e->tag,
          e->digest.empty() ? std::nullopt : std::optional<std::string>(e->digest)};
      auto planned = ferry::promotion::plan(rules, head_files_, c, options);
      if (!planned) {
        co_return planned.error();
      }
      const auto ep = std::find_if(planned->environments.begin(), planned->environments.end(),
                                   [&](const auto& p) { return p.rule == r; });
      if (ep == planned->environments.end() || ep->status != ferry::promotion::env_status::change) {
        env_log.info("nothing to promote",
                     {{"image", e->image},
                      {"tag", e->tag},
                      {"reason", ep != planned->environments.end() ? ep->reason : "no plan"}});
        continue;
      }
      bump_facts facts = facts_for(env, *r);
      facts.to_tag = e->tag;
      facts.digest = e->digest;
      facts.source_commit = e->source_commit;
      const bool decided_before = contains_value(open_values, e->tag);
      if (!decided_before && needs_commit_compare(r->policy, ep->previous_values, open_values)) {
        if (e.get() != batch.front().get()) {
          continue;  // never folded (group_edit::foldable); kept safe here all the same
        }
        const auto pr_head = on_branch ? seen.head : std::nullopt;
        auto allowed = co_await newest_allows(*r, ep->previous_values, open_values, pr_head, facts);
        if (!allowed) {
          co_return allowed.error();
        }
        if (!*allowed) {
          continue;
        }
      }
      // The same decision, made on the files as the batch has edited them.
      auto on_top = ferry::promotion::plan(rules, files, c, options);
      if (!on_top) {
        co_return on_top.error();
      }
      const auto tp = std::find_if(on_top->environments.begin(), on_top->environments.end(),
                                   [&](const auto& p) { return p.rule == r; });
      if (tp == on_top->environments.end() || tp->status != ferry::promotion::env_status::change) {
        continue;
      }
      auto applied = apply_to(files, tp->changes);
      if (!applied) {
        co_return applied.error();
      }
      ferry::promotion::group_row_facts rf;
      rf.environment = env.name;
      rf.rule = e->rule;
      rf.image = r->image;
      rf.from_values = ep->previous_values;
      rf.to_tag = e->tag;
      rf.digest = e->digest;
      rf.package_url = e->package_url;
      rf.source_repo_url = e->source_repo_url;
      rf.source_commit = e->source_commit;
      rf.delivery_id = e->delivery_id;
      if (auto row = ferry::promotion::make_group_row(rf)) {
        rows.push_back(std::move(*row));
      }
      edited.push_back(r->name + " to " + e->tag);
      if (e->source_commit) {
        trailer = e->source_commit;
      }
    }
    // Every file the edits changed, against the files they were made on.
    std::vector<markers::file_change> changes;
    for (const auto& f : files) {
      const auto was =
          std::find_if(before.begin(), before.end(),
                       [&](const markers::scanned_file& b) { return b.path == f.path; });
      if (was == before.end() || was->content != f.content) {
        changes.push_back({f.path, was == before.end() ? std::string() : was->content, f.content});
      }
    }
    if (changes.empty()) {
      if (on_branch && pr) {
        // Nothing to write (a redelivery, or every tag already there): the PR is still made
        // right (SPEC "Converge, don't remember").
        // Named, not braced in the co_await: GCC 12 destroys such a temporary twice.
        branch_state unchanged{*seen.head, false};
        co_return co_await converge_group_pr(rules, env, rule, std::move(unchanged),
                                             std::move(files), std::move(rows), evidence);
      }
      co_return ok_v;
    }
    // "ferry: bump api to 1.2.0 in staging", or for several, the count and each on its own line;
    // the group's trailer and the source commit trailer of the last edit that has one (SPEC
    // "Policies").
    std::string message = edited.size() == 1
                              ? "ferry: bump " + edited.front() + " in " + env.name
                              : "ferry: bump " + std::to_string(edited.size()) +
                                    " images of group " + rule.group + " in " + env.name;
    message += "\n";
    if (edited.size() > 1) {
      message += "\n";
      for (const auto& line : edited) {
        message += "- " + line + "\n";
      }
    }
    // The PR rows of the edits, one per line as in the body: the branch keeps them, so a row
    // whose body update a concurrent writer overwrote is recovered with its details
    // (recover_rows) instead of rebuilt bare.
    if (!rows.empty()) {
      message += "\n";
      for (const auto& row : rows) {
        message += row.text + "\n";
      }
    }
    // Trailers, in the last paragraph: the group (always, so the next writer knows the head
    // as ferry's: is_ferry_head), then the last edit's source commit.
    message += "\n" + std::string(k_group_trailer) + ": " + rule.group + "\n";
    if (trailer) {
      message += std::string(k_source_commit_trailer) + ": " + *trailer + "\n";
    }
    const commit_text text{message, edited.size() == 1 ? edited.front() : rule.group};
    bump_writer w = writer();
    w.on_branch = on_branch;
    auto written = co_await w.write_branch(branch, changes, text, pr, seen);
    if (!written) {
      if (written.error().kind != error_kind::conflict ||
          attempt >= limits::k_ref_update_attempts) {
        co_return written.error();
      }
      // Lost a compare-and-swap: another writer moved the branch. Read it and make the edits
      // again on top of what it carries now.
      env_log.info("group branch moved meanwhile: reading it and making the edits again",
                   {{"branch", branch}, {"attempt", std::to_string(attempt)}});
      auto now = co_await api_->branch_head(branch);
      if (!now) {
        co_return now.error();
      }
      seen = {.known = true, .head = *now};
      continue;
    }
    if (!*written) {
      co_return ok_v;  // a head ferry did not write: left alone, with a comment
    }
    if (s_.metrics != nullptr && (*written)->wrote) {
      for (const auto& row : rows) {
        s_.metrics->promotions.with({env.name, row.rule.substr(row.rule.find(':') + 1)}).inc();
      }
    }
    co_return co_await converge_group_pr(rules, env, rule, **written, std::move(files),
                                         std::move(rows), evidence);
  }
}

// Rows for the members whose branch values neither `old_rows` nor `written` name: read from
// the newest commit of the branch (from `head`) whose message carries that row, as write_group
// puts them there. Such a row was lost when another writer's body update overwrote the one that
// listed it. Members found nowhere are left to merge_group_rows ("read from the branch").
asio::awaitable<result<std::vector<ferry::promotion::group_row>>> bump_run::recover_rows(
    const std::string& head, const rules::environment& env,
    const std::vector<ferry::promotion::group_member>& members,
    const std::vector<ferry::promotion::group_row>& old_rows,
    const std::vector<ferry::promotion::group_row>& written) {
  const auto named = [&](const std::vector<ferry::promotion::group_row>& rows,
                         const ferry::promotion::group_member& m) {
    return std::any_of(rows.begin(), rows.end(), [&](const ferry::promotion::group_row& r) {
      return r.environment == env.name && r.rule == m.rule &&
             contains_value(m.branch_values, r.tag);
    });
  };
  std::vector<const ferry::promotion::group_member*> missing;
  for (const auto& m : members) {
    if (m.branch_values != m.from_values && !m.branch_values.empty() && !named(written, m) &&
        !named(old_rows, m)) {
      missing.push_back(&m);
    }
  }
  if (missing.empty()) {
    co_return std::vector<ferry::promotion::group_row>{};
  }
  co_return co_await blocking(s_.pool, [&]() -> result<std::vector<ferry::promotion::group_row>> {
    auto present = mirror_->fetch(clone_url_, head, git::credentials{token_});
    if (!present) {
      return present.error();
    }
    std::vector<ferry::promotion::group_row> out;
    for (const auto* m : missing) {
      for (const auto& tag : m->branch_values) {
        const std::string needle =
            "env=" + env.name + " rule=" + m->rule + " image=" + m->image + " tag=" + tag + " -->";
        auto found =
            mirror_->find_commit(head, limits::k_group_rows_max, [&](std::string_view message) {
              return message.find(needle) != std::string_view::npos;
            });
        if (!found) {
          return found.error();
        }
        if (!*found) {
          continue;
        }
        for (auto& r : ferry::promotion::parse_group_rows((*found)->message)) {
          if (r.environment == env.name && r.rule == m->rule && r.tag == tag) {
            out.push_back(std::move(r));
            break;
          }
        }
        break;
      }
    }
    return out;
  });
}

// The marker files a branch head carries under env's paths.
asio::awaitable<result<std::vector<markers::scanned_file>>> bump_run::branch_files(
    const std::string& branch_head, const rules::environment& env) {
  co_return co_await blocking(s_.pool, [&]() -> result<std::vector<markers::scanned_file>> {
    auto present = mirror_->fetch(clone_url_, branch_head, git::credentials{token_});
    if (!present) {
      return present.error();
    }
    return scan_marker_files(*mirror_, branch_head, env.paths);
  });
}

asio::awaitable<result<void>> bump_run::converge_group_pr(
    const rules::rules_file& rules, const rules::environment& env, const rules::image_rule& rule,
    branch_state state, std::vector<markers::scanned_file> files,
    std::vector<ferry::promotion::group_row> written_rows, std::string evidence) {
  const auto env_log = log_.with({{"environment", env.name}, {"group", rule.group}});
  const std::string branch = rules::branch_name(env, rule);
  const auto members = rules::group_rules(rules, rule.group);
  for (int attempt = 1;; ++attempt) {
    // The PR as it is now (not the delivery's first read: another writer may have changed its
    // body since), so its rows are kept.
    auto pulls = co_await pulls_of(*api_, branch);
    if (!pulls) {
      co_return pulls.error();
    }
    std::vector<ferry::promotion::group_member> state_of;
    for (const auto* m : members) {
      ferry::promotion::group_member gm;
      gm.rule = m->marker_ref();
      gm.image = m->image;
      gm.from_values = ferry::promotion::running_tags(head_files_, *m, env);
      gm.branch_values = ferry::promotion::running_tags(files, *m, env);
      state_of.push_back(std::move(gm));
    }
    const std::string old_body = pulls->open ? pulls->open->body : std::string();
    const auto old_rows = ferry::promotion::parse_group_rows(old_body);
    auto recovered = co_await recover_rows(state.head, env, state_of, old_rows, written_rows);
    if (!recovered) {
      co_return recovered.error();
    }
    written_rows.insert(written_rows.end(), recovered->begin(), recovered->end());
    const auto rows =
        ferry::promotion::merge_group_rows(old_rows, state_of, written_rows, env.name);
    pr_shape shape;
    shape.title = ferry::promotion::group_pr_title(env.name, rule.group, rows.size());
    shape.body = ferry::promotion::group_pr_body(env.name, rule.group, rows, evidence,
                                                 merge_consequences(rules, env));
    shape.labels = {"ferry", "env:" + env.name};
    shape.reviewers = env.reviewers;
    shape.team_reviewers = env.team_reviewers;
    shape.merge = env.merge;
    // The body is written whenever it differs: rows follow the branch, whoever moved it.
    const branch_state as_written{state.head,
                                  state.wrote || (pulls->open && old_body != shape.body)};
    auto converged =
        co_await writer().converge_pr(shape, branch, std::move(pulls->open), as_written, env.name);
    if (!converged) {
      co_return converged.error();
    }
    // Another writer may have moved the branch after this delivery read it, and its body update
    // may have landed before this one: the branch says what the PR carries, so the body is
    // brought up to it.
    auto now = co_await api_->branch_head(branch);
    if (!now) {
      co_return now.error();
    }
    // No branch: merged and deleted meanwhile.
    if (!*now || **now == state.head || attempt >= limits::k_ref_update_attempts) {
      co_return ok_v;
    }
    const std::string moved_to = **now;
    env_log.info("group branch moved meanwhile: bringing its pull request up to the new head",
                 {{"branch", branch}, {"head", moved_to}});
    auto read = co_await branch_files(moved_to, env);
    if (!read) {
      co_return read.error();
    }
    files = std::move(*read);
    state = branch_state{moved_to, false};
  }
}

}  // namespace ferry::handlers::bump_detail
