#include "muft/train/trainer_checkpoint.h"

#include <cstring>
#include <map>
#include <stdexcept>

#include <ATen/CPUGeneratorImpl.h>

namespace muft::train {

namespace {
using checkpoint::DType;

DType to_dtype(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32:
      return DType::F32;
    case torch::kFloat64:
      return DType::F64;
    case torch::kBFloat16:
      return DType::BF16;
    case torch::kFloat16:
      return DType::F16;
    case torch::kInt64:
      return DType::I64;
    case torch::kInt32:
      return DType::I32;
    case torch::kUInt8:
      return DType::U8;
    case torch::kBool:
      return DType::Bool;
    default:
      throw std::invalid_argument(std::string("tensor dtype ") + c10::toString(t) +
                                  " cannot be stored in a checkpoint");
  }
}

torch::ScalarType to_scalar_type(DType t) {
  switch (t) {
    case DType::F32:
      return torch::kFloat32;
    case DType::F64:
      return torch::kFloat64;
    case DType::BF16:
      return torch::kBFloat16;
    case DType::F16:
      return torch::kFloat16;
    case DType::I64:
      return torch::kInt64;
    case DType::I32:
      return torch::kInt32;
    case DType::I16:
      return torch::kInt16;
    case DType::I8:
      return torch::kInt8;
    case DType::U8:
      return torch::kUInt8;
    case DType::Bool:
      return torch::kBool;
    default:
      throw std::invalid_argument(std::string("checkpoint dtype ") + checkpoint::dtype_name(t) +
                                  " has no LibTorch equivalent");
  }
}
}  // namespace

checkpoint::NamedTensor to_named_tensor(const std::string& name, const torch::Tensor& t) {
  checkpoint::NamedTensor nt;
  nt.name = name;
  nt.dtype = to_dtype(t.scalar_type());
  nt.shape.assign(t.sizes().begin(), t.sizes().end());
  const torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
  const size_t nbytes = static_cast<size_t>(c.numel()) * c.element_size();
  nt.bytes.resize(nbytes);
  if (nbytes) std::memcpy(nt.bytes.data(), c.data_ptr(), nbytes);
  return nt;
}

torch::Tensor from_named_tensor(const checkpoint::NamedTensor& nt) {
  const auto st = to_scalar_type(nt.dtype);
  torch::Tensor t = torch::empty(nt.shape, torch::TensorOptions().dtype(st));
  const size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
  if (nbytes != nt.bytes.size()) {
    throw std::invalid_argument("tensor '" + nt.name + "' holds " +
                                std::to_string(nt.bytes.size()) + " bytes, its shape needs " +
                                std::to_string(nbytes));
  }
  if (nbytes) std::memcpy(t.data_ptr(), nt.bytes.data(), nbytes);
  return t;
}

std::vector<checkpoint::NamedTensor> module_parameters(const torch::nn::Module& model) {
  std::vector<checkpoint::NamedTensor> out;
  for (const auto& p : model.named_parameters(/*recurse=*/true)) {
    out.push_back(to_named_tensor(p.key(), p.value()));
  }
  return out;
}

void load_module_parameters(torch::nn::Module& model,
                            const std::vector<checkpoint::NamedTensor>& stored, bool strict) {
  auto params = model.named_parameters(/*recurse=*/true);
  std::map<std::string, const checkpoint::NamedTensor*> by_name;
  for (const auto& nt : stored) by_name[nt.name] = &nt;
  torch::NoGradGuard ng;
  size_t used = 0;
  for (auto& p : params) {
    auto it = by_name.find(p.key());
    if (it == by_name.end()) {
      if (strict) throw std::invalid_argument("checkpoint lacks parameter '" + p.key() + "'");
      continue;
    }
    torch::Tensor v = from_named_tensor(*it->second);
    if (v.sizes() != p.value().sizes()) {
      throw std::invalid_argument("parameter '" + p.key() + "' has shape " + c10::str(v.sizes()) +
                                  " in the checkpoint, the model expects " +
                                  c10::str(p.value().sizes()));
    }
    p.value().copy_(v);
    ++used;
  }
  if (used != by_name.size()) {
    for (const auto& kv : by_name) {
      if (!params.contains(kv.first)) {
        throw std::invalid_argument("checkpoint parameter '" + kv.first +
                                    "' does not exist in the model (different architecture?)");
      }
    }
  }
}

std::vector<checkpoint::NamedTensor> optimizer_state(const Optimizer& opt) {
  std::vector<checkpoint::NamedTensor> out;
  for (const auto& kv : opt.state_tensors()) out.push_back(to_named_tensor(kv.first, kv.second));
  return out;
}

void load_optimizer_state(Optimizer& opt, const std::vector<checkpoint::NamedTensor>& stored) {
  NamedTensors state;
  for (const auto& nt : stored) state.emplace_back(nt.name, from_named_tensor(nt));
  opt.load_state_tensors(state);
}

std::vector<unsigned char> cpu_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  torch::Tensor s = gen.get_state();
  std::vector<unsigned char> bytes(static_cast<size_t>(s.numel()));
  std::memcpy(bytes.data(), s.data_ptr(), bytes.size());
  return bytes;
}

void set_cpu_rng_state(const std::vector<unsigned char>& bytes) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  const int64_t expected = gen.get_state().numel();
  if (static_cast<int64_t>(bytes.size()) != expected) {
    throw std::invalid_argument("RNG state has " + std::to_string(bytes.size()) +
                                " bytes, LibTorch's CPU generator needs " +
                                std::to_string(expected));
  }
  torch::Tensor s = torch::empty({expected}, torch::kUInt8);
  std::memcpy(s.data_ptr(), bytes.data(), bytes.size());
  gen.set_state(s);
}

}  // namespace muft::train
