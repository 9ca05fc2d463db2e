// A stand-in muft executable for startup_test.cpp: it links OpenBLAS (as muft-analyze and
// muft-train do), calls muft::platform::start() first, as every app does, and then prints what
// it ended up with. "probe main" goes to stderr at entry, so the test can count how many times
// main ran (two after one re-exec, never more).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "muft/platform/startup.h"

extern "C" int openblas_get_num_threads(void);  // a direct use keeps OpenBLAS linked

int main(int argc, char** argv) {
  std::fprintf(stderr, "probe main argc=%d\n", argc);
  if (!muft::platform::start(
          argv, [](const std::string& line) { std::fprintf(stderr, "LINE %s\n", line.c_str()); })) {
    return 1;
  }
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  const char* marker = std::getenv("MUFT_BLAS_REEXECED");
  std::printf("core=%s coretype=%s marker=%s threads=%d last_arg=%s\n",
              muft::platform::openblas_corename().c_str(), coretype ? coretype : "-",
              marker ? marker : "-", openblas_get_num_threads(), argv[argc - 1]);
  return 0;
}
