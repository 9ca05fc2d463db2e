// Replays fuzz inputs without libFuzzer: calls the target's LLVMFuzzerTestOneInput (linked into
// this executable) once per regular file found under each argument (a file or a directory,
// searched recursively, in sorted order). A target reports a bug by crashing or aborting, so the
// test fails exactly when some input still triggers one. An argument that yields no file fails
// too: a corpus that vanished must not pass silently.
// Usage: fuzz_replay_<target> CORPUS_DIR_OR_FILE...

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  std::size_t total = 0;
  for (int a = 1; a < argc; ++a) {
    std::vector<fs::path> files;
    std::error_code ec;
    if (fs::is_regular_file(argv[a], ec)) {
      files.push_back(argv[a]);
    } else if (fs::is_directory(argv[a], ec)) {
      for (const auto& e : fs::recursive_directory_iterator(argv[a]))
        if (e.is_regular_file()) files.push_back(e.path());
    }
    if (files.empty()) {
      std::fprintf(stderr, "replay: no input files under '%s'\n", argv[a]);
      return 1;
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
      // A copy of exactly the input's size, so that AddressSanitizer sees any read past its end.
      std::vector<uint8_t> data(bytes.begin(), bytes.end());
      std::printf("replay: %s (%zu bytes)\n", f.string().c_str(), data.size());
      std::fflush(stdout);  // the last name printed is the input that crashed
      LLVMFuzzerTestOneInput(data.data(), data.size());
      ++total;
    }
  }
  std::printf("replay: %zu inputs, no crash\n", total);
  return 0;
}
