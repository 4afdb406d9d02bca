// Composition root (placeholder until the command line lands).
#include <cstdio>
int main() {
  std::puts("ferry " FERRY_VERSION);
  return 0;
}
