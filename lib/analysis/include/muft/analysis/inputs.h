#pragma once
/// \file inputs.h
/// Command-line inputs → checkpoint paths: files, directories (searched recursively) and globs.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace muft::analysis {

/// Whether a file name looks like a checkpoint: *.safetensors, *.h5, *.hdf5, *index.json,
/// *.pt, *.pth, *.bin or *.gguf, except the training-state files of Hugging Face's Trainer
/// (optimizer.pt, scheduler.pt, scaler.pt, rng_state*.pth, training_args.bin).
bool is_checkpoint_name(const std::string& filename);

/// Expands arguments into checkpoint paths, in a stable order (argument order; sorted within a
/// directory or glob). A directory is searched recursively for checkpoint files; where a
/// directory holds a *index.json, that index stands for the *.safetensors / *.bin shards beside
/// it, and where it holds safetensors weights, its pytorch_model*.bin files are left out.
/// An argument that matches nothing is reported in *errors ("PATH: no such file ...") and the
/// rest go on. Duplicates are removed.
std::vector<std::string> expand_inputs(const std::vector<std::string>& args,
                                       std::vector<std::string>* errors);

/// The training step of a checkpoint from its file name: the last run of digits in the stem,
/// e.g. "step_000500.h5" → 500, "checkpoint-1200/model.safetensors" → 1200 (the parent
/// directory is tried when the file name holds no digits). std::nullopt when there is none.
std::optional<int64_t> step_from_name(const std::string& path);

/// Checkpoints of a run directory: RUN_DIR/checkpoints/ when it exists, else RUN_DIR itself
/// (recursively, as expand_inputs).
std::vector<std::string> run_checkpoints(const std::string& run_dir,
                                         std::vector<std::string>* errors);

}  // namespace muft::analysis
