#pragma once
/// \file tensor_source.h
/// The tensor-source seam: the analyzer asks a source for tensors by name and
/// never learns which file format they came from. muft HDF5, generic HDF5,
/// safetensors (single or sharded), PyTorch zip archives and GGUF are the
/// implementations.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace muft::checkpoint {

/// Element type of a stored tensor.
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, Bool };

/// Size of one element in bytes.
std::size_t dtype_size(DType t);
/// Canonical name ("F32", "BF16", ...), as in safetensors headers.
const char* dtype_name(DType t);
/// True for F64/F32/F16/BF16: the dtypes whose spectra are analyzed.
bool is_floating(DType t);

/// What a source knows about one tensor without reading its values.
struct TensorInfo {
  std::string name;            ///< original name, e.g. "transformer.h.0.attn.c_q.weight"
  std::vector<int64_t> shape;  ///< row-major shape; empty for a scalar
  DType dtype = DType::F32;
  /// Non-empty when the source lists the tensor but cannot hand out its values as floats,
  /// and why (e.g. "GGUF type Q4_K is not supported", "compound HDF5 datatype"); the analyzer
  /// reports such tensors as skipped with this reason instead of reading them.
  std::string skip_reason;
  int64_t numel() const;
  /// Matrix view used by the analysis: rank 2 as is; rank > 2 reshaped to
  /// [shape[0], prod(shape[1:])]; rank < 2 gives {0, 0} (not a matrix).
  std::pair<int64_t, int64_t> matrix_shape() const;
};

/// A tensor's bytes as the file stores them, inside a read-only memory mapping held by its
/// source: numel·dtype_size(dtype) little-endian bytes in row-major order, at any alignment.
/// Valid for as long as the source lives.
struct StoredBytes {
  const unsigned char* data = nullptr;
  std::size_t size = 0;
};

/// A readable collection of named tensors (one file, or one sharded model).
/// Implementations are safe to read from several threads at once.
class TensorSource {
 public:
  virtual ~TensorSource() = default;
  /// Every tensor in the source, in a stable order (sorted by name).
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  /// Converts one floating tensor to double, row-major, into out
  /// (resized to numel). Throws std::runtime_error with the tensor name and
  /// reason on failure, std::out_of_range for an unknown name.
  virtual void read(const std::string& name, std::vector<double>& out) const = 0;
  /// Same, into float (lossless for F32/F16/BF16).
  virtual void read(const std::string& name, std::vector<float>& out) const = 0;
  /// The tensor's bytes in place, without converting or copying them, where the file stores
  /// them as one contiguous, uncompressed, little-endian run of its dtype (safetensors; torch.save
  /// tensors whose view is contiguous; unquantized GGUF tensors; contiguous HDF5 datasets of a
  /// file on disk). The checks read() makes come first (a muft checkpoint's checksum). Any
  /// dtype, including integers. std::nullopt where the values would have to be gathered or
  /// converted (strided views, chunked or filtered HDF5 datasets, quantized GGUF types,
  /// big-endian data, sources opened from memory) or where the tensor has a skip_reason
  /// saying its elements are not of its dtype. Throws like read() on bad data,
  /// std::out_of_range for an unknown name.
  virtual std::optional<StoredBytes> stored_bytes(const std::string& name) const {
    (void)name;
    return std::nullopt;
  }
  /// The path the source was opened from.
  virtual const std::string& path() const = 0;
  /// "muft-hdf5", "hdf5", "safetensors", "safetensors-sharded", "pytorch",
  /// "pytorch-sharded" or "gguf".
  virtual const char* format() const = 0;
  /// A remark on the source as a whole that readers of results should see, "" when none: e.g.
  /// a muft checkpoint without checksums, whose data could not be verified.
  virtual std::string note() const { return {}; }
};

/// Opens any supported checkpoint: *.safetensors, a *.index.json of sharded
/// safetensors or PyTorch files (or a directory holding one, or one model
/// file), a torch.save zip archive (.pt/.pth/.bin, detected by the zip
/// signature; read without running code), a GGUF file (by its magic) or an
/// HDF5 file (muft checkpoints are detected by their root attribute
/// `muft_format`). Throws std::runtime_error with a one-line reason on
/// unreadable or invalid input.
std::unique_ptr<TensorSource> open_source(const std::string& path);

}  // namespace muft::checkpoint
