#pragma once
// Structured logs: one JSON object a line (or key=value text for local development).
// A logger is a value: `with()` returns a copy carrying more fields, so every line of a
// delivery carries its delivery id, repo, environment and image without a global.
// Secrets must never be passed as field values; tokens and keys have no business in a log.

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::log {

enum class level { debug = 0, info = 1, warn = 2, error = 3 };
enum class format { json, text };

struct field {
  std::string key;
  std::string value;
};

// Where lines go. One sink a process; writes of whole lines are serialised.
class sink {
 public:
  sink(std::FILE* out, level min, format fmt) : out_(out), min_(min), fmt_(fmt) {}
  void write_line(std::string_view line);
  level min_level() const noexcept { return min_; }
  log::format line_format() const noexcept { return fmt_; }

 private:
  std::FILE* out_;
  level min_;
  log::format fmt_;
  std::mutex mu_;
};

class logger {
 public:
  logger() = default;  // discards everything (tests, benchmarks)
  explicit logger(std::shared_ptr<sink> s) : sink_(std::move(s)) {}

  // A copy with more fields; later fields with the same key replace earlier ones.
  logger with(std::vector<field> extra) const;

  bool enabled(level l) const noexcept { return sink_ && l >= sink_->min_level(); }
  void log(level l, std::string_view msg, std::vector<field> extra = {}) const;
  void debug(std::string_view msg, std::vector<field> extra = {}) const {
    log(level::debug, msg, std::move(extra));
  }
  void info(std::string_view msg, std::vector<field> extra = {}) const {
    log(level::info, msg, std::move(extra));
  }
  void warn(std::string_view msg, std::vector<field> extra = {}) const {
    log(level::warn, msg, std::move(extra));
  }
  void error(std::string_view msg, std::vector<field> extra = {}) const {
    log(level::error, msg, std::move(extra));
  }

 private:
  std::shared_ptr<sink> sink_;
  std::vector<field> fields_;
};

// Parses FERRY_LOG_LEVEL / FERRY_LOG_FORMAT values; false on an unknown word.
bool parse_level(std::string_view text, level& out);
bool parse_format(std::string_view text, format& out);

// JSON string escaping (RFC 8259), shared with the metrics and replay output.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace ferry::log
