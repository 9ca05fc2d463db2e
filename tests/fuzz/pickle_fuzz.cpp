// libFuzzer target: the fuzz input is the data.pkl of a torch.save archive.
// Any input must either be rejected with std::runtime_error or yield values
// whose every reference is in range, tensors whose storages exist, and a
// flattened state dict with unique names; a violation aborts.

#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include "torch_state_dict.h"
#include "unpickler.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace muft::checkpoint::detail;
  Pickle p;
  try {
    p = unpickle(data, size, "fuzz-input");
  } catch (const std::runtime_error&) {
    return 0;  // rejected with a message: fine
  }
  if (p.root >= p.values.size()) std::abort();
  for (const PyValue& v : p.values) {
    for (uint32_t it : v.items) {
      if (it >= p.values.size()) std::abort();
    }
    if (v.kind == PyKind::Dict && v.items.size() % 2 != 0) std::abort();
    if (v.kind == PyKind::Tensor && (v.i < 0 || static_cast<size_t>(v.i) >= p.tensors.size())) {
      std::abort();
    }
    if (v.kind == PyKind::Storage && (v.i < 0 || static_cast<size_t>(v.i) >= p.storages.size())) {
      std::abort();
    }
    if (v.depth > kMaxPickleDepth) std::abort();
  }
  for (const PickleTensor& t : p.tensors) {
    if (t.storage >= p.storages.size() || t.sizes.size() != t.strides.size()) std::abort();
  }
  for (const PickleStorage& s : p.storages) {
    if (s.numel < 0 || !torch_storage_type(s.type)) std::abort();
  }
  try {
    const auto named = flatten_state_dict(p, "fuzz-input");
    for (size_t i = 0; i < named.size(); ++i) {
      if (named[i].tensor >= p.tensors.size()) std::abort();
      if (i > 0 && !(named[i - 1].name < named[i].name)) std::abort();
    }
  } catch (const std::runtime_error&) {
  }
  return 0;
}
