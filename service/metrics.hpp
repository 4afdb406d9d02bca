#pragma once
// A small Prometheus registry for every part of ferry, rendered by GET /metrics in the text
// exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats).
//
// Hot path: updating a series is one relaxed atomic operation. Finding a series by label values
// walks a short lock-free list; a mutex is taken only the first time a label set is seen. Code
// that updates the same series often (the ingress) looks it up once and keeps the reference:
// series never move and live as long as the registry.
//
// Registration (names, help, label names, buckets) happens once at start-up with constant
// arguments; a malformed name is a programming error and throws std::invalid_argument there,
// never later.

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::service {

class counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept { v_.fetch_add(d, std::memory_order_relaxed); }
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0.0};
};

class histogram {
 public:
  // bounds: strictly increasing upper bounds, shared with the family (outlives the histogram).
  explicit histogram(const std::vector<double>& bounds);
  void observe(double v) noexcept;
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }
  // Observations in bucket i alone (not cumulative); i == bounds.size() is the +Inf bucket.
  std::uint64_t bucket(std::size_t i) const noexcept {
    return buckets_[i].load(std::memory_order_relaxed);
  }

 private:
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
  std::atomic<std::uint64_t> count_{0};
};

// One metric name with its label names; a series per distinct label-value tuple.
class metric_family {
 public:
  enum class kind { counter, gauge, histogram };
  metric_family(std::string name, std::string help, kind k, std::vector<std::string> label_names);
  virtual ~metric_family() = default;
  metric_family(const metric_family&) = delete;
  metric_family& operator=(const metric_family&) = delete;

  const std::string& name() const noexcept { return name_; }
  // Appends "# HELP", "# TYPE" and every series to out.
  void render(std::string& out) const;

 protected:
  struct series_base {
    std::vector<std::string> label_values;
    std::atomic<series_base*> next{nullptr};
    virtual ~series_base() = default;
  };
  // The series for these label values, created on first sight. When the family already holds
  // limits::k_metric_series_max series, every new label set shares one series whose values are
  // all "overflow": memory stays bounded whatever values callers pass.
  series_base& find_or_add(std::initializer_list<std::string_view> label_values);
  virtual std::unique_ptr<series_base> make_series() const = 0;
  virtual void render_series(std::string& out, const series_base& s) const = 0;
  // "{a="x",b="y"" without the closing brace, or "" when there are no labels.
  void append_labels_open(std::string& out, const series_base& s) const;

 private:
  series_base* find(std::initializer_list<std::string_view> label_values) const noexcept;

  std::string name_;
  std::string help_;
  kind kind_;
  std::vector<std::string> label_names_;
  std::atomic<series_base*> head_{nullptr};
  series_base* tail_ = nullptr;  // guarded by add_mu_
  std::size_t size_ = 0;         // guarded by add_mu_
  std::mutex add_mu_;
  std::vector<std::unique_ptr<series_base>> owned_;  // guarded by add_mu_
};

template <typename Metric>
class basic_family : public metric_family {
 public:
  using metric_family::metric_family;
  // Label values in the order the label names were registered.
  Metric& with(std::initializer_list<std::string_view> label_values) {
    return static_cast<series&>(find_or_add(label_values)).metric;
  }

 protected:
  struct series : series_base {
    template <typename... Args>
    explicit series(Args&&... args) : metric(std::forward<Args>(args)...) {}
    Metric metric;
  };
};

class counter_family final : public basic_family<counter> {
 public:
  counter_family(std::string name, std::string help, std::vector<std::string> label_names);

 private:
  std::unique_ptr<series_base> make_series() const override;
  void render_series(std::string& out, const series_base& s) const override;
};

class gauge_family final : public basic_family<gauge> {
 public:
  gauge_family(std::string name, std::string help, std::vector<std::string> label_names);

 private:
  std::unique_ptr<series_base> make_series() const override;
  void render_series(std::string& out, const series_base& s) const override;
};

class histogram_family final : public basic_family<histogram> {
 public:
  histogram_family(std::string name, std::string help, std::vector<std::string> label_names,
                   std::vector<double> bounds);

 private:
  std::unique_ptr<series_base> make_series() const override;
  void render_series(std::string& out, const series_base& s) const override;
  std::vector<double> bounds_;
};

class metric_registry {
 public:
  // Names must start with "ferry_" and be valid Prometheus names; label names must be valid and
  // not reserved; histogram bounds strictly increasing and finite. A name registered twice is an
  // error. Violations throw std::invalid_argument (start-up only).
  counter_family& add_counter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  gauge_family& add_gauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  histogram_family& add_histogram(std::string name, std::string help,
                                  std::vector<std::string> label_names, std::vector<double> bounds);

  // The exposition text of every family, in registration order.
  void render(std::string& out) const;
  std::string render() const;

 private:
  void check_new_name(const std::string& name) const;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<metric_family>> families_;
};

// Prometheus' content type for the text format this registry renders.
inline constexpr std::string_view k_metrics_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

// Every metric ferry exports (SPEC: "GET /metrics"). Built once by the composition root and
// passed by reference to the server and the clients that update it.
struct metrics {
  metrics();
  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  metric_registry registry;
  // {event, outcome}: outcome is done|accepted|ignored or an error kind (invalid_input, ...).
  counter_family& deliveries;
  // Time from a delivery's complete request header to its answer being ready.
  histogram& delivery_duration;
  // {reason}: requests refused by a guard before dispatch (too_large, bad_signature,
  // unsupported_media_type, bad_request).
  counter_family& webhook_rejections;
  gauge& connections_active;
  // {status}: the HTTP status of each GitHub API call, or "error" when none came back.
  counter_family& github_api_calls;
  gauge& github_rate_limit_remaining;
  // {installation}: slots left in ferry's write budget of that App installation
  // (service/github/write_budget.hpp), after its latest write or deferral.
  gauge_family& github_write_budget_remaining;
  // {installation}: writes not sent because no budget slot freed within the call's wait (the
  // delivery answered 503 and is redelivered).
  counter_family& github_writes_deferred;
  // GitHub answers that were a secondary rate limit (403/429 with retry-after or GitHub's
  // message, the primary limit not exhausted), every attempt counted.
  counter& github_secondary_limits;
  // {action}: opened|updated|merged|closed...
  counter_family& pull_requests;
  // {outcome}: success|failure|error.
  counter_family& applies;
  // {outcome}: success|failure|error, one per environment's gates settled (docs/rules.md).
  counter_family& gates;
  // {repo}: 1 when the repo's rules file is valid, 0 while it is not.
  gauge_family& rules_valid;
  // {version}: always 1; the label carries the build's version (CMake project VERSION), so a
  // dashboard can join or show which release runs.
  gauge_family& build_info;
  // {stage, env}: seconds from one step of the promotion chain to the next (issue 15.6):
  //   publication_to_pr        a publication's delivery arrived -> its PR opened
  //   merge_to_applied         the merge commit (its committer time) -> the apply succeeded
  //   applied_to_promotion_pr  an apply succeeded -> the next environment's PR opened
  // env is an environment name from the rules (bounded by the rules, and by the overflow series).
  histogram_family& lead_time;
  // {env, image}: values written to a PR branch (a PR opened or superseded); image is the rule's
  // name, never a string from a payload.
  counter_family& promotions;
};

}  // namespace ferry::service
