#include "service/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "service/limits.hpp"

namespace ferry::service {
namespace {

bool valid_name_char(char c, bool first) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return alpha || (!first && c >= '0' && c <= '9');
}

// Metric and label names: [a-zA-Z_][a-zA-Z0-9_]* (the exposition format also allows ':' in
// metric names, reserved for recording rules, so ferry does not use it).
bool valid_identifier(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!valid_name_char(s[i], i == 0)) {
      return false;
    }
  }
  return true;
}

void check_label_names(const std::vector<std::string>& names, bool histogram) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto& n = names[i];
    // Names starting with "__" are reserved for Prometheus; "le" is the histogram bucket label.
    if (!valid_identifier(n) || n.starts_with("__") || (histogram && n == "le")) {
      throw std::invalid_argument("metrics: invalid label name \"" + n + "\"");
    }
    if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), n) !=
        names.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw std::invalid_argument("metrics: duplicate label name \"" + n + "\"");
    }
  }
}

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Values as Go's strconv.ParseFloat reads them (the format's reference parser): "+Inf", "-Inf",
// "NaN" for the special values, otherwise the shortest round-trip decimal, in plain notation
// between 1e-4 and 1e21 (so bucket bounds read "0.0005", not "5e-04") and scientific outside.
void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[64];
    const double a = std::fabs(v);
    const auto fmt = (a == 0 || (a >= 1e-4 && a < 1e21)) ? std::chars_format::fixed
                                                         : std::chars_format::scientific;
    const auto r = std::to_chars(buf, buf + sizeof buf, v, fmt);
    out.append(buf, r.ptr);
  }
}

// Label values escape backslash, double quote and line feed; HELP text escapes backslash and
// line feed (exposition format 0.0.4).
void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

const char* type_name(metric_family::kind k) {
  switch (k) {
    case metric_family::kind::counter:
      return "counter";
    case metric_family::kind::gauge:
      return "gauge";
    case metric_family::kind::histogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

histogram::histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    buckets_[i].store(0, std::memory_order_relaxed);
  }
}

