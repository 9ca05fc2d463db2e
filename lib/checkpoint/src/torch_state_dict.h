#pragma once
// Private: where the tensors of an unpickled torch.save checkpoint are, and
// the dotted names they get.

#include <cstddef>
#include <string>
#include <vector>

#include "unpickler.h"

namespace muft::checkpoint::detail {

/// A tensor of a checkpoint under its flattened name.
struct NamedPickleTensor {
  std::string name;    ///< e.g. "transformer.h.0.attn.c_q.weight"
  std::size_t tensor;  ///< index into Pickle::tensors
};

/// Keys under which training scripts nest the model's state dict, tried in
/// this order when the top-level dict holds no tensor itself.
inline const char* const kStateDictKeys[] = {"model", "state_dict", "model_state", "module", "ema"};
/// Top-level keys of training state that are never model weights.
inline const char* const kTrainingStateKeys[] = {
    "optimizer",    "optimizer_state", "optimizer_state_dict", "optim", "opt", "scheduler",
    "lr_scheduler", "scaler",          "grad_scaler"};

/// The state dict of a checkpoint, flattened: nothing for an optimizer's
/// state_dict() (a root with 'state' and 'param_groups'); the root dict when it holds a
/// tensor directly; else the first of kStateDictKeys whose value is a dict
/// holding tensors; else the root without the kTrainingStateKeys entries.
/// Nested dicts, lists and tuples are joined with dots ("layers.0.weight");
/// keys that are neither strings nor ints, and every non-tensor value (step
/// counters, config dicts, strings), are skipped. A container reached twice
/// (shared or cyclic) is followed once. A bare tensor at the root is named
/// "tensor". Returns the tensors sorted by name; throws std::runtime_error
/// ("<where>: ...") when the root is not a container, when two tensors get
/// the same name, or when nesting exceeds kMaxPickleDepth.
std::vector<NamedPickleTensor> flatten_state_dict(const Pickle& p, const std::string& where);

}  // namespace muft::checkpoint::detail
