#pragma once
/// \file digits_task.h
/// The digits task: the MLP of digits.h trained on some classes (cfg.digits.classes, held-out
/// part: val_*), with other classes as the old task (cfg.digits.old_classes, old_val_*).
/// Its own metrics.csv columns are val_acc and old_val_acc. With the learned head the losses
/// are 10-way cross-entropies; with the class-mean classifier (fine-tuning) each task is
/// scored over its own classes by fixed class means of the model the run started from
/// (config.h, DigitsClassifier). One process only.

#include <string>
#include <vector>

#include "muft/train/digits.h"
#include "muft/train/task.h"

namespace muft::train {

class DigitsTask : public Task {
 public:
  explicit DigitsTask(DigitsData data);

  void prepare(TrainConfig* cfg) const override;
  void validate(const TrainConfig& cfg, int64_t world_size) const override;
  void adopt_base(const nlohmann::json& base_config, TrainConfig* cfg) const override;
  torch::nn::Module& build_model(const TrainConfig& cfg) override;
  torch::nn::Module& model() override { return *model_; }
  void on_weights_ready(const TrainConfig& cfg) override;
  void param_groups(ParamGroupOptions* opts) const override;
  torch::Tensor batch_loss(int64_t step) override;
  Evaluation evaluate() override;
  std::vector<std::string> metric_names() const override { return {"val_acc", "old_val_acc"}; }
  double uniform_loss() const override;
  double label_frequency_loss() const override;
  int64_t units_per_step() const override { return cfg_.batch_size; }
  std::string describe() const override;

  DigitsMLP& mlp() { return model_; }

 private:
  /// True when the class-mean classifier scores this run (fine-tuning with kClassMeans).
  bool class_means() const;
  /// Logits of x for `classes`: the learned head's 10 outputs (then restricted by the caller),
  /// or the cosine scores against `means` (K rows) over the K classes.
  torch::Tensor logits(const torch::Tensor& x, const torch::Tensor& means);

  DigitsData data_;
  TrainConfig cfg_;
  DigitsMLP model_{nullptr};
  DigitsData train_, val_, old_val_;
  std::vector<int64_t> old_classes_;
  torch::Tensor new_means_, old_means_;  // (K, hidden), normalized; class-mean classifier only
};

}  // namespace muft::train
