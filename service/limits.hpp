#pragma once
// Every limit ferry enforces, in one place, each with where the number comes from.
// (The notification-controller keeps its limits.go the same way.)

#include <chrono>
#include <cstddef>

namespace ferry::limits {

using namespace std::chrono_literals;

// GitHub caps webhook payloads at 25 MB and drops larger deliveries
// (docs.github.com: "Webhook events and payloads", payload cap). SPEC: 413 above 25 MiB.
inline constexpr std::size_t k_webhook_body_max = 25u * 1024u * 1024u;

// Request line plus headers. GitHub's deliveries send about 1.5 KB of headers; 16 KiB leaves
// room for proxies that add forwarding headers and still bounds what an attacker can make us hold.
inline constexpr std::size_t k_header_max = 16u * 1024u;

// GitHub waits 10 s for a webhook answer before it records a timeout
// (docs.github.com: "Best practices for using webhooks": respond within 10 seconds).
inline constexpr auto k_github_delivery_deadline = 10s;

// A client must send its headers within this time of connecting or of its previous response
// (keep-alive idle), and the whole body within k_body_read_timeout. Slowloris protection.
inline constexpr auto k_header_read_timeout = 10s;
inline constexpr auto k_body_read_timeout = 30s;
inline constexpr auto k_keep_alive_idle = 30s;
inline constexpr auto k_write_timeout = 10s;

// Connections served at once; beyond this the acceptor waits (the kernel backlog holds the
// rest). 1,024 keeps file descriptors well under the usual 1,048,576 container ulimit and RSS
// bounded (a parser holds at most k_header_max until the signature is checked).
inline constexpr std::size_t k_max_connections = 1024;

// On SIGTERM, in-flight deliveries get this long to finish. Kubernetes' default
// terminationGracePeriodSeconds is 30 s; leave room for the process to exit.
inline constexpr auto k_drain_timeout = 25s;

// GitHub App JWTs may live at most 10 minutes; GitHub recommends iat 60 s in the past for
// clock drift (docs.github.com: "Generating a JSON Web Token (JWT) for a GitHub App").
inline constexpr auto k_jwt_backdate = 60s;
inline constexpr auto k_jwt_lifetime = 600s;
// A JWT or installation token is renewed this long before it expires.
inline constexpr auto k_token_refresh_margin = 60s;

// Commit status descriptions longer than 140 characters are refused by GitHub
// (REST "Create a commit status": description is "a short description of the status").
inline constexpr std::size_t k_status_description_max = 140;

// Kubernetes object names for Jobs are DNS labels (RFC 1123): at most 63 characters.
inline constexpr std::size_t k_dns_label_max = 63;
// SPEC: an environment name is a DNS label of at most 32 characters, so that
// "ferry-apply-<env>-<12 hex>" (12 + 32 + 1 + 12 = 57) stays a valid Job name.
inline constexpr std::size_t k_environment_name_max = 32;

// Outgoing API calls (GitHub, Kubernetes): a deadline per attempt and a bounded number of
// attempts for transient failures only.
inline constexpr auto k_api_attempt_timeout = 8s;
inline constexpr int k_api_max_attempts = 3;

// GitHub API client (service/github/http_client.hpp). Backoff between attempts is "full jitter"
// (a uniform draw in [0, min(cap, base * 2^attempt)]; AWS Architecture Blog, "Exponential
// Backoff And Jitter", 2015): two replicas retrying the same outage do not stay in lockstep.
inline constexpr auto k_api_backoff_base = 200ms;
inline constexpr auto k_api_backoff_cap = 2s;
// The longest ferry waits for a rate limit (retry-after or x-ratelimit-reset) inside one call.
// Webhook handling runs while GitHub waits at most 10 s for the answer
// (k_github_delivery_deadline); a longer wait fails transient and the sweep redelivers later.
inline constexpr auto k_api_rate_limit_wait_max = 5s;
// GitHub's advice for a secondary rate limit without retry-after or x-ratelimit-reset: "wait
// for at least one minute before retrying" (docs.github.com: "Rate limits for the REST API").
inline constexpr auto k_api_secondary_limit_default_wait = 60s;
// Idle keep-alive connections kept per host. ferry's calls per delivery are sequential; a
// few cover concurrent deliveries without holding many sockets to one host.
inline constexpr std::size_t k_api_idle_connections_per_host = 4;
// An idle pooled connection older than this is closed rather than reused: servers and load
// balancers close idle connections after tens of seconds (GitHub's edge does not document
// its value; 30 s matches k_keep_alive_idle on our side).
inline constexpr auto k_api_idle_connection_max_age = 30s;
// Largest API response body read into memory. A recursive tree listing is GitHub's largest
// answer ferry asks for and is truncated by GitHub at 100,000 entries / 7 MB
// (REST "Get a tree"); 32 MiB leaves room without letting a broken server exhaust memory.
inline constexpr std::size_t k_api_response_body_max = 32u * 1024u * 1024u;
// Pages followed through Link rel="next" before giving up (100 items a page: 10,000 items).
inline constexpr int k_api_max_pages = 100;
// Characters of GitHub's `message` quoted in an error.
inline constexpr std::size_t k_api_error_message_max = 300;

}  // namespace ferry::limits
