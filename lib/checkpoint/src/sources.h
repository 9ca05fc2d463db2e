#pragma once
// Private: the TensorSource implementations behind open_source(), and the
// element conversions they share.

#include <cstring>
#include <memory>
#include <string>

#include "muft/checkpoint/dtype.h"
#include "muft/checkpoint/tensor_source.h"

namespace muft::checkpoint::detail {

/// One safetensors file, memory-mapped read-only ("safetensors").
std::unique_ptr<TensorSource> open_safetensors_file(const std::string& path);
/// A sharded model from its *.index.json: "safetensors-sharded" or
/// "pytorch-sharded" after the format of its shards.
std::unique_ptr<TensorSource> open_sharded_index(const std::string& index_path);
/// A torch.save zip archive (.pt, .pth, .bin), read by the restricted
/// unpickler without running code ("pytorch").
std::unique_ptr<TensorSource> open_pytorch_file(const std::string& path);
/// A GGUF v2/v3 file ("gguf").
std::unique_ptr<TensorSource> open_gguf_file(const std::string& path);
/// An HDF5 file: "muft-hdf5" when the root has `muft_format`, else "hdf5".
std::unique_ptr<TensorSource> open_hdf5_source(const std::string& path);
/// The same reader over an in-memory HDF5 file image (HDF5's core driver), e.g. for fuzzing.
std::unique_ptr<TensorSource> open_hdf5_image(const void* data, std::size_t size,
                                              const std::string& name);

/// Converts n little-endian elements of floating dtype t starting at src
/// (any alignment: memcpy per element, never a pointer cast) into out.
template <typename Out>
void convert_elements(const unsigned char* src, DType t, std::size_t n, Out* out) {
  switch (t) {
    case DType::F64:
      for (std::size_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, src + 8 * i, 8);
        out[i] = static_cast<Out>(v);
      }
      return;
    case DType::F32:
      if constexpr (sizeof(Out) == 4) {
        if (n) std::memcpy(out, src, 4 * n);
      } else {
        for (std::size_t i = 0; i < n; ++i) {
          float v;
          std::memcpy(&v, src + 4 * i, 4);
          out[i] = v;
        }
      }
      return;
    case DType::F16:
    case DType::BF16:
      for (std::size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        out[i] = t == DType::F16 ? half_to_float(h) : bfloat16_to_float(h);
      }
      return;
    default:
      break;
  }
}

/// The one-line error for reading a non-floating tensor as floats.
[[noreturn]] void throw_not_floating(const std::string& path, const TensorInfo& info);

}  // namespace muft::checkpoint::detail
