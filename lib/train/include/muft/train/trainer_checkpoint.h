#pragma once
/// \file trainer_checkpoint.h
/// Conversions between LibTorch tensors / modules / optimizer state / RNG state and
/// muft::checkpoint's raw-byte NamedTensor, so a training run can be written and resumed
/// bit-exactly through the one checkpoint format the analyzer reads.

#include <string>
#include <vector>

#include <torch/torch.h>

#include "muft/checkpoint/checkpoint.h"
#include "muft/train/optim.h"

namespace muft::train {

/// Copies a tensor (any device, contiguous or not) into a NamedTensor with the same dtype
/// (float32, float64, bfloat16, float16, int64, int32, uint8, bool supported).
/// Throws std::invalid_argument for another dtype.
checkpoint::NamedTensor to_named_tensor(const std::string& name, const torch::Tensor& t);
/// A CPU tensor holding a copy of the NamedTensor's bytes. Throws std::invalid_argument when
/// the byte count does not match the shape and dtype, or the dtype has no LibTorch equivalent.
torch::Tensor from_named_tensor(const checkpoint::NamedTensor& nt);

/// Every parameter of the module (trainable or frozen), by its registered name.
std::vector<checkpoint::NamedTensor> module_parameters(const torch::nn::Module& model);
/// Copies stored parameters into the module by name (values only, device kept).
/// strict: every module parameter must be present. Names in `stored` that the module lacks,
/// or shape mismatches, throw std::invalid_argument naming the tensor.
void load_module_parameters(torch::nn::Module& model,
                            const std::vector<checkpoint::NamedTensor>& stored, bool strict);

/// Optimizer::state_tensors() as NamedTensors; inverse below.
std::vector<checkpoint::NamedTensor> optimizer_state(const Optimizer& opt);
void load_optimizer_state(Optimizer& opt, const std::vector<checkpoint::NamedTensor>& stored);

/// State of LibTorch's default CPU generator, as bytes (opaque).
std::vector<unsigned char> cpu_rng_state();
/// Restores what cpu_rng_state() returned; throws std::invalid_argument on a wrong size.
void set_cpu_rng_state(const std::vector<unsigned char>& bytes);

}  // namespace muft::train
