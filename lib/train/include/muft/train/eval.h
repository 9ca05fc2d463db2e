#pragma once
/// \file eval.h
/// Language-model evaluation: loss, perplexity and bits per byte on held-out text, and the
/// spread of the predictions over the inputs (the collapse signal of health.h).

#include <cstdint>
#include <limits>

#include <torch/torch.h>

#include "muft/train/data.h"
#include "muft/train/distributed.h"
#include "muft/train/gpt.h"

namespace muft::train {

/// Loss of a model on one evaluation set.
struct EvalResult {
  double loss = std::numeric_limits<double>::quiet_NaN();  ///< mean cross-entropy, nats/token
  double ppl = std::numeric_limits<double>::quiet_NaN();   ///< exp(loss)
  double bpb = std::numeric_limits<double>::quiet_NaN();   ///< loss / ln 2 (byte-level)
  /// For each vocabulary entry, the standard deviation over the scored positions of its
  /// predicted log-probability, averaged over the vocabulary (nats); 0 when the predictions do
  /// not depend on the context. With several ranks: the mean of the ranks' values.
  double spread = std::numeric_limits<double>::quiet_NaN();
  int64_t tokens = 0;  ///< tokens scored (all ranks)
};

/// Mean next-token loss over the evaluation windows of corpus (eval_offsets with the model's
/// context, at most max_windows; 0 = all), batch_rows windows per forward, in eval mode and
/// without gradients. With dist, window i is scored by rank i mod world and the sums are
/// all-reduced, so every rank returns the same value. bf16: autocast (CUDA only).
/// Throws std::invalid_argument when the corpus is shorter than one window.
EvalResult evaluate_lm(GPT& model, const TextCorpus& corpus, int64_t max_windows,
                       int64_t batch_rows, const torch::Device& device,
                       DistributedContext* dist = nullptr, bool bf16 = false);

/// Enables bfloat16 autocast on CUDA for the lifetime of the guard (no-op when off).
class AutocastGuard {
 public:
  explicit AutocastGuard(bool on);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool on_;
};

}  // namespace muft::train
