// TensorSource over a torch.save zip archive (torch >= 1.6): the archive's
// data.pkl is read by the restricted unpickler, every tensor is a view
// (offset, sizes, strides) into a storage record <archive>/data/<key> that is
// read in place from the memory-mapped file.

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <unordered_map>

#include "mapped_file.h"
#include "sources.h"
#include "text_util.h"
#include "torch_state_dict.h"
#include "unpickler.h"
#include "zip_reader.h"

namespace muft::checkpoint::detail {
namespace {

[[noreturn]] void fail(const std::string& file, const std::string& reason) {
  throw std::runtime_error(one_line(file + ": " + reason));
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  *out = a * b;
  return true;
}
bool checked_add(uint64_t a, uint64_t b, uint64_t* out) {
  if (b > std::numeric_limits<uint64_t>::max() - a) return false;
  *out = a + b;
  return true;
}

// One tensor: a view into a storage record.
struct View {
  TensorInfo info;
  uint64_t base = 0;  // file offset of the storage's first byte
  std::size_t element_size = 0;
  int64_t offset = 0;  // in elements, from the storage start
  std::vector<int64_t> sizes, strides;
  bool contiguous = false;                // row-major strides: one run of numel elements
  uint64_t first_byte = 0, end_byte = 0;  // span of the storage the view touches
};

// Checks a view against its storage; sets contiguous and the byte span.
// Returns a skip reason for a view that repeats elements (stride 0).
std::string check_view(const std::string& file, View& v, uint64_t storage_numel) {
  const std::string where = "tensor '" + v.info.name + "'";
  if (v.offset < 0) fail(file, fmt::format("{}: negative storage offset {}", where, v.offset));
  // numel counts the non-zero sizes too, so that an empty view cannot carry
  // sizes whose product (the matrix shape's column count) overflows.
  uint64_t numel = 1, last = static_cast<uint64_t>(v.offset);
  bool empty = false;
  for (std::size_t d = 0; d < v.sizes.size(); ++d) {
    if (v.sizes[d] < 0 || v.strides[d] < 0) {
      fail(file, fmt::format("{}: negative size or stride in dimension {}", where, d));
    }
    empty = empty || v.sizes[d] == 0;
    uint64_t reach = 0;
    if (!checked_mul(numel, static_cast<uint64_t>(std::max<int64_t>(v.sizes[d], 1)), &numel) ||
        numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        (v.sizes[d] > 0 && (!checked_mul(static_cast<uint64_t>(v.sizes[d] - 1),
                                         static_cast<uint64_t>(v.strides[d]), &reach) ||
                            !checked_add(last, reach, &last)))) {
      fail(file, where + ": size and stride overflow 64 bits");
    }
  }
  v.contiguous = true;
  if (empty) return "";  // nothing to read; sizes beside a 0 may multiply past 64 bits
  // Row-major strides (dimensions of size 1 may have any stride): one run of numel.
  uint64_t expect = 1;
  for (std::size_t d = v.sizes.size(); d-- > 0;) {
    if (v.sizes[d] != 1 && static_cast<uint64_t>(v.strides[d]) != expect) v.contiguous = false;
    expect *= static_cast<uint64_t>(v.sizes[d]);  // ≤ numel, checked above
  }
  if (last >= storage_numel) {
    fail(file, fmt::format("{}: the view (offset {}, sizes and strides) reaches element {} but its "
                           "storage holds {}",
                           where, v.offset, last, storage_numel));
  }
  v.first_byte = static_cast<uint64_t>(v.offset) * v.element_size;
  v.end_byte = (last + 1) * v.element_size;
  if (numel > last + 1 - static_cast<uint64_t>(v.offset)) {
    return fmt::format(
        "view repeats storage elements ({} elements over {} stored ones, stride 0 "
        "or overlapping): not analyzed",
        numel, last + 1 - static_cast<uint64_t>(v.offset));
  }
  return "";
}

class PytorchSource final : public TensorSource {
  static constexpr std::size_t kChunkBytes = std::size_t{16} << 20;

