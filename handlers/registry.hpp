#pragma once
// The handler registry: routes each parsed event kind to its handler (one handler a file in
// handlers/). service/main.cpp builds it once and gives it to the server.

#include <string>

#include "service/dispatch.hpp"

namespace ferry::handlers {

struct handler_settings {
  std::string registry_host = "ghcr.io";  // FERRY_REGISTRY_HOST
};

// package / registry_package -> package_published; ping -> done; installation* -> done, logged;
// push and pull_request -> ignored (their work lands with later issues); anything else ->
// ignored. The returned function copies the settings it needs into each call.
service::dispatch_fn make_dispatcher(handler_settings settings);

}  // namespace ferry::handlers
