// libFuzzer target: the fuzz input is the text of a sharded-model index
// (model.safetensors.index.json). Any input must either be rejected with std::runtime_error or
// yield a weight map whose every shard is a non-empty relative file name without "..", listed
// once in `shards`; the reader opens exactly those files next to the index.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "muft/checkpoint/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace muft::checkpoint;
  SafetensorsIndex index;
  try {
    index = parse_safetensors_index(std::string(reinterpret_cast<const char*>(data), size),
                                    "fuzz.index.json");
  } catch (const std::runtime_error&) {
    return 0;  // rejected with a message: fine
  }
  // Invariants the sharded reader relies on; a violation is a bug, so crash loudly.
  for (const auto& [tensor, shard] : index.weight_map) {
    const std::filesystem::path rel(shard);
    if (shard.empty() || rel.is_absolute()) std::abort();
    for (const auto& part : rel)
      if (part == "..") std::abort();
    if (std::count(index.shards.begin(), index.shards.end(), shard) != 1) std::abort();
  }
  if (index.shards.size() > index.weight_map.size()) std::abort();
  return 0;
}
