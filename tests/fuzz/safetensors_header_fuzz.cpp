// libFuzzer target: the fuzz input is a whole safetensors file image. Any input
// must either be rejected with std::runtime_error or yield a header whose every
// tensor lies inside the image with the byte size its shape and dtype imply;
// accepted tensors are then converted element by element, as the reader does.

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "muft/checkpoint/safetensors.h"
#include "sources.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace muft::checkpoint;
  SafetensorsHeader header;
  try {
    header = parse_safetensors(data, size, "fuzz-input");
  } catch (const std::runtime_error&) {
    return 0;  // rejected with a message: fine
  }
  // Invariants the reader relies on; a violation is a bug, so crash loudly.
  if (header.data_start < 8 || header.data_start > size) std::abort();
  for (const auto& e : header.tensors) {
    const uint64_t numel = static_cast<uint64_t>(e.info.numel());
    if (e.end < e.begin || e.end > size - header.data_start) std::abort();
    if (e.end - e.begin != numel * dtype_size(e.info.dtype)) std::abort();
    if (!is_floating(e.info.dtype)) continue;
    std::vector<double> out(numel);
    muft::checkpoint::detail::convert_elements(data + header.data_start + e.begin, e.info.dtype,
                                               numel, out.data());
  }
  return 0;
}
