// The "muft-posix" HDF5 file driver (see hdf5_driver.h for why it exists): POSIX pread/pwrite
// like HDF5's sec2 driver while writes succeed; after the first failed write the file continues
// in an in-memory page overlay, so HDF5 never sees a failure it cannot clean up after.

#include "hdf5_driver.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#if H5_VERSION_GE(1, 13, 0)
#error "hdf5_driver.cpp implements the HDF5 1.10/1.12 file driver interface"
#endif

namespace muft::checkpoint::detail {
namespace {

static_assert(sizeof(off_t) >= 8, "muft-posix needs 64-bit file offsets");

// Largest address: what off_t can hold (as sec2).
constexpr haddr_t kMaxAddr = (static_cast<haddr_t>(1) << (8 * sizeof(off_t) - 1)) - 1;
constexpr haddr_t kPage = 4096;

struct Config {
  WriteStatus* status;
};

// C++ state of one open file; FileStruct below stays a standard-layout struct whose first
// member is the H5FD_t HDF5 hands back to the callbacks.
struct State {
  int fd = -1;
  haddr_t eoa = 0;       // end of the address space HDF5 has allocated
  haddr_t eof = 0;       // logical end of file (disk, or overlay after a failure)
  haddr_t disk_eof = 0;  // file size on disk when the overlay started
  dev_t device = 0;
  ino_t inode = 0;
  std::string name;
  WriteStatus* status = nullptr;
  bool overlay = false;  // a write has failed: everything from now on stays in memory
  std::unordered_map<haddr_t, std::vector<unsigned char>> pages;  // page index -> kPage bytes
};

struct FileStruct {
  H5FD_t pub;
  State* state;
};

State& state_of(const H5FD_t* f) {
  return *reinterpret_cast<const FileStruct*>(f)->state;
}

void record(State& s, const std::string& what) {
  if (s.status && s.status->error.empty()) s.status->error = what;
}

// Reads [addr, addr + size) from the disk file, zero-filling past `limit`.
bool disk_read(State& s, haddr_t addr, std::size_t size, unsigned char* out, haddr_t limit) {
  while (size > 0) {
    if (addr >= limit) {
      std::memset(out, 0, size);
      return true;
    }
    const std::size_t n = static_cast<std::size_t>(std::min<haddr_t>(size, limit - addr));
    const ssize_t got = ::pread(s.fd, out, n, static_cast<off_t>(addr));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      record(s, fmt::format("read of {} bytes at offset {} failed: {}", n, addr,
                            std::strerror(errno)));
      return false;
    }
    if (got == 0) {  // shorter than expected: the rest reads as zeros
      std::memset(out, 0, size);
      return true;
    }
    addr += static_cast<haddr_t>(got);
    out += got;
    size -= static_cast<std::size_t>(got);
  }
  return true;
}

std::vector<unsigned char>& page(State& s, haddr_t index) {
  auto it = s.pages.find(index);
  if (it != s.pages.end()) return it->second;
  std::vector<unsigned char> p(kPage, 0);
  // Best effort: a page the disk cannot give back reads as zeros (it was never written whole).
  disk_read(s, index * kPage, kPage, p.data(), s.disk_eof);
  return s.pages.emplace(index, std::move(p)).first->second;
}

void overlay_write(State& s, haddr_t addr, std::size_t size, const unsigned char* in) {
  while (size > 0) {
    const haddr_t index = addr / kPage, off = addr % kPage;
    const std::size_t n = static_cast<std::size_t>(std::min<haddr_t>(size, kPage - off));
    std::memcpy(page(s, index).data() + off, in, n);
    addr += n;
    in += n;
    size -= n;
  }
}

bool overlay_read(State& s, haddr_t addr, std::size_t size, unsigned char* out) {
  while (size > 0) {
    const haddr_t index = addr / kPage, off = addr % kPage;
    const std::size_t n = static_cast<std::size_t>(std::min<haddr_t>(size, kPage - off));
    const auto it = s.pages.find(index);
    if (it != s.pages.end()) {
      std::memcpy(out, it->second.data() + off, n);
    } else if (!disk_read(s, addr, n, out, s.disk_eof)) {
      return false;
    }
    addr += n;
    out += n;
    size -= n;
  }
  return true;
}

void start_overlay(State& s, const std::string& what) {
  record(s, what);
  struct stat st;
  s.disk_eof = ::fstat(s.fd, &st) == 0 ? static_cast<haddr_t>(st.st_size) : 0;
  s.overlay = true;
}

bool region_ok(haddr_t addr, std::size_t size) {
  return addr != HADDR_UNDEF && addr <= kMaxAddr && size <= kMaxAddr && addr + size <= kMaxAddr;
}

// ---------------------------------------------------------------- callbacks

H5FD_t* drv_open(const char* name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
  if (!name || !*name || maxaddr == 0 || maxaddr == HADDR_UNDEF || maxaddr > kMaxAddr) {
    return nullptr;
  }
  const auto* cfg = static_cast<const Config*>(H5Pget_driver_info(fapl));
  WriteStatus* status = cfg ? cfg->status : nullptr;
  int o_flags = (flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY;
  if (flags & H5F_ACC_TRUNC) o_flags |= O_TRUNC;
  if (flags & H5F_ACC_CREAT) o_flags |= O_CREAT;
  if (flags & H5F_ACC_EXCL) o_flags |= O_EXCL;
  const int fd = ::open(name, o_flags | O_CLOEXEC, 0666);
  if (fd < 0) {
    if (status) status->open_error = fmt::format("cannot open: {}", std::strerror(errno));
    return nullptr;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    if (status) status->open_error = fmt::format("cannot stat: {}", std::strerror(errno));
    ::close(fd);
    return nullptr;
  }
  auto state = std::make_unique<State>();
  state->fd = fd;
  state->eof = static_cast<haddr_t>(st.st_size);
  state->device = st.st_dev;
  state->inode = st.st_ino;
  state->name = name;
  state->status = status;
  auto* f = new FileStruct{};
  f->state = state.release();
  return &f->pub;
}

herr_t drv_close(H5FD_t* file) {
  auto* f = reinterpret_cast<FileStruct*>(file);
  State& s = *f->state;
  if (::close(s.fd) != 0 && !s.overlay) {
    // Delayed write errors (NFS, some quota setups) surface here.
    record(s, fmt::format("close failed: {}", std::strerror(errno)));
  }
  delete f->state;
  delete f;
  return 0;
}

int drv_cmp(const H5FD_t* a, const H5FD_t* b) {
  const State &x = state_of(a), &y = state_of(b);
  if (x.device != y.device) return x.device < y.device ? -1 : 1;
  if (x.inode != y.inode) return x.inode < y.inode ? -1 : 1;
  return 0;
}

herr_t drv_query(const H5FD_t*, unsigned long* flags) {
  // The same features as HDF5's sec2 driver, so that files are laid out byte for byte alike.
  if (flags) {
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_POSIX_COMPAT_HANDLE |
             H5FD_FEAT_SUPPORTS_SWMR_IO | H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
  }
  return 0;
}

haddr_t drv_get_eoa(const H5FD_t* file, H5FD_mem_t) {
  return state_of(file).eoa;
}

herr_t drv_set_eoa(H5FD_t* file, H5FD_mem_t, haddr_t addr) {
  if (addr > kMaxAddr) return -1;
  state_of(file).eoa = addr;
  return 0;
}

haddr_t drv_get_eof(const H5FD_t* file, H5FD_mem_t) {
  return state_of(file).eof;
}

herr_t drv_get_handle(H5FD_t* file, hid_t, void** handle) {
  if (!handle) return -1;
  *handle = &state_of(file).fd;
  return 0;
}

herr_t drv_read(H5FD_t* file, H5FD_mem_t, hid_t, haddr_t addr, size_t size, void* buf) {
  State& s = state_of(file);
  if (!region_ok(addr, size)) return -1;
  auto* out = static_cast<unsigned char*>(buf);
  if (s.overlay) return overlay_read(s, addr, size, out) ? 0 : -1;
  // Past the end of the file reads as zeros, as in sec2.
  return disk_read(s, addr, size, out, kMaxAddr) ? 0 : -1;
}

herr_t drv_write(H5FD_t* file, H5FD_mem_t, hid_t, haddr_t addr, size_t size, const void* buf) {
  State& s = state_of(file);
  if (!region_ok(addr, size)) return -1;
  const auto* in = static_cast<const unsigned char*>(buf);
  const haddr_t end = addr + size;
  if (!s.overlay) {
    haddr_t a = addr;
    std::size_t left = size;
    const unsigned char* p = in;
    while (left > 0) {
      const ssize_t put = ::pwrite(s.fd, p, left, static_cast<off_t>(a));
      if (put < 0 && errno == EINTR) continue;
      if (put <= 0) {
        start_overlay(s, fmt::format("write of {} bytes at offset {} failed: {}", size, addr,
                                     std::strerror(put < 0 ? errno : ENOSPC)));
        break;
      }
      a += static_cast<haddr_t>(put);
      p += put;
      left -= static_cast<std::size_t>(put);
    }
  }
  // The whole write goes to the overlay once it is on: bytes that did reach the disk are
  // covered by the overlay pages too, so reads never see a half-written region.
  if (s.overlay) overlay_write(s, addr, size, in);
  s.eof = std::max(s.eof, end);
  return 0;
}

herr_t drv_truncate(H5FD_t* file, hid_t, hbool_t) {
  State& s = state_of(file);
  if (s.eoa == s.eof) return 0;
  if (!s.overlay && ::ftruncate(s.fd, static_cast<off_t>(s.eoa)) != 0) {
    start_overlay(
        s, fmt::format("cannot set the file size to {} bytes: {}", s.eoa, std::strerror(errno)));
  }
  s.eof = s.eoa;
  return 0;
}

herr_t drv_lock(H5FD_t* file, hbool_t rw) {
  State& s = state_of(file);
  if (::flock(s.fd, (rw ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0) return 0;
  if (errno == ENOSYS || errno == ENOTSUP) return 0;  // file system without locks: go on
  record(s, fmt::format("cannot lock the file: {}", std::strerror(errno)));
  return -1;
}

herr_t drv_unlock(H5FD_t* file) {
  State& s = state_of(file);
  if (::flock(s.fd, LOCK_UN) == 0 || errno == ENOSYS || errno == ENOTSUP) return 0;
  return -1;
}

hid_t g_driver = H5I_INVALID_HID;

herr_t drv_terminate() {
  g_driver = H5I_INVALID_HID;  // HDF5 is shutting down; register again if it restarts
  return 0;
}

H5FD_class_t make_class() {
  H5FD_class_t c;
  std::memset(&c, 0, sizeof c);
  c.name = "muft-posix";
  c.maxaddr = kMaxAddr;
  c.fc_degree = H5F_CLOSE_WEAK;
  c.terminate = drv_terminate;
  c.fapl_size = sizeof(Config);
  c.open = drv_open;
  c.close = drv_close;
  c.cmp = drv_cmp;
  c.query = drv_query;
  c.get_eoa = drv_get_eoa;
  c.set_eoa = drv_set_eoa;
  c.get_eof = drv_get_eof;
  c.get_handle = drv_get_handle;
  c.read = drv_read;
  c.write = drv_write;
  c.truncate = drv_truncate;
  c.lock = drv_lock;
  c.unlock = drv_unlock;
  const H5FD_mem_t map[H5FD_MEM_NTYPES] = H5FD_FLMAP_DICHOTOMY;
  std::copy(std::begin(map), std::end(map), std::begin(c.fl_map));
  return c;
}

}  // namespace

hid_t posix_write_driver() {
  static const H5FD_class_t cls = make_class();
  if (g_driver < 0 || H5Iget_type(g_driver) != H5I_VFL) g_driver = H5FDregister(&cls);
  return g_driver;
}

herr_t set_posix_write_driver(hid_t fapl, WriteStatus* status) {
  const hid_t id = posix_write_driver();
  if (id < 0) return -1;
  const Config cfg{status};
  return H5Pset_driver(fapl, id, &cfg);
}

}  // namespace muft::checkpoint::detail
