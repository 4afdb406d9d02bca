// `ferry onboard`'s reading and writing: the only part of ferry_onboard that touches files.

#include <filesystem>
#include <fstream>
#include <sstream>

#include "service/limits.hpp"
#include "service/markers/markers.hpp"
#include "service/onboard/onboard.hpp"
#include "service/rules/rules.hpp"

namespace ferry::onboard {
namespace {

namespace fs = std::filesystem;

constexpr int k_exit_ok = 0;
constexpr int k_exit_rules = 1;
constexpr int k_exit_usage = 2;
constexpr int k_exit_nothing = 4;

// The whole file, or an error naming it; a file over `max` bytes is refused unread.
result<std::string> read_bounded(const fs::path& path, std::size_t max) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) {
    return make_error(error_kind::not_found, path.string() + ": " + ec.message());
  }
  if (size > max) {
    return make_error(error_kind::invalid_input, path.string() + ": " + std::to_string(size) +
                                                     " bytes, more than " + std::to_string(max) +
                                                     " (1 MiB): not a file ferry onboard reads");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(error_kind::not_found, path.string() + ": cannot be read");
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct planned_write {
  std::string path;
  std::string old_content;  // empty and !exists: a new file
  bool exists = false;
  std::string new_content;
};

// A unified diff where new files are marked as such (`--- /dev/null`, "new file mode"), so
// `git apply` creates them.
std::string diff_of(const std::vector<planned_write>& writes) {
  std::string out;
  for (const auto& w : writes) {
    const markers::file_change change{w.path, w.old_content, w.new_content};
    std::string d = markers::unified_diff(std::span(&change, 1));
    if (!w.exists && !d.empty()) {
      // Replace the "--- a/<path>" line of the header.
      const auto first_nl = d.find('\n');
      const auto second_nl = d.find('\n', first_nl + 1);
      d = d.substr(0, first_nl + 1) + "new file mode 100644\n--- /dev/null\n" +
          d.substr(second_nl + 1);
    }
    out += d;
  }
  return out;
}

void print_lines(std::FILE* f, const std::vector<std::string>& lines) {
  for (const auto& l : lines) {
    std::fprintf(f, "%s\n", l.c_str());
  }
}

}  // namespace

int run_onboard(const onboard_cli& cli, std::FILE* out, std::FILE* err) {
  const fs::path repo(cli.repo_dir);
  std::error_code ec;
  if (!fs::is_directory(repo, ec)) {
    std::fprintf(err, "ferry onboard: --repo %s: not a directory\n", cli.repo_dir.c_str());
    return k_exit_usage;
  }
  auto compose_text = read_bounded(cli.compose_path, k_compose_file_max);
  if (!compose_text) {
    std::fprintf(err, "ferry onboard: %s\n", compose_text.error().message.c_str());
    return k_exit_usage;
  }
  options opts;
  opts.app = cli.app;
  if (!cli.envs.empty()) {
    opts.envs.clear();
    for (std::size_t start = 0;;) {
      const auto comma = cli.envs.find(',', start);
      opts.envs.push_back(cli.envs.substr(start, comma - start));
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
  }
  opts.compose_name = fs::path(cli.compose_path).filename().string();

  const fs::path rules_path = repo / ".github" / "ferry.yaml";
  std::string rules_text;
  const bool have_rules = fs::exists(rules_path, ec);
  if (have_rules) {
    auto r = read_bounded(rules_path, limits::k_rules_file_max);
    if (!r) {
      std::fprintf(err, "ferry onboard: %s\n", r.error().message.c_str());
      return k_exit_rules;
    }
    rules_text = std::move(*r);
    const auto parsed = rules::parse_rules(rules_text, ".github/ferry.yaml");
    if (!parsed) {
      std::fprintf(err, "%s", parsed.report().c_str());
      return k_exit_rules;
    }
    auto o = options_from_rules(rules_text, ".github/ferry.yaml", opts);
    if (!o) {
      std::fprintf(err, "%s\n", o.error().message.c_str());
      return k_exit_rules;
    }
    opts = std::move(*o);
  }
  // The command line wins over the rules file.
  if (!cli.org.empty()) {
    opts.org = cli.org;
  }
  if (!cli.domain.empty()) {
    opts.domain = cli.domain;
  }

  auto conv = convert_text(*compose_text, opts);
  if (!conv) {
    std::fprintf(err, "ferry onboard: %s: %s\n", cli.compose_path.c_str(),
                 conv.error().message.c_str());
    return k_exit_usage;
  }
  auto& log = conv->log;

  // What would be written, and what is in the way.
  std::vector<planned_write> writes;
  std::vector<std::string> conflicts;
  auto plan_write = [&](const std::string& path, std::string content) -> bool {
    planned_write w{path, "", false, std::move(content)};
    const auto full = repo / path;
    if (fs::exists(full, ec)) {
      auto old = read_bounded(full, limits::k_rules_file_max);
      if (!old) {
        conflicts.push_back(old.error().message);
        return false;
      }
      w.exists = true;
      w.old_content = std::move(*old);
    }
    if (w.exists && w.old_content == w.new_content) {
      return true;
    }
    writes.push_back(std::move(w));
    return true;
  };
  for (auto& f : conv->files) {
    const auto full = repo / f.path;
    if (fs::exists(full, ec)) {
      auto old = read_bounded(full, limits::k_rules_file_max);
      if (old && *old != f.content && !old->starts_with(k_generated_header)) {
        conflicts.push_back(f.path +
                            ": exists and was not generated by ferry onboard (or its first line "
                            "was removed to keep it): left alone");
        continue;
      }
      if (old && *old != f.content) {
        log.push_back(f.path + ": replaced (generated by ferry onboard before)");
      }
    }
    plan_write(f.path, std::move(f.content));
  }
  if (!conflicts.empty()) {
    print_lines(err, conflicts);
    std::fprintf(err, "ferry onboard: nothing written: %zu files in the way\n", conflicts.size());
    return k_exit_usage;
  }
  auto new_rules = add_image_rules(rules_text, *conv, opts, log);
  if (!new_rules) {
    std::fprintf(err, "ferry onboard: %s\n", new_rules.error().message.c_str());
    return new_rules.error().kind == error_kind::conflict ? k_exit_usage : k_exit_rules;
  }
  if (*new_rules != rules_text) {
    const auto check = rules::parse_rules(*new_rules, ".github/ferry.yaml");
    if (!check) {
      std::fprintf(err, "ferry onboard: the rules file with the new rules would be invalid:\n%s",
                   check.report().c_str());
      return k_exit_rules;
    }
    plan_write(".github/ferry.yaml", *new_rules);
  }
  // Each overlay under an environment's path is listed in that path's kustomization, if any.
  for (const auto& [env, dir] : opts.overlay_dirs) {
    const auto parent = fs::path(dir).parent_path();
    const auto kpath = (parent / "kustomization.yaml").generic_string();
    if (!fs::exists(repo / kpath, ec)) {
      continue;
    }
    auto k = read_bounded(repo / kpath, limits::k_rules_file_max);
    if (!k) {
      continue;
    }
    if (auto updated = add_kustomize_resource(*k, opts.app)) {
      plan_write(kpath, std::move(*updated));
      log.push_back(env + ": " + kpath + ": " + opts.app + " added to resources");
    }
  }

  if (writes.empty()) {
    print_lines(cli.dry_run ? err : out, log);
    std::fprintf(err, "ferry onboard: nothing would change\n");
    return k_exit_nothing;
  }
  if (cli.dry_run) {
    print_lines(err, log);
    std::fprintf(out, "%s", diff_of(writes).c_str());
    return k_exit_ok;
  }
  for (const auto& w : writes) {
    const auto full = repo / w.path;
    fs::create_directories(full.parent_path(), ec);
    std::ofstream f(full, std::ios::binary | std::ios::trunc);
    f << w.new_content;
    f.close();
    if (!f) {
      std::fprintf(err, "ferry onboard: %s: cannot be written\n", w.path.c_str());
      return k_exit_usage;
    }
  }
  print_lines(out, log);
  std::fprintf(out, "ferry onboard: %zu files written under %s\n", writes.size(),
               cli.repo_dir.c_str());
  return k_exit_ok;
}

}  // namespace ferry::onboard
