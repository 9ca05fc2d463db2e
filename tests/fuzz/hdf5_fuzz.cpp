// libFuzzer target: the fuzz input is a whole HDF5 file image, opened in memory with HDF5's core
// driver. It goes through both HDF5 readers of muft::checkpoint: the tensor source (muft
// checkpoint or generic HDF5: listing, then reading every listed tensor) and, when the image
// calls itself a muft checkpoint, read_checkpoint's and verify_checkpoint's reader (after the
// global-heap guard read_checkpoint runs first). Any input must either be rejected with an
// exception or give results that keep the readers' promises; a broken promise aborts. Crashes
// and hangs inside HDF5 itself show up here too (see global_heap.h for the ones guarded).

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "global_heap.h"
#include "hdf5_util.h"
#include "muft/checkpoint/dtype.h"
#include "muft_hdf5.h"
#include "sources.h"

namespace {

namespace ck = muft::checkpoint;

// Tensors larger than this are listed but not read: a few bytes of header can claim terabytes.
constexpr int64_t kMaxRead = int64_t{1} << 22;

void check_source(const uint8_t* data, size_t size) {
  std::unique_ptr<ck::TensorSource> src;
  try {
    src = ck::detail::open_hdf5_image(data, size, "fuzz-input.h5");
  } catch (const std::exception&) {
    return;  // rejected with a message: fine
  }
  const auto& tensors = src->tensors();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const ck::TensorInfo& t = tensors[i];
    if (i > 0 && !(tensors[i - 1].name < t.name)) std::abort();  // sorted, unique
    int64_t n = 0;
    try {
      n = t.numel();  // listed shapes were validated when the source was opened
    } catch (const std::exception&) {
      std::abort();
    }
    if (n < 0) std::abort();
    if (n > kMaxRead) continue;
    std::vector<double> d;
    std::vector<float> f;
    try {
      src->read(t.name, d);
      if (d.size() != static_cast<std::size_t>(n)) std::abort();
      src->read(t.name, f);
      if (f.size() != static_cast<std::size_t>(n)) std::abort();
    } catch (const std::out_of_range&) {
      std::abort();  // every listed name must be readable or refused, never unknown
    } catch (const std::exception&) {
      // refused with a message (not floating, skip reason, corrupt, unreadable): fine
    }
  }
}

// Total bytes the datasets of a muft checkpoint claim, so that huge claims are not read.
bool small_enough(hid_t file) {
  int64_t total = 0;
  for (const char* group : {"parameters", "optimizer"}) {
    if (H5Lexists(file, group, H5P_DEFAULT) <= 0) continue;
    ck::detail::Handle g(H5Gopen2(file, group, H5P_DEFAULT), H5Gclose);
    if (!g.valid()) return true;  // the reader will refuse it
    hsize_t n = 0;
    if (H5Gget_num_objs(g.get(), &n) < 0) return true;
    for (hsize_t i = 0; i < n && i < 4096; ++i) {
      char name[1024];
      if (H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                             H5P_DEFAULT) < 0) {
        return true;
      }
      ck::detail::Handle d(H5Dopen2(g.get(), name, H5P_DEFAULT), H5Dclose);
      if (!d.valid()) continue;
      ck::detail::Handle s(H5Dget_space(d.get()), H5Sclose);
      const hssize_t points = s.valid() ? H5Sget_simple_extent_npoints(s.get()) : 0;
      if (points > 0) total += points;
      if (total > kMaxRead) return false;
    }
  }
  return true;
}

void check_checkpoint_reader(const uint8_t* data, size_t size) {
  ck::detail::Hdf5Lock lock;
  ck::detail::Handle file;
  try {
    file = ck::detail::open_file_image(data, size, "fuzz-input.h5");
  } catch (const std::exception&) {
    return;
  }
  if (!ck::detail::has_attribute(file.get(), "muft_format")) return;
  try {
    ck::detail::check_global_heaps(data, size, "fuzz-input.h5");  // as read_checkpoint does
  } catch (const std::exception&) {
    return;
  }
  const bool read_data = small_enough(file.get());
  ck::detail::error_stack_summary();
  for (const auto mode :
       {ck::detail::ReadMode::Metadata, ck::detail::ReadMode::Verify, ck::detail::ReadMode::Full}) {
    if (mode != ck::detail::ReadMode::Metadata && !read_data) break;
    ck::CheckpointCheck check;
    try {
      const ck::Checkpoint c =
          ck::detail::read_checkpoint_file(file.get(), "fuzz-input.h5", mode, &check);
      if (check.unverified > check.datasets) std::abort();
      for (const auto* group : {&c.parameters, &c.optimizer_state}) {
        for (const ck::NamedTensor& t : *group) {
          ck::TensorInfo info;
          info.shape = t.shape;
          info.dtype = t.dtype;
          const auto n = static_cast<std::size_t>(info.numel());
          if (t.bytes.size() != n * ck::dtype_size(t.dtype)) std::abort();
        }
      }
    } catch (const std::exception&) {
      // rejected with a message: fine
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_source(data, size);
  check_checkpoint_reader(data, size);
  return 0;
}
