#pragma once
// Values at module boundaries: every client returns result<T>. Exceptions from third-party
// libraries (yaml-cpp, Asio, libgit2 wrappers) are caught at the module's edge and turned into
// an error with a kind; the kind alone decides whether a delivery is retried (see
// ferry::service::http_status_for).

#include <string>
#include <utility>
#include <variant>

namespace ferry {

enum class error_kind {
  invalid_input,  // the input is wrong and will stay wrong: do not retry
  unauthorized,   // credentials missing, expired or refused
  not_found,
  conflict,   // a compare-and-swap lost, an object already exists
  transient,  // network, timeouts, 5xx, rate limits: retry later
  internal,   // a bug or an impossible state
};

const char* to_string(error_kind kind) noexcept;

struct error {
  error_kind kind = error_kind::internal;
  std::string message;
};

inline error make_error(error_kind kind, std::string message) {
  return error{kind, std::move(message)};
}

template <typename T>
class result {
 public:
  result(T value) : v_(std::move(value)) {}     // NOLINT(google-explicit-constructor)
  result(ferry::error e) : v_(std::move(e)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }

  const ferry::error& error() const& { return std::get<1>(v_); }
  ferry::error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, ferry::error> v_;
};

// result<void>: success carries nothing.
struct ok_t {};
inline constexpr ok_t ok_v{};
template <>
class result<void> {
 public:
  result() = default;
  result(ok_t) {}                                           // NOLINT(google-explicit-constructor)
  result(ferry::error e) : e_(std::move(e)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const ferry::error& error() const& { return e_; }

 private:
  ferry::error e_{};
  bool ok_ = true;
};

inline const char* to_string(error_kind kind) noexcept {
  switch (kind) {
    case error_kind::invalid_input:
      return "invalid_input";
    case error_kind::unauthorized:
      return "unauthorized";
    case error_kind::not_found:
      return "not_found";
    case error_kind::conflict:
      return "conflict";
    case error_kind::transient:
      return "transient";
    case error_kind::internal:
      return "internal";
  }
  return "internal";
}

}  // namespace ferry