 public:
  explicit PytorchSource(const std::string& path) : path_(path), map_(path) {
    const std::vector<ZipMember> members = read_zip_directory(map_.data(), map_.size(), path);
    std::unordered_map<std::string, const ZipMember*> by_name;
    std::string prefix;
    int pickles = 0;
    bool torchscript = false;
    for (const auto& m : members) {
      by_name[m.name] = &m;
      const std::size_t slash = m.name.find('/');
      if (slash != std::string::npos &&
          m.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
        prefix = m.name.substr(0, slash + 1);
        ++pickles;
      }
      torchscript = torchscript || m.name.find("/constants.pkl") != std::string::npos ||
                    m.name.find("/code/") != std::string::npos;
    }
    if (pickles == 0) {
      fail(path, "zip archive has no <archive>/data.pkl: not a torch.save checkpoint");
    }
    if (pickles > 1) fail(path, "zip archive holds more than one <archive>/data.pkl");
    if (torchscript) {
      fail(path,
           "a TorchScript archive (torch.jit.save) is not read; save the weights with "
           "torch.save(model.state_dict(), PATH) instead");
    }
    if (const auto it = by_name.find(prefix + "byteorder"); it != by_name.end()) {
      const std::string order = member_text(*it->second, 16);
      if (order != "little") {
        fail(path, "tensor byte order is '" + order + "'; only little-endian archives are read");
      }
    }
    const ZipMember& pkl = *by_name.at(prefix + "data.pkl");
    require_stored(pkl);
    const Pickle pickle = unpickle(map_.data() + pkl.data_offset,
                                   static_cast<std::size_t>(pkl.size), path + ": " + pkl.name);
    // Each storage's record, checked to hold numel elements.
    std::vector<const ZipMember*> storage_member(pickle.storages.size());
    for (std::size_t s = 0; s < pickle.storages.size(); ++s) {
      const PickleStorage& st = pickle.storages[s];
      const auto it = by_name.find(prefix + "data/" + st.key);
      if (it == by_name.end()) {
        fail(path, fmt::format("storage '{}' has no record {}data/{} (truncated archive?)", st.key,
                               prefix, st.key));
      }
      require_stored(*it->second);
      uint64_t need = 0;
      if (!checked_mul(static_cast<uint64_t>(st.numel), torch_storage_type(st.type)->element_size,
                       &need) ||
          need > it->second->size) {
        fail(path, fmt::format("storage '{}' declares {} elements of {} but its record holds only "
                               "{} bytes",
                               st.key, st.numel, st.type, it->second->size));
      }
      storage_member[s] = it->second;
    }
    for (const NamedPickleTensor& nt : flatten_state_dict(pickle, path)) {
      const PickleTensor& t = pickle.tensors[nt.tensor];
      const PickleStorage& st = pickle.storages[t.storage];
      const TorchStorageType type = *torch_storage_type(st.type);
      View v;
      v.info.name = nt.name;
      v.info.shape = t.sizes;
      v.info.dtype = type.dtype;
      v.base = storage_member[t.storage]->data_offset;
      v.element_size = type.element_size;
      v.offset = t.offset;
      v.sizes = t.sizes;
      v.strides = t.strides;
      v.info.skip_reason = check_view(path, v, static_cast<uint64_t>(st.numel));
      if (v.info.skip_reason.empty() && !is_floating(type.dtype)) {
        v.info.skip_reason = fmt::format("integer or bool tensor ({}) is not analyzed", st.type);
      }
      index_.emplace(v.info.name, views_.size());
      infos_.push_back(v.info);
      views_.push_back(std::move(v));
    }
  }

  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  void read(const std::string& name, std::vector<double>& out) const override {
    read_any(name, out);
  }
  void read(const std::string& name, std::vector<float>& out) const override {
    read_any(name, out);
  }
  std::optional<StoredBytes> stored_bytes(const std::string& name) const override {
    const View& v = view(name);
    // Integer and bool tensors carry a skip reason for the analysis but their bytes are
    // elements of their dtype; a view that repeats elements is never contiguous.
    if (!v.contiguous) return std::nullopt;
    const std::size_t n = static_cast<std::size_t>(v.info.numel()) * v.element_size;
    return StoredBytes{map_.data() + v.base + v.first_byte, n};
  }
  const std::string& path() const override { return path_; }
  const char* format() const override { return "pytorch"; }

