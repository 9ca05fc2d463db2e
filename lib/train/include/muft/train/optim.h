#pragma once
/// \file optim.h
/// The optimizer muft trains with: a list of parameter groups, each with its
/// own update rule (AdamW or Muon) and its own options, a global learning-rate
/// multiplier set by the schedule, and optimizer state exposed as named
/// tensors for checkpoints (bit-exact resume).
///
/// It is deliberately not a torch::optim::Optimizer subclass: per-group
/// options are plain structs stored as given (LibTorch 1.13 replaces
/// per-group options it does not know), and tests check they survive.

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <torch/torch.h>

#include "muft/train/adamw.h"
#include "muft/train/muon.h"

namespace muft::train {

/// Name → tensor list, in a deterministic order.
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// Which update rule a group uses (the alternative held by RuleOptions).
enum class UpdateRule { kAdamW, kMuon };
std::string to_string(UpdateRule r);

/// The options of a group's update rule: exactly one rule per group. A new rule is one more
/// alternative here (its options struct and update function in their own file, e.g. adamw.h).
using RuleOptions = std::variant<AdamWOptions, MuonOptions>;

/// One parameter group: the parameters (with their model names, used to name
/// the optimizer state) and the options of its rule.
struct ParamGroup {
  std::string name;                   ///< e.g. "matrix", "embedding", "head", "scalar", "lora"
  RuleOptions options;                ///< AdamW by default
  std::vector<std::string> names;     ///< parameter names, same length as params
  std::vector<torch::Tensor> params;  ///< the model's parameter tensors (updated in place)

  UpdateRule rule() const {
    return std::holds_alternative<AdamWOptions>(options) ? UpdateRule::kAdamW : UpdateRule::kMuon;
  }
  /// The rule's options; throw std::bad_variant_access when the group has the other rule.
  const AdamWOptions& adamw() const { return std::get<AdamWOptions>(options); }
  AdamWOptions& adamw() { return std::get<AdamWOptions>(options); }
  const MuonOptions& muon() const { return std::get<MuonOptions>(options); }
  MuonOptions& muon() { return std::get<MuonOptions>(options); }
  /// The group's base learning rate.
  double lr() const {
    return std::visit([](const auto& o) { return o.lr; }, options);
  }
};

/// Hybrid AdamW/Muon optimizer over parameter groups.
class Optimizer {
 public:
  /// Takes the groups as given; build it after the model is on its final device (the
  /// optimizer keeps the parameter tensors, and state is created on first step with them). Throws
  /// std::invalid_argument when a group's options are invalid, names/params differ in length, a
  /// parameter appears twice (by name or by tensor), a Muon parameter has dim < 2, or a parameter
  /// is not a floating-point leaf tensor.
  explicit Optimizer(std::vector<ParamGroup> groups);

  /// One step of every group's rule on every parameter whose grad is defined,
  /// with lr = group lr × lr_multiplier(). Parameters without grad are skipped
  /// (their state and per-parameter step do not advance). Runs under NoGradGuard.
  void step();
  /// Sets every parameter's grad to undefined (like set_to_none = true).
  void zero_grad();

  /// Multiplier applied to every group's base lr (set each step from the schedule).
  void set_lr_multiplier(double m) { lr_multiplier_ = m; }
  double lr_multiplier() const { return lr_multiplier_; }

  const std::vector<ParamGroup>& groups() const { return groups_; }
  /// Mutable access (e.g. to change a group's lr); do not add or remove parameters.
  ParamGroup& group(std::size_t i) { return groups_.at(i); }
  /// Number of step() calls so far.
  int64_t steps_taken() const { return steps_taken_; }

  /// Optimizer state as named tensors (clones), for checkpoints. Names:
  ///   "adamw/exp_avg/<param>", "adamw/exp_avg_sq/<param>" (float32, param shape),
  ///   "adamw/step/<param>" (int64, shape [1]), "muon/momentum/<param>" (float32),
  ///   "muon/step/<param>" (int64, shape [1]),
  ///   "optimizer/steps_taken" (int64, shape [1]).
  /// Only parameters that have taken at least one step have entries.
  NamedTensors state_tensors() const;
  /// Restores what state_tensors() returned (copies values). Throws
  /// std::invalid_argument on an unknown name, a parameter of the wrong rule,
  /// or a shape/dtype mismatch. Parameters absent from `state` start fresh.
  void load_state_tensors(const NamedTensors& state);

 private:
  struct ParamState {
    torch::Tensor exp_avg, exp_avg_sq, momentum;
    int64_t step = 0;
  };
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<ParamState>> state_;  // [group][param]
  double lr_multiplier_ = 1.0;
  int64_t steps_taken_ = 0;
};

}  // namespace muft::train
