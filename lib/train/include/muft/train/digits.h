#pragma once
/// \file digits.h
/// The paper's second domain at laptop scale (arXiv 2605.10468 §5, language-and-vision claim):
/// the 8×8 handwritten digits shipped with Debian's python3-sklearn (1797 images). A small
/// MLP is pretrained on digits 0–4, then fine-tuned on digits 5–9 (full or LoRA, any
/// optimizer); forgetting is the drop of accuracy on held-out 0–4 images.

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "muft/train/lora.h"
#include "muft/train/param_groups.h"
#include "muft/train/run_dir.h"
#include "muft/train/trainer.h"

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
  /// x: (B, 64) → logits (B, 10).
  torch::Tensor forward(const torch::Tensor& x);
  LoRALinear fc1{nullptr}, fc2{nullptr}, fc3{nullptr}, head{nullptr};
};
TORCH_MODULE(DigitsMLP);

/// LoRA defaults for the digits MLP: rank 4, α 8, adapters on every layer (fc1–fc3, head).
LoRAOptions digits_lora_defaults();

/// The two-phase digits experiment.
struct DigitsConfig {
  int64_t hidden = 128;          ///< MLP width
  int64_t pretrain_steps = 300;  ///< steps on digits 0–4
  int64_t finetune_steps = 300;  ///< steps on digits 5–9
  int64_t batch_size = 64;       ///< images per step
  OptimizerChoice pretrain_optimizer = OptimizerChoice::kAdamW;
  double pretrain_lr = 3e-3;  ///< one lr for every group
  OptimizerChoice finetune_optimizer = OptimizerChoice::kMuon;
  double finetune_lr = 0.02;                  ///< one lr for every group
  std::string method = "full";                ///< "full" | "lora" (fine-tuning)
  LoRAOptions lora = digits_lora_defaults();  ///< adapters (method lora)
  int64_t eval_every = 25;                    ///< evaluation interval (steps)
  int val_percent = 20;                       ///< held-out share of each class range
  uint64_t seed = 0;                          ///< init, split and batch order
  /// Validates steps, sizes, lrs, method and (for lora) the adapter options.
  bool IsValid(std::string* error) const;
  nlohmann::json to_json() const;
};

/// One evaluation of the experiment.
struct DigitsRow {
  std::string phase;  ///< "pretrain" or "finetune"
  int64_t step = 0;   ///< step within the phase
  double train_loss = std::numeric_limits<double>::quiet_NaN();
  double old_acc = 0;      ///< accuracy on held-out 0–4, argmax over classes 0–4 (task-aware)
  double old_acc_all = 0;  ///< same images, argmax over all 10 classes (class-incremental)
  double new_acc = 0;      ///< accuracy on held-out 5–9, argmax over classes 5–9
  double old_loss = 0;     ///< cross-entropy (all 10 logits) on held-out 0–4
  double new_loss = 0;     ///< cross-entropy on held-out 5–9
};

/// Outcome: rows plus the headline numbers.
struct DigitsResult {
  std::vector<DigitsRow> rows;
  RunStatus status = RunStatus::kCompleted;
  std::string reason;
  double pretrained_old_acc = 0;  ///< old_acc after pretraining
  double final_old_acc = 0;       ///< old_acc after fine-tuning
  double final_new_acc = 0;       ///< new_acc after fine-tuning
  double forgetting = 0;          ///< pretrained_old_acc − final_old_acc
};

/// Runs both phases on data. With a non-empty out_dir writes config.json, digits.csv,
/// summary.json, status.json and checkpoints step_000000 (init), step_P (pretrained) and
/// step_(P+F) (fine-tuned) there. A non-finite loss ends the run with status kDiverged.
/// Throws std::invalid_argument on an invalid config or too little data.
DigitsResult run_digits(const DigitsConfig& cfg, const DigitsData& data,
                        const std::string& out_dir);

/// The digits task driven like the language model (`muft-train pretrain|finetune --config
/// data/experiments/digits-*.json`, task = "digits"), so a sweep can treat it as any run: the
/// MLP trains on cfg.digits.classes (held-out part: val_*), the old task is
/// cfg.digits.old_classes (old_val_*; = classes when empty); losses are 10-way cross-entropy;
/// every evaluation also appends accuracies to DIR/digits.csv; checkpoints, status, resume
/// (bit-exact) and divergence behave as in run_training. One lr for every group
/// (optim.matrix_lr in pretraining, --lr in fine-tuning). Under LoRA the default GPT targets
/// are replaced by digits_lora_defaults().targets. opts.dist is not supported (throws).
TrainResult run_digits_task(const TrainConfig& cfg, const DigitsData& data,
                            const std::string& out_dir, const TrainOptions& opts = {});

/// Synthetic stand-in for tests: n images of 10 well-separated classes (Gaussian blobs around
/// fixed random prototypes in [0, 1]^64), deterministic in seed.
DigitsData synthetic_digits(int64_t n, uint64_t seed);

}  // namespace muft::train
