#pragma once
/// \file digits.h
/// The paper's second domain at laptop scale (arXiv 2605.10468 §4, language-and-vision claim):
/// the 8×8 handwritten digits shipped with Debian's python3-sklearn (1797 images), and the MLP
/// that classifies them. The task that trains it is digits_task.h: pretrained on digits 0–4,
/// fine-tuned on digits 5–9 (full or LoRA, any optimizer); forgetting is the drop of accuracy on
/// held-out 0–4 images.

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "muft/train/config.h"
#include "muft/train/lora.h"

namespace muft::train {

/// Images and labels.
struct DigitsData {
  torch::Tensor x;  ///< (N, 64) float32 pixel intensities scaled to [0, 1] (raw 0..16 / 16)
  torch::Tensor y;  ///< (N) int64 labels 0..9
  int64_t size() const { return x.defined() ? x.size(0) : 0; }
};

/// Parses sklearn's digits.csv: one image per line, 64 integers 0..16 then the label 0..9,
/// comma-separated. Throws std::invalid_argument naming the line on a malformed row.
DigitsData parse_digits_csv(const std::string& text);
/// Reads data/corpora/digits/digits.csv (made by data/fetch_corpora.sh).
DigitsData load_digits_csv(const std::string& path);
/// The images whose label is in [lo, hi].
DigitsData select_digits(const DigitsData& d, int64_t lo, int64_t hi);
/// Deterministic split: image i is held out when mix_hash(seed, i) mod 100 < val_percent.
std::pair<DigitsData, DigitsData> split_digits(const DigitsData& d, int val_percent, uint64_t seed);

/// MLP 64 → hidden → hidden → hidden → 10 with ReLU, bias-free LoRA-capable layers
/// named fc1, fc2, fc3, head (fc1 and head take AdamW, fc2/fc3 the chosen optimizer, as
/// embedding/head/hidden matrices do in the GPT).
class DigitsMLPImpl : public torch::nn::Module {
 public:
  explicit DigitsMLPImpl(int64_t hidden);
  /// x: (B, 64) → logits (B, 10) of the learned head.
  torch::Tensor forward(const torch::Tensor& x);
  /// x: (B, 64) → features (B, hidden): the last hidden layer, after its ReLU.
  torch::Tensor features(const torch::Tensor& x);
  LoRALinear fc1{nullptr}, fc2{nullptr}, fc3{nullptr}, head{nullptr};
};
TORCH_MODULE(DigitsMLP);

/// LoRA targets of the digits MLP for a classifier kind: every layer (fc1–fc3, head) with the
/// learned head; the hidden layers fc1–fc3 only with the fixed class-mean classifier (its head
/// is frozen and unused). Rank 4, α 8.
LoRAOptions digits_lora_defaults(DigitsClassifier classifier = DigitsClassifier::kHead);

/// Synthetic stand-in for tests: n images of 10 well-separated classes (Gaussian blobs around
/// fixed random prototypes in [0, 1]^64), deterministic in seed.
DigitsData synthetic_digits(int64_t n, uint64_t seed);

}  // namespace muft::train
