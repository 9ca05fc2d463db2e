#include "muft/train/eval.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include <ATen/autocast_mode.h>

#include "muft/train/tokenizer.h"

namespace muft::train {

AutocastGuard::AutocastGuard(bool on) : on_(on) {
  if (on_) {
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
  }
}

AutocastGuard::~AutocastGuard() {
  if (on_) {
    at::autocast::set_enabled(false);
    at::autocast::clear_cache();
  }
}

EvalResult evaluate_lm(GPT& model, const TextCorpus& corpus, int64_t max_windows,
                       int64_t batch_rows, const torch::Device& device, DistributedContext* dist,
                       bool bf16) {
  const int64_t T = model->config().sequence_len;
  const auto offsets = eval_offsets(corpus.size(), T, max_windows);
  if (offsets.empty()) {
    throw std::invalid_argument("corpus '" + corpus.name() + "' is shorter than one window of " +
                                std::to_string(T + 1) + " tokens");
  }
  const int64_t world = dist ? dist->world_size() : 1;
  const int64_t rank = dist ? dist->rank() : 0;
  std::vector<int64_t> mine;
  for (size_t i = 0; i < offsets.size(); ++i) {
    if (static_cast<int64_t>(i) % world == rank) mine.push_back(offsets[i]);
  }
  torch::NoGradGuard ng;
  model->eval();
  double loss_sum = 0.0;            // sum over windows of the window's mean token loss
  torch::Tensor lp_sum, lp_sq_sum;  // (V) float64: Σ and Σ² over positions of log p(v)
  double positions = 0.0;
  std::vector<int64_t> xs, ys;
  for (size_t b = 0; b < mine.size(); b += static_cast<size_t>(batch_rows)) {
    const int64_t e =
        std::min<int64_t>(static_cast<int64_t>(mine.size()), static_cast<int64_t>(b) + batch_rows);
    fill_windows(corpus, mine, static_cast<int64_t>(b), e, T, &xs, &ys);
    const int64_t n = e - static_cast<int64_t>(b);
    torch::Tensor x = torch::from_blob(xs.data(), {n, T}, torch::kInt64).clone().to(device);
    torch::Tensor y = torch::from_blob(ys.data(), {n, T}, torch::kInt64).clone().to(device);
    torch::Tensor logits, loss;
    {
      AutocastGuard ac(bf16);
      logits = model->forward(x);
      loss = lm_cross_entropy(logits, y);
    }
    loss_sum += loss.item<double>() * static_cast<double>(n);
    const torch::Tensor lp =
        torch::log_softmax(logits.to(torch::kFloat64), -1).reshape({-1, logits.size(-1)});
    const torch::Tensor s1 = lp.sum(0), s2 = lp.square().sum(0);
    lp_sum = lp_sum.defined() ? lp_sum + s1 : s1;
    lp_sq_sum = lp_sq_sum.defined() ? lp_sq_sum + s2 : s2;
    positions += static_cast<double>(lp.size(0));
  }
  double spread = std::numeric_limits<double>::quiet_NaN();
  if (positions > 0) {
    const torch::Tensor mean = lp_sum / positions;
    const torch::Tensor var = (lp_sq_sum / positions - mean.square()).clamp_min(0.0);
    spread = var.sqrt().mean().item<double>();
  }
  double total = loss_sum, count = static_cast<double>(mine.size());
  if (dist && world > 1) {
    total = dist->all_reduce_mean(loss_sum) * static_cast<double>(world);
    count = static_cast<double>(offsets.size());
    spread = dist->all_reduce_mean(std::isfinite(spread) ? spread : 0.0);
  }
  EvalResult r;
  r.loss = total / count;
  r.ppl = perplexity(r.loss);
  r.bpb = bits_per_byte(r.loss);
  r.spread = spread;
  r.tokens = static_cast<int64_t>(offsets.size()) * T;
  return r;
}

}  // namespace muft::train
