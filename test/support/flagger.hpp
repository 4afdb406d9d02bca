#pragma once
// A Flagger Canary (flagger.app/v1beta1) as Flagger leaves it, for the tests that play Flagger:
// the handler tests and the e2e test (Kubernetes double) and kube-real (the real API server).
// Valid against test/doubles/kube/flagger-canary.schema.json, Flagger's own CRD schema.

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace ferry::test {

// RFC 3339 in whole seconds, UTC: how Kubernetes writes metav1.Time.
inline std::string rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Canary apps/app for Deployment app: `phase` since `when`, the Promoted condition carrying
// Flagger's `message`.
inline boost::json::value canary_object(const std::string& phase, const std::string& when,
                                        const std::string& message,
                                        std::int64_t canary_weight = 0) {
  namespace json = boost::json;
  return json::value{
      {"apiVersion", "flagger.app/v1beta1"},
      {"kind", "Canary"},
      {"metadata", {{"name", "app"}, {"namespace", "apps"}}},
      {"spec",
       {{"targetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "app"}}},
        {"service", {{"port", 80}}},
        {"analysis",
         {{"interval", "1m"}, {"threshold", 5}, {"maxWeight", 50}, {"stepWeight", 10}}}}},
      {"status",
       {{"phase", phase},
        {"lastTransitionTime", when},
        {"canaryWeight", canary_weight},
        {"failedChecks", 0},
        {"iterations", 0},
        {"conditions", json::array{json::object{{"type", "Promoted"},
                                                {"status", "True"},
                                                {"reason", phase},
                                                {"message", message},
                                                {"lastUpdateTime", when},
                                                {"lastTransitionTime", when}}}}}}};
}

}  // namespace ferry::test
