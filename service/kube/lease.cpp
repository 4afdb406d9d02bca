#include "service/kube/lease.hpp"

#include <boost/json.hpp>

#include "service/kube/objects.hpp"

namespace ferry::kube {

namespace asio = boost::asio;
namespace json = boost::json;

lease_elector::lease_elector(client& c, std::string ns, std::string name, std::string identity,
                             std::chrono::seconds duration)
    : client_(c),
      ns_(std::move(ns)),
      name_(std::move(name)),
      identity_(std::move(identity)),
      duration_(duration),
      now_([] { return std::chrono::system_clock::now(); }) {}

void lease_elector::set_clock(clock_fn now) {
  now_ = std::move(now);
}

bool lease_elector::is_leader() const noexcept {
  return leader_ && std::chrono::steady_clock::now() - renewed_at_ < duration_;
}

asio::awaitable<result<bool>> lease_elector::step() {
  const std::string path = lease_path(ns_, name_);
  const auto started = std::chrono::steady_clock::now();
  auto current = co_await client_.get(path);
  if (!current && current.error().kind == error_kind::not_found) {
    const std::string now = format_micro_time(now_());
    json::object body{
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", json::object{{"name", name_}, {"namespace", ns_}}},
        {"spec", json::object{{"holderIdentity", identity_},
                              {"leaseDurationSeconds", duration_.count()},
                              {"acquireTime", now},
                              {"renewTime", now},
                              {"leaseTransitions", 0}}},
    };
    const std::string collection = "/apis/coordination.k8s.io/v1/namespaces/" + ns_ + "/leases";
    auto made = co_await client_.create_object(collection, json::serialize(body));
    if (!made) {
      co_return std::move(made).error();
    }
    if (!made->already_existed) {
      leader_ = true;
      renewed_at_ = started;
      co_return true;
    }
    current = std::move(made->object);  // another replica created it first: judge it below
  }
  if (!current) {
    co_return std::move(current).error();
  }
  auto lease = parse_lease(*current);
  if (!lease) {
    co_return std::move(lease).error();
  }
  if (lease->holder == identity_) {
    co_return co_await write(*current, false);
  }
  bool expired = lease->holder.empty();
  if (!expired) {
    const auto renewed =
        parse_micro_time(lease->renew_time.empty() ? lease->acquire_time : lease->renew_time);
    // A Lease without a readable time cannot prove it is held: treat it as expired
    // (client-go does the same with a nil RenewTime).
    expired = !renewed || *renewed + std::chrono::seconds(lease->lease_duration_seconds) < now_();
  }
  if (!expired) {
    leader_ = false;
    co_return false;
  }
  co_return co_await write(*current, true);
}

asio::awaitable<result<bool>> lease_elector::write(std::string_view current_json, bool takeover) {
  const auto started = std::chrono::steady_clock::now();
  json::value doc;
  try {
    doc = json::parse(current_json);
  } catch (const std::exception& e) {
    co_return make_error(error_kind::internal, std::string("Lease is not JSON: ") + e.what());
  }
  if (!doc.is_object()) {
    co_return make_error(error_kind::internal, "Lease is not a JSON object");
  }
  auto& obj = doc.as_object();
  if (!obj["spec"].is_object()) {
    obj["spec"] = json::object{};
  }
  auto& spec = obj["spec"].as_object();
  const std::string now = format_micro_time(now_());
  spec["holderIdentity"] = identity_;
  spec["leaseDurationSeconds"] = duration_.count();
  spec["renewTime"] = now;
  if (takeover) {
    std::int64_t transitions = 0;
    if (auto* t = spec.if_contains("leaseTransitions"); t != nullptr && t->is_int64()) {
      transitions = t->as_int64();
    }
    spec["leaseTransitions"] = transitions + 1;
    spec["acquireTime"] = now;
  }
  // PUT with the resourceVersion read: the API server refuses it (409) when another replica
  // wrote in between, so at most one of two racing replicas wins.
  const std::string path = lease_path(ns_, name_);
  auto put = co_await client_.replace(path, json::serialize(doc));
  if (!put) {
    if (put.error().kind == error_kind::conflict) {
      leader_ = false;
      co_return false;
    }
    co_return std::move(put).error();
  }
  leader_ = true;
  renewed_at_ = started;
  co_return true;
}

}  // namespace ferry::kube
