#pragma once
// infra/github-app-manifest.json as compiled into the binary (see this folder's CMakeLists.txt).

#include <string_view>

namespace ferry::registration {

std::string_view embedded_manifest();

}  // namespace ferry::registration
