#pragma once
// Test-side writers for torch.save-shaped files, written from the format
// descriptions (zip APPNOTE, pickletools): a stored zip archive and a pickle
// opcode builder. They make exact, hostile or truncated inputs that
// python3-torch cannot produce.

#include <cstdint>
#include <string>
#include <vector>

namespace muft::checkpoint::testing {

/// One zip member.
struct ZipEntry {
  std::string name;
  std::string data;
  uint16_t method = 0;  ///< written into the headers as is (the data are never compressed)
};

/// Options of make_zip.
struct ZipOptions {
  bool zip64 = false;   ///< ZIP64 end records and extra fields, as torch writes for > 4 GiB
  bool align64 = true;  ///< pad local headers so data start on 64-byte boundaries (as torch)
};

/// A complete zip archive with the members stored (uncompressed), CRC-32 set.
std::string make_zip(const std::vector<ZipEntry>& entries, const ZipOptions& opt = {});

/// Builds a pickle opcode by opcode (protocol 2 unless told otherwise).
class PickleBuilder {
 public:
  PickleBuilder& op(unsigned char c) {
    out_ += static_cast<char>(c);
    return *this;
  }
  PickleBuilder& raw(const std::string& bytes) {
    out_ += bytes;
    return *this;
  }
  PickleBuilder& proto(int v = 2) { return op(0x80).op(static_cast<unsigned char>(v)); }
  PickleBuilder& mark() { return op('('); }
  PickleBuilder& empty_dict() { return op('}'); }
  PickleBuilder& empty_list() { return op(']'); }
  PickleBuilder& empty_tuple() { return op(')'); }
  PickleBuilder& tuple() { return op('t'); }
  PickleBuilder& tuple1() { return op(0x85); }
  PickleBuilder& tuple2() { return op(0x86); }
  PickleBuilder& tuple3() { return op(0x87); }
  PickleBuilder& setitem() { return op('s'); }
  PickleBuilder& setitems() { return op('u'); }
  PickleBuilder& append() { return op('a'); }
  PickleBuilder& reduce() { return op('R'); }
  PickleBuilder& build() { return op('b'); }
  PickleBuilder& persid() { return op('Q'); }
  PickleBuilder& none() { return op('N'); }
  PickleBuilder& boolean(bool b) { return op(b ? 0x88 : 0x89); }
  PickleBuilder& stop() { return op('.'); }
  PickleBuilder& str(const std::string& s);  ///< BINUNICODE
  PickleBuilder& integer(int64_t v);         ///< BININT1/BININT/LONG1 as needed
  PickleBuilder& real(double v);             ///< BINFLOAT
  PickleBuilder& global(const std::string& module, const std::string& name);  ///< GLOBAL
  PickleBuilder& put(uint32_t key);                    ///< BINPUT / LONG_BINPUT
  PickleBuilder& get(uint32_t key);                    ///< BINGET / LONG_BINGET
  PickleBuilder& ints(const std::vector<int64_t>& v);  ///< a tuple of ints (MARK ... TUPLE)
  /// _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, sizes,
  /// strides, False, OrderedDict()) as torch.save emits it.
  PickleBuilder& tensor(const std::string& storage_type, const std::string& key, int64_t numel,
                        int64_t offset, const std::vector<int64_t>& sizes,
                        const std::vector<int64_t>& strides);
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

/// A torch.save-shaped archive: <prefix>/data.pkl, <prefix>/data/<key> for each
/// storage, <prefix>/version.
std::string make_torch_archive(const std::string& pickle,
                               const std::vector<std::pair<std::string, std::string>>& storages,
                               const std::string& prefix = "archive", const ZipOptions& opt = {});

/// Little-endian bytes of float / double / uint16 values.
std::string f32_bytes(const std::vector<float>& v);
std::string f64_bytes(const std::vector<double>& v);
std::string u16_bytes(const std::vector<uint16_t>& v);

}  // namespace muft::checkpoint::testing
