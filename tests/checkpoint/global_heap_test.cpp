// Tests of global_heap.cpp, the guard in front of HDF5's global heap: hand-built collections
// (valid, a zero-size object that made HDF5 1.10.8 loop forever, an object past the end that
// made it copy out of bounds), real checkpoints passing, and the fuzzer's inputs in
// tests/fuzz/corpus/hdf5/ refused with one line by every reader instead of hanging or crashing.

#include "global_heap.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "muft/checkpoint/checkpoint.h"
#include "muft/checkpoint/tensor_source.h"
#include "test_util.h"

namespace muft::checkpoint {
namespace {

void put_le(std::vector<unsigned char>& b, std::size_t at, uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) b[at + i] = static_cast<unsigned char>(v >> (8 * i));
}

// A 4096-byte collection at offset 64 of a zero-filled buffer: objects (index, size) in order,
// then a free-space object covering the rest unless `objects` already does.
std::vector<unsigned char> collection(const std::vector<std::pair<uint16_t, uint64_t>>& objects,
                                      bool close_with_free_space = true) {
  std::vector<unsigned char> b(64 + 4096 + 64, 0);
  const std::size_t at = 64;
  std::memcpy(b.data() + at, "GCOL", 4);
  b[at + 4] = 1;
  put_le(b, at + 8, 4096, 8);
  std::size_t p = at + 16;
  for (const auto& [index, size] : objects) {
    put_le(b, p, index, 2);
    put_le(b, p + 2, 1, 2);
    put_le(b, p + 8, size, 8);
    p += index ? 16 + ((size + 7) & ~uint64_t{7}) : size;
  }
  if (close_with_free_space && p + 16 <= at + 4096) {
    put_le(b, p, 0, 2);
    put_le(b, p + 8, at + 4096 - p, 8);
  }
  return b;
}

void expect_damaged(const std::vector<unsigned char>& b, const std::string& needle) {
  try {
    detail::check_global_heaps(b.data(), b.size(), "x.h5");
    ADD_FAILURE() << "accepted a damaged collection (" << needle << ")";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("x.h5: damaged HDF5 global heap collection at offset 64", 0), 0u) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

TEST(GlobalHeapTest, WalksValidCollectionsAndRefusesTheOnesHdf5CannotWalk) {
  const auto ok = collection({{1, 17}, {2, 7}, {3, 100}});
  EXPECT_NO_THROW(detail::check_global_heaps(ok.data(), ok.size(), "x.h5"));
  // A free-space object of size 0 after two strings: HDF5 1.10.8 never gets past it.
  expect_damaged(collection({{1, 17}, {2, 7}, {0, 0}}, false), "object 0 of size 0");
  // A string claiming more bytes than the collection holds: HDF5 copies far out of bounds.
  expect_damaged(collection({{1, 17}, {3, 8863084066665136130ull}}, false), "object 3 of");
  expect_damaged(collection({{1, 4070}}, false), "runs past the collection");
  // A collection larger than the file.
  auto big = collection({{1, 17}});
  put_le(big, 64 + 8, 1 << 20, 8);
  expect_damaged(big, "does not fit");
  // Not a collection to HDF5 (another version): left alone.
  auto other = collection({{0, 0}}, false);
  other[64 + 4] = 2;
  EXPECT_NO_THROW(detail::check_global_heaps(other.data(), other.size(), "x.h5"));
}

TEST(GlobalHeapTest, RealCheckpointsPass) {
  testing::ScratchDir dir;
  Checkpoint c;
  c.config = {{"a long configuration", std::string(5000, 'x')}};  // more than one collection
  write_checkpoint(dir.file("ck.h5"), c);
  EXPECT_NO_THROW(detail::check_global_heaps_file(dir.file("ck.h5")));
  EXPECT_NO_THROW(detail::check_global_heaps_file("tests/checkpoint/fixtures/muft_h5py.h5"));
  EXPECT_NO_THROW(detail::check_global_heaps_file(dir.file("missing.h5")));
}

// The fuzzer's inputs: damaged muft checkpoints whose string attributes made HDF5 1.10.8 hang
// or crash. Each reader now refuses them with one line naming the damage.
TEST(GlobalHeapTest, FuzzerInputsAreRefusedByEveryReader) {
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator("tests/fuzz/corpus/hdf5")) {
    const std::string path = e.path().string();
    if (e.path().filename().string().rfind("global-heap-", 0) != 0) continue;
    ++files;
    auto expect_refused = [&](const std::string& msg) {
      EXPECT_NE(msg.find("damaged HDF5 global heap"), std::string::npos) << path << ": " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    };
    try {
      read_checkpoint(path);
      ADD_FAILURE() << path << " accepted";
    } catch (const std::runtime_error& err) {
      expect_refused(err.what());
    }
    try {
      read_checkpoint_metadata(path);
      ADD_FAILURE() << path << " accepted";
    } catch (const std::runtime_error& err) {
      expect_refused(err.what());
    }
    const CheckpointCheck check = verify_checkpoint(path);
    EXPECT_FALSE(check.ok);
    expect_refused(check.error);
    try {
      open_source(path);
      ADD_FAILURE() << path << " accepted";
    } catch (const std::runtime_error& err) {
      expect_refused(err.what());
    }
  }
  EXPECT_EQ(files, 3u);
}

}  // namespace
}  // namespace muft::checkpoint
