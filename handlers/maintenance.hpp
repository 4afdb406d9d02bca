#pragma once
// Work no webhook asks for, done by one replica at a time (the holder of a
// coordination.k8s.io/v1 Lease; SPEC "Reliability"), or by every replica outside a cluster:
// resuming applies whose status is still pending after a restart, and redelivering webhooks
// that failed.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>

#include "handlers/registry.hpp"
#include "service/log.hpp"
#include "service/result.hpp"

namespace ferry::kube {
class lease_elector;
}

namespace ferry::handlers {

// Follows again every apply whose `ferry/apply/<env>` status is still pending on the newest
// default-branch commits of each infra repository (limits::k_resume_commits of them). Safe to
// run on several replicas at once: triggering converges (AlreadyExists, the same requestedAt)
// and statuses are idempotent. Returns how many applies are followed.
boost::asio::awaitable<result<int>> resume_pending_applies(
    std::shared_ptr<const handler_settings> s, log::logger log);

// Asks GitHub to redeliver the App's webhook deliveries of the last three days that failed
// (5xx, or no answer) and never succeeded since (GET /app/hook/deliveries, POST
// .../attempts). Returns how many redeliveries were requested.
boost::asio::awaitable<result<int>> redeliver_failed(const handler_settings& s, log::logger log,
                                                     std::chrono::system_clock::time_point now);

// The loop: renew (or try to take) the Lease every limits::k_lease_renew_period; on becoming the
// holder, resume pending applies; while holding it, every limits::k_sweep_interval, resume again
// (applies of replicas that died) and sweep failed deliveries. Without an elector (no Kubernetes
// API: ferry outside a cluster) every replica sweeps on its own, since GitHub's redelivery is
// handled idempotently; pending applies are resumed only when a Kubernetes API is configured.
// Runs until the io_context stops.
boost::asio::awaitable<void> run_maintenance(std::shared_ptr<const handler_settings> s,
                                             kube::lease_elector* elector, log::logger log);

}  // namespace ferry::handlers
