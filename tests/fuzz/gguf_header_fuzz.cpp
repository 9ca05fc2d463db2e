// libFuzzer target: the fuzz input is a whole GGUF file image. Any input must
// either be rejected with std::runtime_error or yield tensors whose bytes lie
// inside the image at aligned, non-overlapping offsets with the size their
// shape and type imply; readable tensors are then converted as the reader does.

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "gguf.h"
#include "sources.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace muft::checkpoint;
  detail::GgufHeader h;
  try {
    h = detail::parse_gguf(data, size, "fuzz-input");
  } catch (const std::runtime_error&) {
    return 0;
  }
  if (h.alignment == 0 || (h.alignment & (h.alignment - 1)) != 0) std::abort();
  for (size_t i = 0; i < h.tensors.size(); ++i) {
    const detail::GgufTensor& t = h.tensors[i];
    if (i > 0 && !(h.tensors[i - 1].info.name < t.info.name)) std::abort();
    if (t.nbytes == 0) continue;
    if (t.offset < h.data_start || t.offset > size || t.nbytes > size - t.offset) std::abort();
    if ((t.offset - h.data_start) % h.alignment != 0) std::abort();
    if (!t.info.skip_reason.empty() || !is_floating(t.info.dtype)) continue;
    const uint64_t n = static_cast<uint64_t>(t.info.numel());
    std::vector<double> out(n);
    if (t.type == detail::kGgmlQ8_0) {
      if (n % 32 != 0 || n / 32 * 34 != t.nbytes) std::abort();
      detail::dequantize_q8_0(data + t.offset, n, out.data());
    } else {
      if (n * dtype_size(t.info.dtype) != t.nbytes) std::abort();
      detail::convert_elements(data + t.offset, t.info.dtype, n, out.data());
    }
  }
  return 0;
}
