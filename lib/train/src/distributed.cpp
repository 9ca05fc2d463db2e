#include "muft/train/distributed.h"

#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

namespace muft::train {

namespace {
int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  if (*end != '\0') {
    throw std::invalid_argument(std::string("environment variable ") + name + "='" + v +
                                "' is not an integer");
  }
  return x;
}
}  // namespace

DistributedOptions DistributedOptions::from_env() {
  DistributedOptions o;
  o.rank = env_int("RANK", o.rank);
  o.world_size = env_int("WORLD_SIZE", o.world_size);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) o.master_addr = a;
  o.master_port = env_int("MASTER_PORT", o.master_port);
  return o;
}

bool DistributedOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (world_size < 1) return fail("world size must be >= 1");
  if (rank < 0 || rank >= world_size) {
    return fail("rank " + std::to_string(rank) + " must be in [0, " + std::to_string(world_size) +
                ")");
  }
  if (master_port < 1 || master_port > 65535) return fail("master port must be in [1, 65535]");
  if (master_addr.empty()) return fail("master address is empty");
  if (timeout_seconds < 1) return fail("timeout must be >= 1 s");
  return true;
}

struct DistributedContext::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
};

DistributedContext::DistributedContext() = default;

DistributedContext::DistributedContext(const DistributedOptions& opts) {
  std::string err;
  if (!opts.IsValid(&err)) throw std::invalid_argument("distributed options: " + err);
  rank_ = opts.rank;
  world_size_ = opts.world_size;
  if (world_size_ == 1) return;
  impl_ = std::make_unique<Impl>();
  const auto timeout = std::chrono::milliseconds(opts.timeout_seconds * 1000);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(opts.master_port);
    so.isServer = rank_ == 0;
    so.numWorkers = static_cast<std::size_t>(world_size_);
    so.waitWorkers = true;
    so.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(opts.master_addr, so);
    auto go = c10d::ProcessGroupGloo::Options::create();
    go->timeout = timeout;
    go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(opts.master_addr));
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, static_cast<int>(rank_),
                                                            static_cast<int>(world_size_), go);
  } catch (const std::exception& e) {
    throw std::runtime_error("rendezvous at " + opts.master_addr + ":" +
                             std::to_string(opts.master_port) + " failed (rank " +
                             std::to_string(rank_) + " of " + std::to_string(world_size_) +
                             "): " + e.what());
  }
}

DistributedContext::~DistributedContext() = default;

void DistributedContext::all_reduce_mean(const std::vector<torch::Tensor>& tensors) {
  if (world_size_ == 1) return;
  std::vector<torch::Tensor> defined;
  for (const auto& t : tensors) {
    if (t.defined()) defined.push_back(t);
  }
  if (defined.empty()) return;
  std::vector<torch::Tensor> flat_parts;
  for (const auto& t : defined) flat_parts.push_back(t.detach().reshape({-1}));
  std::vector<torch::Tensor> buf = {torch::cat(flat_parts)};
  impl_->pg->allreduce(buf)->wait();
  buf[0].div_(static_cast<double>(world_size_));
  int64_t off = 0;
  torch::NoGradGuard ng;
  for (auto& t : defined) {
    const int64_t n = t.numel();
    t.copy_(buf[0].narrow(0, off, n).view(t.sizes()));
    off += n;
  }
}

void DistributedContext::broadcast(const std::vector<torch::Tensor>& tensors, int64_t root) {
  if (world_size_ == 1) return;
  torch::NoGradGuard ng;
  for (const auto& t : tensors) {
    std::vector<torch::Tensor> buf = {t.detach().contiguous().clone()};
    c10d::BroadcastOptions bo;
    bo.rootRank = root;
    impl_->pg->broadcast(buf, bo)->wait();
    t.copy_(buf[0]);
  }
}

double DistributedContext::all_reduce_mean(double value) {
  if (world_size_ == 1) return value;
  std::vector<torch::Tensor> buf = {torch::tensor({value}, torch::kFloat64)};
  impl_->pg->allreduce(buf)->wait();
  return buf[0].item<double>() / static_cast<double>(world_size_);
}

void DistributedContext::barrier() {
  if (world_size_ == 1) return;
  impl_->pg->barrier()->wait();
}

}  // namespace muft::train
