#include "muft/train/digits.h"

#include <unistd.h>

#include <cmath>
#include <sstream>
#include <stdexcept>

#include <ATen/CPUGeneratorImpl.h>

#include "muft/rundir/run_dir.h"
#include "muft/train/data.h"

namespace muft::train {

DigitsData parse_digits_csv(const std::string& text) {
  std::vector<float> xs;
  std::vector<int64_t> ys;
  std::istringstream in(text);
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<int64_t> v;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) {
      try {
        size_t used = 0;
        const double d = std::stod(cell, &used);
        if (used != cell.size() || d != std::floor(d)) throw std::invalid_argument("");
        v.push_back(static_cast<int64_t>(d));
      } catch (const std::exception&) {
        throw std::invalid_argument("digits line " + std::to_string(lineno) + ": '" + cell +
                                    "' is not an integer");
      }
    }
    if (v.size() != 65) {
      throw std::invalid_argument("digits line " + std::to_string(lineno) + ": expected 65 " +
                                  "values (64 pixels + label), got " + std::to_string(v.size()));
    }
    for (int i = 0; i < 64; ++i) {
      if (v[i] < 0 || v[i] > 16) {
        throw std::invalid_argument("digits line " + std::to_string(lineno) +
                                    ": pixel outside 0..16");
      }
      xs.push_back(static_cast<float>(v[i]) / 16.0f);
    }
    if (v[64] < 0 || v[64] > 9) {
      throw std::invalid_argument("digits line " + std::to_string(lineno) + ": label outside 0..9");
    }
    ys.push_back(v[64]);
  }
  const int64_t n = static_cast<int64_t>(ys.size());
  if (n == 0) throw std::invalid_argument("digits data is empty");
  DigitsData d;
  d.x = torch::from_blob(xs.data(), {n, 64}, torch::kFloat32).clone();
  d.y = torch::from_blob(ys.data(), {n}, torch::kInt64).clone();
  return d;
}

DigitsData load_digits_csv(const std::string& path) {
  std::string text;
  try {
    text = rundir::read_file(path);
  } catch (const std::runtime_error&) {
    throw std::runtime_error("cannot read the digits data '" + path + "' (data directory " +
                             data_dir() + "; run data/fetch_corpora.sh to create it)");
  }
  return parse_digits_csv(text);
}

DigitsData select_digits(const DigitsData& d, int64_t lo, int64_t hi) {
  const torch::Tensor mask = (d.y >= lo).logical_and(d.y <= hi);
  return {d.x.index({mask}), d.y.index({mask})};
}

std::pair<DigitsData, DigitsData> split_digits(const DigitsData& d, int val_percent,
                                               uint64_t seed) {
  if (val_percent < 0 || val_percent > 100) {
    throw std::invalid_argument("validation percentage must be in [0, 100]");
  }
  std::vector<int64_t> tr, va;
  for (int64_t i = 0; i < d.size(); ++i) {
    (static_cast<int>(mix_hash(seed, static_cast<uint64_t>(i), 7) % 100) < val_percent ? va : tr)
        .push_back(i);
  }
  auto take = [&](const std::vector<int64_t>& idx) {
    const torch::Tensor t = torch::tensor(idx, torch::kInt64);
    return DigitsData{d.x.index_select(0, t), d.y.index_select(0, t)};
  };
  return {take(tr), take(va)};
}

DigitsMLPImpl::DigitsMLPImpl(int64_t hidden) {
  fc1 = register_module("fc1", LoRALinear(64, hidden));
  fc2 = register_module("fc2", LoRALinear(hidden, hidden));
  fc3 = register_module("fc3", LoRALinear(hidden, hidden));
  head = register_module("head", LoRALinear(hidden, 10));
  torch::NoGradGuard ng;
  for (auto* l : {&fc1, &fc2, &fc3, &head}) {  // torch.nn.Linear's default (Kaiming-uniform)
    const double b = 1.0 / std::sqrt(static_cast<double>((*l)->in_features()));
    (*l)->weight.uniform_(-b, b);
  }
}

torch::Tensor DigitsMLPImpl::features(const torch::Tensor& x) {
  torch::Tensor h = torch::relu(fc1->forward(x));
  h = torch::relu(fc2->forward(h));
  return torch::relu(fc3->forward(h));
}

torch::Tensor DigitsMLPImpl::forward(const torch::Tensor& x) {
  return head->forward(features(x));
}

LoRAOptions digits_lora_defaults(DigitsClassifier classifier) {
  LoRAOptions o;
  o.rank = 4;
  o.alpha = 8.0;
  o.targets = {"^fc1$", "^fc2$", "^fc3$"};
  if (classifier == DigitsClassifier::kHead) o.targets.push_back("^head$");
  return o;
}

DigitsData synthetic_digits(int64_t n, uint64_t seed) {
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  const torch::Tensor protos = torch::rand({10, 64}, gen);
  const torch::Tensor y = torch::arange(n, torch::kInt64).remainder(10);
  torch::Tensor x = protos.index_select(0, y) + 0.15 * torch::randn({n, 64}, gen);
  return {x.clamp(0.0, 1.0), y};
}

}  // namespace muft::train