 private:
  void require_stored(const ZipMember& m) const {
    if (m.method != 0) {
      fail(path_, fmt::format("zip member '{}' is compressed (method {}); torch.save stores "
                              "members uncompressed: re-save the checkpoint with torch.save",
                              m.name, m.method));
    }
  }
  std::string member_text(const ZipMember& m, std::size_t max) const {
    require_stored(m);
    const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(m.size, max));
    return std::string(reinterpret_cast<const char*>(map_.data() + m.data_offset), n);
  }

  const View& view(const std::string& name) const {
    const auto it = index_.find(name);
    if (it == index_.end()) throw std::out_of_range(path_ + ": no tensor named '" + name + "'");
    return views_[it->second];
  }

  template <typename Out>
  void read_any(const std::string& name, std::vector<Out>& out) const {
    const View& v = view(name);
    if (!is_floating(v.info.dtype)) throw_not_floating(path_, v.info);
    if (!v.info.skip_reason.empty()) {
      throw std::runtime_error(path_ + ": tensor '" + name + "': " + v.info.skip_reason);
    }
    const std::size_t n = static_cast<std::size_t>(v.info.numel());
    out.resize(n);
    if (n == 0) return;
    const unsigned char* storage = map_.data() + v.base;
    const std::size_t es = v.element_size;
    if (v.contiguous) {
      // One run: convert in chunks and drop each chunk's pages right after.
      const std::size_t chunk = kChunkBytes / es;
      const std::size_t begin = static_cast<std::size_t>(v.base + v.first_byte);
      for (std::size_t i = 0; i < n; i += chunk) {
        const std::size_t m = std::min(chunk, n - i);
        convert_elements(map_.data() + begin + i * es, v.info.dtype, m, out.data() + i);
        map_.release(begin + i * es, begin + (i + m) * es);
      }
    } else {
      gather(storage, v, out.data());
    }
    map_.release(static_cast<std::size_t>(v.base + v.first_byte),
                 static_cast<std::size_t>(v.base + v.end_byte));
  }

  // A strided view, row-major: an odometer over all dimensions but the last,
  // which is converted as one run when its stride is 1.
  template <typename Out>
  static void gather(const unsigned char* storage, const View& v, Out* out) {
    const std::size_t rank = v.sizes.size();
    const std::size_t es = v.element_size;
    const int64_t inner = v.sizes[rank - 1], inner_stride = v.strides[rank - 1];
    std::vector<int64_t> idx(rank - 1, 0);
    std::size_t k = 0;
    while (true) {
      int64_t at = v.offset;
      for (std::size_t d = 0; d + 1 < rank; ++d) at += idx[d] * v.strides[d];
      if (inner_stride == 1) {
        convert_elements(storage + static_cast<std::size_t>(at) * es, v.info.dtype,
                         static_cast<std::size_t>(inner), out + k);
        k += static_cast<std::size_t>(inner);
      } else {
        for (int64_t j = 0; j < inner; ++j, ++k) {
          convert_elements(storage + static_cast<std::size_t>(at + j * inner_stride) * es,
                           v.info.dtype, 1, out + k);
        }
      }
      bool done = true;
      for (std::size_t d = rank - 1; d-- > 0;) {
        if (++idx[d] < v.sizes[d]) {
          done = false;
          break;
        }
        idx[d] = 0;
      }
      if (done) return;
    }
  }

  std::string path_;
  MappedFile map_;
  std::vector<View> views_;
  std::vector<TensorInfo> infos_;  // sorted by name (flatten_state_dict sorts)
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace

std::unique_ptr<TensorSource> open_pytorch_file(const std::string& path) {
  return std::make_unique<PytorchSource>(path);
}

}  // namespace muft::checkpoint::detail
