#pragma once
// `ferry demo`: the embedded default. Runs what ferry does today, offline, on the example
// infra repository compiled into the binary, and prints what happened.

#include <cstdio>

namespace ferry::demo {

// Returns the process exit code (0 when every step behaved as expected).
int run(std::FILE* out);

}  // namespace ferry::demo
