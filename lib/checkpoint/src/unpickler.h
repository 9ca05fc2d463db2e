#pragma once
// Private: a restricted unpickler for the data.pkl of a torch.save archive.
//
// It interprets the pickle opcodes as a small stack machine that builds plain
// values (None, bool, int, float, str, bytes, tuple, list, dict, set) and
// recognizes exactly the few globals torch.save names for a state dict:
// collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter(_with_state) and the storage classes
// (torch.FloatStorage, ...). Calling one of them builds a value; nothing is
// imported, looked up or executed, and any other global is refused with an
// error naming it. Python's pickle (and so torch.load without
// weights_only=True) would instead import and call whatever the file names.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "muft/checkpoint/tensor_source.h"

namespace muft::checkpoint::detail {

/// What a value built by the unpickler is.
enum class PyKind : uint8_t {
  None,
  Bool,
  Int,     ///< fits in int64 (i)
  BigInt,  ///< a LONG1/LONG4 integer wider than 64 bits (value not kept)
  Float,
  Str,  ///< BINUNICODE / BINSTRING text (s, raw bytes as stored)
  Bytes,
  Tuple,
  List,
  Dict,  ///< dict or OrderedDict; items = key0, value0, key1, value1, ...
  Set,
  Global,   ///< an allowed global (s = "module.name"), only usable as a callable
  Storage,  ///< a storage from a persistent id (i = index into Pickle::storages)
  Tensor,   ///< a rebuilt tensor (i = index into Pickle::tensors)
};

/// One value; containers refer to their items by index into Pickle::values.
struct PyValue {
  PyKind kind = PyKind::None;
  int depth = 1;  ///< container nesting at creation (items' depth + 1)
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<uint32_t> items;
};

/// A storage named by a persistent id ('storage', type, key, location, numel).
struct PickleStorage {
  std::string type;      ///< the storage class, e.g. "torch.FloatStorage"
  std::string key;       ///< record name: the bytes are in <archive>/data/<key>
  std::string location;  ///< e.g. "cpu", "cuda:0" (ignored when reading)
  int64_t numel = 0;     ///< elements of the storage's dtype
};

/// A tensor from _rebuild_tensor_v2(storage, offset, size, stride, ...).
struct PickleTensor {
  uint32_t storage = 0;  ///< index into Pickle::storages
  int64_t offset = 0;    ///< in elements
  std::vector<int64_t> sizes, strides;
};

/// Everything one pickle produced.
struct Pickle {
  std::vector<PyValue> values;  ///< every value built (an arena: cycles cannot leak)
  uint32_t root = 0;            ///< the value STOP returned
  std::vector<PickleStorage> storages;
  std::vector<PickleTensor> tensors;
};

/// Deepest container nesting the unpickler builds (and the flattening of a
/// state dict follows) before refusing the input.
inline constexpr int kMaxPickleDepth = 100;
/// Most values (and stack entries) one pickle may build: a state dict needs
/// about 30 per tensor, so this allows ~10^5 tensors while bounding the memory
/// a hostile pickle can claim (~100 bytes per value).
inline constexpr std::size_t kMaxPickleValues = 5'000'000;

/// Runs the restricted machine over data[0, size). `where` names the input in
/// errors ("<file>: <archive>/data.pkl"). Throws std::runtime_error with one
/// line naming the opcode or global and the byte offset on anything outside
/// the supported subset, on truncation, on stack misuse and on nesting deeper
/// than kMaxPickleDepth.
Pickle unpickle(const unsigned char* data, std::size_t size, const std::string& where);

/// A torch storage class the reader knows: its element type and size.
struct TorchStorageType {
  DType dtype;
  std::size_t element_size;
};
/// "torch.FloatStorage" → F32, ...; nullopt for names that are not storage classes muft knows.
std::optional<TorchStorageType> torch_storage_type(const std::string& global);

/// Human-readable name of a pickle opcode byte ("BINUNICODE"), or nullptr.
const char* pickle_opcode_name(unsigned char op);

}  // namespace muft::checkpoint::detail
