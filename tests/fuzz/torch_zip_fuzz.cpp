// libFuzzer target: the fuzz input is a zip image (a torch.save archive). Any
// input must either be rejected with std::runtime_error or yield members whose
// data lie inside the image; each stored member's bytes are then read.

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "zip_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace muft::checkpoint::detail;
  std::vector<ZipMember> members;
  try {
    members = read_zip_directory(data, size, "fuzz-input");
  } catch (const std::runtime_error&) {
    return 0;
  }
  volatile uint8_t sink = 0;
  for (const ZipMember& m : members) {
    if (m.data_offset > size || m.stored_size > size - m.data_offset) std::abort();
    if (m.method == 0 && m.size != m.stored_size) std::abort();
    for (uint64_t i = 0; i < m.stored_size; ++i) sink = sink ^ data[m.data_offset + i];
  }
  (void)sink;
  return 0;
}
