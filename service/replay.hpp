#pragma once
// `ferry replay`: sign saved webhook deliveries and POST them to a running ferry, the way
// GitHub would, so local development needs no tunnel.

#include <chrono>
#include <string>
#include <string_view>

#include "service/result.hpp"

namespace ferry::service {

// One saved delivery: the event name, the delivery id (generated when the file has none) and
// the raw payload bytes exactly as they will be signed and sent.
struct saved_delivery {
  std::string event;
  std::string delivery_id;
  std::string payload;
};

// A file is either {"event": "...", "payload": {...}, "delivery": "..."?} or a raw payload,
// in which case event_override (from --event) names the event. An explicit --event also
// overrides the file's "event".
result<saved_delivery> load_saved_delivery(std::string_view file_name, std::string_view content,
                                           std::string_view event_override);

struct replay_target {
  std::string url;  // http://host:port/webhook or https://...
  std::string secret;
  std::chrono::milliseconds timeout{10'000};
};

struct replay_answer {
  int status = 0;
  std::string body;
};

// Signs the payload (X-Hub-Signature-256) and POSTs it with GitHub's headers. A transport
// failure is an error; any HTTP answer, 2xx or not, is a replay_answer.
result<replay_answer> post_delivery(const replay_target& target, const saved_delivery& d);

// A random RFC 4122 version-4 UUID, the shape of GitHub's X-GitHub-Delivery.
std::string random_delivery_id();

}  // namespace ferry::service
