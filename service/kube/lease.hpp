#pragma once
// coordination.k8s.io/v1 Lease leader election: one replica at a time sweeps failed deliveries
// and resumes pending applies (SPEC "Reliability"). client-go's leaderelection, simplified:
// no separate renew deadline; a replica counts itself leader until its last successful renew
// is a lease duration old, so a replica cut off from the API server steps down by itself
// before another can take over (both clocks run at the same rate; client-go assumes the same).

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <string>

#include "service/kube/client.hpp"
#include "service/limits.hpp"
#include "service/result.hpp"

namespace ferry::kube {

class lease_elector {
 public:
  lease_elector(client& c, std::string ns, std::string name, std::string identity,
                std::chrono::seconds duration = limits::k_lease_duration);

  // One round: create the Lease when absent (holder = identity); renew when we hold it (PUT
  // with resourceVersion); take it over when renewTime + leaseDurationSeconds is in the past
  // or it has no holder (leaseTransitions + 1); otherwise leave it. A lost write race (409)
  // means not leader. Returns whether this replica holds the lease after the round; an error
  // (the API server unreachable) leaves is_leader() to expire by itself.
  boost::asio::awaitable<result<bool>> step();

  // True while the last successful create/renew/takeover is younger than the duration.
  bool is_leader() const noexcept;

  // The clock the Lease times are read and written with (tests move it).
  using clock_fn = std::function<std::chrono::system_clock::time_point()>;
  void set_clock(clock_fn now);

 private:
  boost::asio::awaitable<result<bool>> write(std::string_view current_json, bool takeover);

  client& client_;
  std::string ns_;
  std::string name_;
  std::string identity_;
  std::chrono::seconds duration_;
  clock_fn now_;
  bool leader_ = false;
  std::chrono::steady_clock::time_point renewed_at_{};
};

}  // namespace ferry::kube
