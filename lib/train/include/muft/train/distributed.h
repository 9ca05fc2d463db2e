#pragma once
/// \file distributed.h
/// Multi-process data parallelism on LibTorch's own distributed layer (c10d):
/// a TCPStore rendezvous and a ProcessGroupGloo (CPU tensors). Gradients are
/// averaged across ranks before every optimizer step, so Muon orthogonalizes the
/// full-batch gradient matrix, as in the paper's DDP setup (arXiv 2605.10468 App. C).
/// With world size 1 nothing is created and every call is a no-op.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace muft::train {

/// Where a process sits in the job. Flags override the usual environment variables.
struct DistributedOptions {
  int64_t rank = 0;                       ///< this process, in [0, world_size)
  int64_t world_size = 1;                 ///< number of processes
  std::string master_addr = "127.0.0.1";  ///< host of rank 0's TCPStore
  int64_t master_port = 29500;            ///< port of rank 0's TCPStore
  int64_t timeout_seconds = 300;          ///< rendezvous and collective timeout
  /// Reads RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT when set (others keep defaults).
  /// Throws std::invalid_argument on a variable that is not a number.
  static DistributedOptions from_env();
  /// Validates 0 ≤ rank < world_size, port in [1, 65535], timeout > 0.
  bool IsValid(std::string* error) const;
};

/// A process group (or nothing, for world size 1).
class DistributedContext {
 public:
  /// Single process: no communication.
  DistributedContext();
  /// Joins the group: rank 0 hosts the TCPStore; blocks until every rank has joined.
  /// Throws std::invalid_argument on invalid options, std::runtime_error when the
  /// rendezvous fails (message names the address and port).
  explicit DistributedContext(const DistributedOptions& opts);
  ~DistributedContext();
  DistributedContext(const DistributedContext&) = delete;
  DistributedContext& operator=(const DistributedContext&) = delete;

  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_size_; }
  bool is_main() const { return rank_ == 0; }

  /// Replaces every defined tensor by its mean over the ranks (one flattened
  /// all-reduce; CPU float32 tensors). Every rank must pass the same shapes in the same order.
  void all_reduce_mean(const std::vector<torch::Tensor>& tensors);
  /// Copies rank root's values into every rank's tensors (in place).
  void broadcast(const std::vector<torch::Tensor>& tensors, int64_t root = 0);
  /// Mean of a scalar over the ranks.
  double all_reduce_mean(double value);
  /// Returns when every rank has reached it.
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t rank_ = 0;
  int64_t world_size_ = 1;
};

}  // namespace muft::train
