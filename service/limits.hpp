#pragma once
// Every limit ferry enforces, in one place, each with where the number comes from.
// (The notification-controller keeps its limits.go the same way.)

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace ferry::limits {

using namespace std::chrono_literals;

// GitHub caps webhook payloads at 25 MB and drops larger deliveries
// (docs.github.com: "Webhook events and payloads", payload cap). SPEC: 413 above 25 MiB.
// GitHub's name rules (docs.github.com, "Creating a new repository" and "About usernames"): an
// account is at most 39 characters, a repository name at most 100.
inline constexpr std::size_t k_github_owner_max = 39;
inline constexpr std::size_t k_github_repo_name_max = 100;

inline constexpr std::size_t k_webhook_body_max = 25u * 1024u * 1024u;

// Webhook bodies up to this size are parsed by a thread's long-lived simdjson parser, which keeps
// (and reuses) buffers sized for the largest body it has seen: a tape of 8 bytes per input byte,
// structural indexes of 4 and a string buffer (simdjson 3.0 dom::parser::allocate). GitHub's
// deliveries for the events ferry handles are 5-25 KB; a rare larger body gets a parser of its own,
// freed after it.
inline constexpr std::size_t k_event_parser_retained_max = 1024u * 1024u;

// Request line plus headers. GitHub's deliveries send about 1.5 KB of headers; 16 KiB leaves
// room for proxies that add forwarding headers and still bounds what an attacker can make us hold.
inline constexpr std::size_t k_header_max = 16u * 1024u;

// GitHub waits 10 s for a webhook answer before it records a timeout
// (docs.github.com: "Best practices for using webhooks": respond within 10 seconds).
inline constexpr auto k_github_delivery_deadline = 10s;
// ferry's own budget for handling one delivery, a second under GitHub's 10 s (docs.github.com:
// "Handling webhook deliveries": "respond within 10 seconds") so the answer (503) is written
// before GitHub gives up. A delivery cut off here is finished by its redelivery: every step of a
// handler converges (SPEC "Reliability").
inline constexpr auto k_delivery_deadline = 9s;

// A client must send its headers within this time of connecting or of its previous response
// (keep-alive idle), and the whole body within k_body_read_timeout. Slowloris protection.
inline constexpr auto k_header_read_timeout = 10s;
inline constexpr auto k_body_read_timeout = 30s;
inline constexpr auto k_keep_alive_idle = 30s;
inline constexpr auto k_write_timeout = 10s;

// The first read on an idle keep-alive connection (Beast's own reads size themselves): large
// enough that a typical delivery (GitHub's ~1.5 KB of headers plus a 10-15 KB package event, the
// sizes of fixtures/github/) arrives in one recv instead of several.
inline constexpr std::size_t k_idle_read_size = 16u * 1024u;
// Beast reads at most 64 KiB at a time (boost/beast/http/impl/read.hpp: read_size(b, 65536));
// a connection's read buffer holds at most a full header (k_header_max) plus one such read.
inline constexpr std::size_t k_read_chunk = 64u * 1024u;

// Request-body bytes the webhook listener holds at once, before any signature is checked
// (issue 10.3: 30 connections with 26 MB unsigned bodies took RSS to 788 MB). A body whose
// Content-Length (or, chunked, body_max) would pass the budget is answered 503 with Retry-After
// before a byte of it is read. Ours: two bodies of GitHub's 25 MB maximum at once; with the
// bodies below the exemption (at most k_max_connections x 64 KiB = 64 MiB) and the process's own
// ~30 MB, the worst case stays near 160 MiB, under the Deployment's 256Mi limit.
inline constexpr std::size_t k_body_bytes_in_flight_max = 64u * 1024u * 1024u;
// Bodies up to this size never wait for the budget: deliveries are mostly a few KB (a package
// event is ~14 KB), and a flood of large bodies must not keep them out.
inline constexpr std::size_t k_body_budget_exempt = 64u * 1024u;

// What a bump PR's body may hold (issue 15.5). GitHub refuses a body over 65,536 characters;
// ours stays under 60,000 whatever the release notes and commit messages hold. Source commits
// beyond 20 are summarised by the compare link; release notes beyond 4,000 characters are cut
// with a link to the release; each commit headline is cut at 120 characters.
inline constexpr std::size_t k_pr_body_max = 60000;
inline constexpr std::size_t k_pr_source_commits_max = 20;
inline constexpr std::size_t k_pr_release_notes_max = 4000;
inline constexpr std::size_t k_pr_headline_max = 120;
// A group PR's rows (service/promotion/group_body.hpp): ferry's own bounds on what it reads back
// from a body, which a person may have edited. A row is one line of about 400 bytes (image,
// values, digest, links, delivery); 2000 leaves room for long references. 500 rows exceed what
// fits in k_pr_body_max anyway.
inline constexpr std::size_t k_group_row_max = 2000;
inline constexpr std::size_t k_group_rows_max = 500;
// The edits one delivery makes in one commit to a group branch: its own and those queued behind
// it in this replica (handlers/group_lane.hpp). ferry's own bound, no outside source: it keeps
// one createCommitOnBranch (each image edits a file or two) and its message small, and is above
// the 30-50 images of a release train, so a train costs a few commits.
inline constexpr std::size_t k_group_batch_max = 64;
// How long the delivery whose turn it is on a group branch waits before taking the edits queued
// behind it. GitHub allows an installation 80 writes a minute (k_github_writes_per_minute) and a
// group commit costs two (the commit, the PR update): one commit a second per replica for a
// train's whole length would spend the minute's budget in 40 s, and with two replicas in 20.
// Gathering for 1.5 s makes each commit carry the publications of that moment (a 50-image train
// over 10 s: a handful of commits), and costs one delivery 1.5 s of its 9 s deadline. ferry's
// own choice from that arithmetic; `newest` edits, never folded, do not wait.
inline constexpr auto k_group_gather = 1500ms;

// Connections served at once; beyond this the acceptor waits (the kernel backlog holds the
// rest). 1,024 keeps file descriptors well under the usual 1,048,576 container ulimit and RSS
// bounded (a parser holds at most k_header_max until the signature is checked).
inline constexpr std::size_t k_max_connections = 1024;

// On SIGTERM, in-flight deliveries get this long to finish. Kubernetes' default
// terminationGracePeriodSeconds is 30 s; leave room for the process to exit.
inline constexpr auto k_drain_timeout = 25s;

// After answering with "Connection: close" (413, 400), the server stops sending and keeps
// reading for a short while before closing, so a client that is still sending its body reads
// the answer instead of a TCP reset (RFC 9112 section 9.6; nginx's lingering_close does the
// same). Bounded in time and bytes so a client cannot keep the slot.
inline constexpr auto k_lingering_close_timeout = 2s;
inline constexpr std::size_t k_lingering_close_bytes = 1024u * 1024u;
// Each read of that discarding loop: one page, on the coroutine's frame. Ours: the bytes are
// thrown away, so a small buffer only costs more reads for a client that keeps sending.
inline constexpr std::size_t k_lingering_close_read_size = 4096;

// A connection keeps its body buffer between requests to avoid a new allocation for each
// delivery; above this capacity (a rare large delivery) the buffer is released instead, so 1,024
// idle keep-alive connections cannot pin 25 MiB each.
inline constexpr std::size_t k_retained_body_capacity = 1024u * 1024u;

// The webhook body handed to events::parse_event is followed by at least this many readable
// bytes, so simdjson (SIMDJSON_PADDING = 64 in simdjson 3.0) can parse it in place without a
// copy (simdjson.org: "padded_string_view").
inline constexpr std::size_t k_json_padding = 64;

// Distinct label sets per metric family. Label values come from ferry's own code, but some
// (event names, repositories) echo outside input; past this bound new label sets share one
// "overflow" series so memory stays bounded.
inline constexpr std::size_t k_metric_series_max = 256;

// After a failed accept (EMFILE, ENFILE, ENOBUFS) the listener waits this long before trying
// again rather than spinning on an error that only a closing connection can clear.
inline constexpr auto k_accept_retry_delay = 100ms;

// GitHub App JWTs may live at most 10 minutes; GitHub recommends iat 60 s in the past for
// clock drift (docs.github.com: "Generating a JSON Web Token (JWT) for a GitHub App").
inline constexpr auto k_jwt_backdate = 60s;
inline constexpr auto k_jwt_lifetime = 600s;
// A JWT or installation token is renewed this long before it expires.
inline constexpr auto k_token_refresh_margin = 60s;
// Attempts of one installation-token call when GitHub answers 401: the second uses a freshly
// minted token (the first may have expired or been revoked mid-delivery); a second 401 is real.
inline constexpr int k_token_401_attempts = 2;

// Commit status descriptions longer than 140 characters are refused by GitHub
// (REST "Create a commit status": description is "a short description of the status").
inline constexpr std::size_t k_status_description_max = 140;

// Kubernetes object names for Jobs are DNS labels (RFC 1123): at most 63 characters.
inline constexpr std::size_t k_dns_label_max = 63;
// SPEC: an environment name is a DNS label of at most 32 characters, so that
// "ferry-apply-<env>-<12 hex>" (12 + 32 + 1 + 12 = 57) stays a valid Job name.
inline constexpr std::size_t k_environment_name_max = 32;
// An image group's name (rules `group:`), a DNS label. ferry's own choice, no outside source:
// as long as an environment name may be, so ferry/<env>/group-<group> stays readable.
inline constexpr std::size_t k_group_name_max = 32;

// Outgoing API calls (GitHub, Kubernetes): a deadline per attempt and a bounded number of
// attempts for transient failures only.
inline constexpr auto k_api_attempt_timeout = 8s;
inline constexpr int k_api_max_attempts = 3;

// Marker scanning skips (and reports) files larger than this. GitHub refuses files over
// 100 MiB in a push ("About large files on GitHub"), so no infra repo file is larger.
inline constexpr std::size_t k_marker_file_max = 100u * 1024u * 1024u;

// Files named by settings (FERRY_*_FILE, the private key, a CA bundle) are read whole at start.
// A PEM key is ~3 KiB and a CA bundle ~200 KiB; the bound keeps a wrong path such as /dev/zero
// from eating memory (issue 10: it reached 1.85 GB before).
inline constexpr std::size_t k_setting_file_max = 1024u * 1024u;

// `ferry migrate-flux` reads every YAML file of a checkout. A file of Flux objects holds a few
// dozen documents; a generated bundle (flux install's gotk-components.yaml) about twenty. The
// bound stops a file of millions of `---` lines from building millions of nodes.
inline constexpr std::size_t k_migrate_documents_max = 10000;

// --- ferry onboard (service/onboard/compose.hpp) -------------------------------------------
// A compose file is a few KiB; the bound keeps a wrong file (a log, a dump) from being parsed
// at all (issue 13: "a 10 MB file" gets a clear error).
inline constexpr std::size_t k_compose_file_max = 1024u * 1024u;
// YAML nodes a compose file may expand to, counting every alias copy: anchors can expand
// exponentially ("billion laughs"). A compose file of fifty services is a few thousand nodes.
inline constexpr std::size_t k_compose_nodes_max = 100000;
// Services per compose file: each becomes a Deployment and its objects.
inline constexpr std::size_t k_compose_services_max = 200;

// --- Rules file (.github/ferry.yaml) and tag policies ---------------------------------------
// The rules file is read for every delivery; a bound keeps a hostile or broken push from making
// each replica parse megabytes. Real rules files are a few KiB (SPEC example: under 1 KiB).
inline constexpr std::size_t k_rules_file_max = 1024u * 1024u;
// `ferry check` lists every problem, but a file with thousands of errors (for example a YAML
// alias repeated everywhere) would bury the first ones; past this many the list is cut with a note.
inline constexpr std::size_t k_rules_diagnostics_max = 200;
// Image rules and environments per file: each one is a PR per delivery; GitHub allows about
// 80 content-creating requests a minute per App (SPEC "Platform limits"), so hundreds are
// already beyond what one delivery can do. The bound also stops alias-expanded lists.
inline constexpr std::size_t k_rules_images_max = 500;
inline constexpr std::size_t k_rules_environments_max = 100;
// apply.timeout: SPEC default 10m; a day is far beyond any reconcile and keeps arithmetic safe.
inline constexpr auto k_apply_timeout_default = 600s;
inline constexpr auto k_apply_timeout_max = 86400s;
// filterTags.pattern length. Flux sets no bound; patterns are written by people and RE2 compiles
// in time linear in the pattern, so this is a sanity bound only.
inline constexpr std::size_t k_filter_pattern_max = 1024;
// RE2 memory budget for one compiled filter (RE2's default is 8 MiB; a tag filter needs far less).
inline constexpr std::int64_t k_filter_re2_max_mem = 1 << 20;
// OCI distribution spec: a tag is [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}, at most 128 characters.
inline constexpr std::size_t k_tag_max = 128;
// Version strings the semver parser looks at (a tag's extracted value may be longer than a tag).
inline constexpr std::size_t k_semver_version_max = 256;
// Masterminds/semver v3 (constraints.go): MaxConstraintLen = 512 bytes, MaxConstraintGroups = 32
// OR groups. ferry uses the same bounds so a range Flux accepts is accepted here, and adds a cap
// on comparators (512 bytes allow at most ~256); parsing is one linear pass either way.
inline constexpr std::size_t k_semver_range_max = 512;
inline constexpr std::size_t k_semver_range_groups_max = 32;
inline constexpr std::size_t k_semver_range_comparators_max = 64;

// Packs in one mirror before it is compacted into one (each fetch adds a small pack; libgit2
// looks an object up in every pack, and keeps each open). Ours: git's gc.autoPackLimit is 50;
// a smaller bound keeps lookups and fds low for a cache fetched on every promotion.
inline constexpr std::size_t k_mirror_packs_max = 16;
// Pack files libgit2 keeps open at once in the whole process (GIT_OPT_SET_MWINDOW_FILE_LIMIT;
// libgit2's default is unlimited). Ours: a few mirrors' worth of packs, far below the 1,024 fds
// of a default container limit.
inline constexpr std::size_t k_git_open_packs_max = 64;
// One fetch of an infra repository mirror (connect, negotiation, pack) and each socket read or
// write within it. Infra repos are small text repositories and fetches are incremental; a minute
// is far beyond a healthy fetch and still bounds a stalled server (libgit2 1.5 has no timeout of
// its own). A delivery that hits it answers 5xx and GitHub's redelivery retries it.
inline constexpr auto k_git_fetch_timeout = 60s;

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
// ferry's write budget per App installation (service/github/write_budget.hpp): GitHub's
// secondary limits on content creation, "No more than 80 content-generating requests per minute
// and no more than 500 content-generating requests per hour" (docs.github.com, "Rate limits for
// the REST API" -> "About secondary rate limits"). FERRY_GITHUB_WRITES_PER_MINUTE / _PER_HOUR
// change them: lower for a share per replica or room for other clients of the installation,
// higher for a GitHub Enterprise Server whose administrator raised its limits. Settings above
// k_github_writes_setting_max are refused as typos.
inline constexpr int k_github_writes_per_minute = 80;
inline constexpr int k_github_writes_per_hour = 500;
inline constexpr int k_github_writes_setting_max = 1000000;
inline constexpr auto k_github_write_minute = 60s;
inline constexpr auto k_github_write_hour = 3600s;
// The longest a write waits for a slot of the budget to free, bounded further by the call's own
// deadline: the same bound as a rate-limit wait inside a call (k_api_rate_limit_wait_max), so a
// delivery still answers within k_delivery_deadline; a longer wait fails transient (503) and the
// redelivery comes after the window has moved on.
inline constexpr auto k_github_write_wait_max = k_api_rate_limit_wait_max;
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

// Tag bumps: how often a branch update that lost a race (422 "Reference already exists" /
// "not a fast forward") is re-read and retried within one delivery before answering 503 so
// GitHub's redelivery tries again later (SPEC "Reliability": bounded). Ours: two concurrent
// writers converge on the second read; a third attempt covers one more racing replica.
inline constexpr int k_ref_update_attempts = 3;
// Parsed rules files kept by blob id per process; a handful of infra repos with a few versions
// each. Ours: the cache is dropped whole when full (parsing again costs well under a millisecond).
inline constexpr std::size_t k_rules_cache_entries = 64;
// Commits of the default branch's history searched for the ferry bump commit that wrote a value
// (its Ferry-Source-Commit trailer names what runs now's source commit, SPEC "Policies"). Ours:
// a value is normally written by one of the last few commits; the walk reads only commit
// headers from the local mirror (well under a millisecond per hundred).
inline constexpr std::size_t k_trailer_search_commits = 500;
// The tag-bump flow remembers, per process, that the App is not installed on a source
// repository (the 404 of GET /repos/{o}/{r}/installation) for this long, and each infra
// repository's clone_url and default_branch for k_repository_cache_ttl. Ours: an installation
// added later, or a renamed default branch, is seen within minutes; until then `newest` treats
// the source as not comparable (the newer delivery wins, as without the cache) and a renamed
// branch fails the delivery with 5xx, which GitHub's redelivery retries.
inline constexpr auto k_not_installed_cache_ttl = 300s;
inline constexpr auto k_repository_cache_ttl = 60s;
// Pull requests of one ferry branch read in one call (open and closed together, newest first):
// the open one and the most recent closed one are among the newest few. Ours: a branch has one
// open PR at a time; ten covers any PRs people opened from it to other bases.
inline constexpr int k_branch_pulls_page = 10;
// Each replica's view of an infra repository's rules (its default branch's head and the rules
// parsed there) answers a delivery for an image no rule names with no GitHub call while it is at
// most this old (issue 14; docs/rules.md "How fast a rules change takes effect"). Past it, one
// conditional GET of the head ref (a 304 costs no rate limit) renews it, shared by the
// deliveries that arrive meanwhile; a push to the default branch handled here renews it at once.
inline constexpr auto k_rules_view_max_age = 10s;
// Entries per cache above; the map is dropped whole when full (a few infra repos and the
// source repositories that publish images: far fewer in practice).
inline constexpr std::size_t k_api_cache_entries = 1024;

// --- applies, the promotion chain and the maintenance loop (SPEC "Apply", "Reliability") ---
// Last lines of a failed apply Job's pod quoted in the comment on the merged PR.
inline constexpr int k_apply_log_lines = 40;
// A comment body is limited to 65,536 characters by GitHub; the quoted detail stays far below.
inline constexpr std::size_t k_apply_comment_detail_max = 8000;
// A final apply status is posted this many times before giving up (the resume retries later).
inline constexpr int k_status_post_attempts = 3;
// Pages of 100 read of a commit's statuses or check runs: GitHub keeps at most 1000 statuses per
// sha and context (docs.github.com, "Create a commit status"); ferry's own few plus a CI's fit
// in 300 on any commit ferry follows.
inline constexpr int k_status_pages = 3;
// Default-branch commits whose pending `ferry/apply/*` statuses a new Lease holder resumes.
inline constexpr int k_resume_commits = 10;
// GitHub keeps webhook deliveries for three days; SPEC: sweep "the last three days".
inline constexpr auto k_redelivery_window = std::chrono::hours(72);
// Pages of 100 deliveries read per sweep.
inline constexpr int k_sweep_pages = 10;
// How often the Lease holder sweeps failed deliveries. Ours: fast enough that a failed delivery
// is retried within minutes, slow enough to cost a few App API calls an hour.
inline constexpr auto k_sweep_interval = std::chrono::minutes(5);

// --- Kubernetes API client (service/kube) ----------------------------------------------------
// One deadline per attempt for ordinary calls. The API server's own default request timeout is
// 60 s (kube-apiserver --request-timeout), but ferry's calls are single-object reads and writes
// that answer in milliseconds; 8 s matches k_api_attempt_timeout and keeps a webhook answer
// within GitHub's 10 s (k_github_delivery_deadline) for one attempt.
inline constexpr auto k_kube_attempt_timeout = 8s;
inline constexpr int k_kube_max_attempts = 3;
// A watch asks the server to end the stream after this long (timeoutSeconds) and is reopened
// from the last resourceVersion. client-go's reflector picks 5-10 minutes
// (minWatchTimeout = 5 min, randomised up to 2x); ferry's follows last at most an apply
// timeout, so 5 minutes is one reopen per default 10 m apply.
inline constexpr auto k_kube_watch_timeout = 300s;
// A watch stream that has not ended this long after its timeoutSeconds is treated as dead and
// reopened (the API server ends it on time; a silently dropped connection never ends).
inline constexpr auto k_kube_watch_grace = 15s;
// A watch event (one JSON line) larger than this ends the watch with an error. The API server
// refuses objects over 1.5 MiB in etcd (--max-request-bytes default 1.5 MiB); a few times that
// leaves room for managedFields and never lets a broken server exhaust memory.
inline constexpr std::size_t k_kube_watch_event_max = 8u * 1024u * 1024u;
// After a watch stream fails (connection reset, 5xx) it is reopened after a jittered wait of
// at most this long, so a flapping API server is not hammered.
inline constexpr auto k_kube_watch_retry_max = 1s;
// Lease leader election: client-go's leaderelection defaults (LeaseDuration 15 s, RenewDeadline
// 10 s, RetryPeriod 2 s; k8s.io/client-go/tools/leaderelection). The sweep is not urgent, so a
// replica renews every k_lease_renew_period and another takes over 15 s after it stopped.
inline constexpr auto k_lease_duration = std::chrono::seconds(15);
inline constexpr auto k_lease_renew_period = std::chrono::seconds(2);

// --- Flux health checks (service/apply/health.hpp) ------------------------------------------
// Files the pushed commit changed are read for the HelmReleases it touched when the rules name
// no healthChecks. A manifest file is a few KiB; a larger one (a generated bundle) is still read
// up to this size, and one past it counts as touching every HelmRelease of the inventory (fail
// safe: waiting on an untouched, healthy release costs nothing). Ours.
inline constexpr std::size_t k_health_scan_file_max = 1024u * 1024u;
// YAML documents read per file (a bundle holds a few dozen); more: the same fail-safe rule.
inline constexpr std::size_t k_health_scan_documents_max = 1000;

// --- Apply Jobs (service/apply/job.hpp) ------------------------------------------------------
// Set on a rendered Job only where its template has none (SPEC "Apply Job template").
// activeDeadlineSeconds: the apply's own default timeout (SPEC: apply.timeout defaults to 10m),
// so Kubernetes stops a stuck apply about when ferry stops waiting for it.
inline constexpr std::chrono::seconds k_apply_job_active_deadline = 600s;
// ttlSecondsAfterFinished: a day. The finished Job is ferry's crash-safe record of the apply
// (SPEC "Crash-safe": the Job and its ferry.dev/reported annotation) and its pod holds the logs
// quoted on failure; a day outlasts any restart of ferry and still cleans up. Ours.
inline constexpr std::chrono::seconds k_apply_job_ttl = 86400s;
// backoffLimit: Kubernetes' default is 6 retries with exponential backoff (10 s doubling up to
// 6 min, kubernetes.io "Jobs": pod backoff failure policy), which would outlast the deadline
// above. One retry covers a pod lost with its node; a failing apply fails fast. Ours.
inline constexpr int k_apply_job_backoff_limit = 1;
// Template size. Kubernetes refuses objects over etcd's 1.5 MiB request limit
// (etcd --max-request-bytes default); a Job template is a few KiB.
inline constexpr std::size_t k_apply_job_template_max = 1024u * 1024u;
// JSON values a template may expand to, counting every alias copy: YAML anchors can expand
// exponentially ("billion laughs"); a Job is a few hundred values.
inline constexpr std::size_t k_apply_job_template_values_max = 100000;

// --- ferry register (service/register/register.hpp) -----------------------------------------
// How long `ferry register` waits for GitHub's redirect. The code GitHub hands back is good for
// one hour (docs.github.com: "Registering a GitHub App from a manifest"); a person fills in one
// confirmation page, so 10 minutes is plenty and a forgotten terminal does not listen for long.
inline constexpr auto k_register_wait = 10min;
// The loopback form server reads requests of a browser (a GET with headers, no body); one
// larger than this is refused. Beast's default header limit is 8 KiB; browsers send 1-2 KiB.
inline constexpr std::size_t k_register_request_max = 16u * 1024u;
// One request on the loopback server must arrive within this (a stalled client cannot hold it).
inline constexpr auto k_register_read_timeout = 30s;
// The conversion answer carries a PEM key (about 1.7 KB for RSA 2048) and a few fields.
inline constexpr std::size_t k_register_conversion_max = 64u * 1024u;

}  // namespace ferry::limits
