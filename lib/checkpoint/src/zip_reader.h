#pragma once
// Private: the central directory of a zip archive held in memory (a mapped
// file), enough to find the members torch.save writes. Nothing is inflated:
// torch.save stores every member uncompressed, and a compressed member is
// reported as such rather than decoded.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace muft::checkpoint::detail {

/// One member of a zip archive, with its data located and bounds-checked.
struct ZipMember {
  std::string name;
  uint16_t method = 0;       ///< 0 = stored; anything else is compressed
  uint64_t data_offset = 0;  ///< file offset of the member's first data byte
  uint64_t size = 0;         ///< uncompressed size (= stored size when method is 0)
  uint64_t stored_size = 0;  ///< bytes the member occupies in the file
};

/// Reads the end-of-central-directory record (ZIP64 included), every central
/// directory entry and each member's local header, checking that every
/// offset and size lies inside [0, size) with overflow-checked arithmetic.
/// Refuses encrypted members, multi-disk archives, duplicate names and
/// entry counts that disagree with the directory. Members are returned in
/// directory order. Throws std::runtime_error("<file>: <reason>").
std::vector<ZipMember> read_zip_directory(const unsigned char* data, std::size_t size,
                                          const std::string& file);

/// The zip local-file-header signature "PK\3\4" that starts a torch.save archive.
bool has_zip_signature(const unsigned char* data, std::size_t size);

}  // namespace muft::checkpoint::detail