void histogram::observe(double v) noexcept {
  // Bucket i holds observations with bounds[i-1] < v <= bounds[i] ("le" is inclusive).
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

metric_family::metric_family(std::string name, std::string help, kind k,
                             std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      kind_(k),
      label_names_(std::move(label_names)) {
  if (!name_.starts_with("ferry_") || !valid_identifier(name_)) {
    throw std::invalid_argument("metrics: invalid metric name \"" + name_ +
                                "\" (ferry's metrics are named ferry_[a-zA-Z0-9_]*)");
  }
  check_label_names(label_names_, k == kind::histogram);
}

metric_family::series_base* metric_family::find(
    std::initializer_list<std::string_view> label_values) const noexcept {
  // Acquire pairs with the release in find_or_add: a series is fully built before it is seen.
  for (series_base* s = head_.load(std::memory_order_acquire); s != nullptr;
       s = s->next.load(std::memory_order_acquire)) {
    if (std::equal(s->label_values.begin(), s->label_values.end(), label_values.begin(),
                   label_values.end())) {
      return s;
    }
  }
  return nullptr;
}

metric_family::series_base& metric_family::find_or_add(
    std::initializer_list<std::string_view> label_values) {
  if (label_values.size() != label_names_.size()) {
    throw std::invalid_argument("metrics: " + name_ + " takes " +
                                std::to_string(label_names_.size()) + " label values");
  }
  if (series_base* s = find(label_values)) {
    return *s;
  }
  std::lock_guard lock(add_mu_);
  if (series_base* s = find(label_values)) {  // another thread added it meanwhile
    return *s;
  }
  std::vector<std::string> values;
  if (size_ >= limits::k_metric_series_max) {
    values.assign(label_names_.size(), "overflow");
    for (series_base* s = head_.load(std::memory_order_acquire); s != nullptr;
         s = s->next.load(std::memory_order_acquire)) {
      if (s->label_values == values) {
        return *s;
      }
    }
  } else {
    values.assign(label_values.begin(), label_values.end());
  }
  auto created = make_series();
  created->label_values = std::move(values);
  series_base* raw = created.get();
  owned_.push_back(std::move(created));
  if (tail_ == nullptr) {
    head_.store(raw, std::memory_order_release);
  } else {
    tail_->next.store(raw, std::memory_order_release);
  }
  tail_ = raw;
  ++size_;
  return *raw;
}

void metric_family::append_labels_open(std::string& out, const series_base& s) const {
  if (label_names_.empty()) {
    return;
  }
  out += '{';
  for (std::size_t i = 0; i < label_names_.size(); ++i) {
    if (i != 0) {
      out += ',';
    }
    out += label_names_[i];
    out += "=\"";
    append_escaped(out, s.label_values[i], true);
    out += '"';
  }
}

void metric_family::render(std::string& out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  append_escaped(out, help_, false);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += type_name(kind_);
  out += '\n';
  for (const series_base* s = head_.load(std::memory_order_acquire); s != nullptr;
       s = s->next.load(std::memory_order_acquire)) {
    render_series(out, *s);
  }
}

counter_family::counter_family(std::string name, std::string help,
                               std::vector<std::string> label_names)
    : basic_family(std::move(name), std::move(help), kind::counter, std::move(label_names)) {}

std::unique_ptr<metric_family::series_base> counter_family::make_series() const {
  return std::make_unique<series>();
}

void counter_family::render_series(std::string& out, const series_base& s) const {
  out += name();
  append_labels_open(out, s);
  if (!s.label_values.empty()) {
    out += '}';
  }
  out += ' ';
  append_uint(out, static_cast<const series&>(s).metric.value());
  out += '\n';
}

gauge_family::gauge_family(std::string name, std::string help, std::vector<std::string> label_names)
    : basic_family(std::move(name), std::move(help), kind::gauge, std::move(label_names)) {}

std::unique_ptr<metric_family::series_base> gauge_family::make_series() const {
  return std::make_unique<series>();
}

void gauge_family::render_series(std::string& out, const series_base& s) const {
  out += name();
  append_labels_open(out, s);
  if (!s.label_values.empty()) {
    out += '}';
  }
  out += ' ';
  append_double(out, static_cast<const series&>(s).metric.value());
  out += '\n';
}

histogram_family::histogram_family(std::string name, std::string help,
                                   std::vector<std::string> label_names, std::vector<double> bounds)
    : basic_family(std::move(name), std::move(help), kind::histogram, std::move(label_names)),
      bounds_(std::move(bounds)) {
  if (bounds_.empty() ||
      !std::all_of(bounds_.begin(), bounds_.end(), [](double b) { return std::isfinite(b); }) ||
      std::adjacent_find(bounds_.begin(), bounds_.end(), std::greater_equal<>()) != bounds_.end()) {
    throw std::invalid_argument("metrics: " + this->name() +
                                " needs finite, strictly increasing bucket bounds");
  }
}

std::unique_ptr<metric_family::series_base> histogram_family::make_series() const {
  return std::make_unique<series>(bounds_);
}

void histogram_family::render_series(std::string& out, const series_base& s) const {
  const histogram& h = static_cast<const series&>(s).metric;
  const bool labelled = !s.label_values.empty();
  // Buckets are cumulative in the exposition format; the +Inf bucket equals _count.
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += h.bucket(i);
    out += name();
    out += "_bucket";
    if (labelled) {
      append_labels_open(out, s);
      out += ",le=\"";
    } else {
      out += "{le=\"";
    }
    if (i == bounds_.size()) {
      out += "+Inf";
    } else {
      append_double(out, bounds_[i]);
    }
    out += "\"} ";
    append_uint(out, cumulative);
    out += '\n';
  }
  const auto tail = [&](const char* suffix) {
    out += name();
    out += suffix;
    if (labelled) {
      append_labels_open(out, s);
      out += '}';
    }
    out += ' ';
  };
  tail("_sum");
  append_double(out, h.sum());
  out += '\n';
  tail("_count");
  // Written as the cumulative total so that _count always equals the +Inf bucket, even while
  // another thread observes during rendering.
  append_uint(out, cumulative);
  out += '\n';
}

void metric_registry::check_new_name(const std::string& name) const {
  for (const auto& f : families_) {
    if (f->name() == name) {
      throw std::invalid_argument("metrics: " + name + " registered twice");
    }
  }
}

counter_family& metric_registry::add_counter(std::string name, std::string help,
                                             std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  check_new_name(name);
  auto f =
      std::make_unique<counter_family>(std::move(name), std::move(help), std::move(label_names));
  auto& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

gauge_family& metric_registry::add_gauge(std::string name, std::string help,
                                         std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  check_new_name(name);
  auto f = std::make_unique<gauge_family>(std::move(name), std::move(help), std::move(label_names));
  auto& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

histogram_family& metric_registry::add_histogram(std::string name, std::string help,
                                                 std::vector<std::string> label_names,
                                                 std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  check_new_name(name);
  auto f = std::make_unique<histogram_family>(std::move(name), std::move(help),
                                              std::move(label_names), std::move(bounds));
  auto& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

void metric_registry::render(std::string& out) const {
  std::lock_guard lock(mu_);
  for (const auto& f : families_) {
    f->render(out);
  }
}

std::string metric_registry::render() const {
  std::string out;
  render(out);
  return out;
}

namespace {

// Handling latency buckets: sub-millisecond resolution for the fast path (an ignored delivery
// is answered in well under a millisecond) up to GitHub's 10 s delivery deadline
// (limits::k_github_delivery_deadline), past which GitHub has already recorded a timeout.
std::vector<double> delivery_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// Lead times: seconds (a webhook round trip and a Flux reconcile) to a day (a PR waiting for
// review overnight).
std::vector<double> lead_time_buckets() {
  return {1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400};
}

}  // namespace

metrics::metrics()
    : deliveries(registry.add_counter("ferry_deliveries_total",
                                      "Webhook deliveries handled, by event and outcome.",
                                      {"event", "outcome"})),
      delivery_duration(registry
                            .add_histogram("ferry_delivery_duration_seconds",
                                           "Time to handle a webhook delivery, from its complete "
                                           "request header to its answer.",
                                           {}, delivery_buckets())
                            .with({})),
      webhook_rejections(
          registry.add_counter("ferry_webhook_rejections_total",
                               "Webhook requests refused before dispatch, by reason.", {"reason"})),
      connections_active(
          registry.add_gauge("ferry_http_connections_active", "Open HTTP connections.").with({})),
      github_api_calls(registry.add_counter("ferry_github_api_calls_total",
                                            "GitHub API calls, by HTTP status.", {"status"})),
      github_rate_limit_remaining(
          registry
              .add_gauge("ferry_github_rate_limit_remaining",
                         "Requests left in the current GitHub rate-limit window.")
              .with({})),
      github_write_budget_remaining(registry.add_gauge(
          "ferry_github_write_budget_remaining",
          "Content-creating GitHub calls ferry's budget still allows the installation now.",
          {"installation"})),
      github_writes_deferred(registry.add_counter(
          "ferry_github_writes_deferred_total",
          "Content-creating GitHub calls not sent: no budget slot freed in time (answered 503).",
          {"installation"})),
      github_secondary_limits(
          registry
              .add_counter("ferry_github_secondary_limit_responses_total",
                           "GitHub answers that were a secondary rate limit (403/429).")
              .with({})),
      pull_requests(registry.add_counter("ferry_pull_requests_total",
                                         "Promotion pull requests, by action.", {"action"})),
      applies(registry.add_counter("ferry_applies_total", "Environment applies, by outcome.",
                                   {"outcome"})),
      gates(registry.add_counter("ferry_gates_total", "Gates before promotion settled, by outcome.",
                                 {"outcome"})),
      rules_valid(registry.add_gauge("ferry_rules_valid",
                                     "1 while the repository's rules file is valid, 0 while not.",
                                     {"repo"})),
      build_info(registry.add_gauge(
          "ferry_build_info", "Always 1; the version label names the running build.", {"version"})),
      lead_time(registry.add_histogram(
          "ferry_lead_time_seconds",
          "Seconds from one step of the promotion chain to the next, by stage and environment.",
          {"stage", "env"}, lead_time_buckets())),
      promotions(registry.add_counter(
          "ferry_promotions_total",
          "Values written to a promotion PR's branch, by environment and image rule.",
          {"env", "image"})) {
  build_info.with({FERRY_VERSION}).set(1);
}

}  // namespace ferry::service
