#pragma once
/// \file lm_task.h
/// The language-model task: the NanoChat-style GPT (gpt.h) on byte-level text. Training
/// batches are windows drawn by (seed, step) from the training text, split over data-parallel
/// ranks; evaluation scores the current and the old task's validation text (eval.h).

#include <cstdint>
#include <string>
#include <vector>

#include "muft/train/data.h"
#include "muft/train/gpt.h"
#include "muft/train/task.h"

namespace muft::train {

/// The three texts of a language-model run.
struct TrainCorpora {
  TextCorpus train;    ///< training text
  TextCorpus val;      ///< current task's validation text
  TextCorpus old_val;  ///< old task's validation text (empty: same as val)
};

/// Reads the files named in data (old_val only when set), resolved through the data directory.
/// Throws std::runtime_error naming a missing file.
TrainCorpora load_corpora(const DataConfig& data);

/// GPT(cfg.model), with LoRA adapters attached when cfg.method is LoRA (adapter values drawn
/// from torch's global generator: seed it first).
GPT make_gpt(const TrainConfig& cfg);

class LanguageModelTask : public Task {
 public:
  /// dist: data-parallel group (null: one process); not owned.
  LanguageModelTask(TrainCorpora data, DistributedContext* dist);

  void prepare(TrainConfig* cfg) const override;
  void validate(const TrainConfig& cfg, int64_t world_size) const override;
  void adopt_base(const nlohmann::json& base_config, TrainConfig* cfg) const override;
  torch::nn::Module& build_model(const TrainConfig& cfg) override;
  torch::nn::Module& model() override { return *model_; }
  void param_groups(ParamGroupOptions* opts) const override;
  torch::Tensor batch_loss(int64_t step) override;
  Evaluation evaluate() override;
  std::vector<std::string> metric_names() const override { return {}; }
  double uniform_loss() const override;
  double label_frequency_loss() const override;
  int64_t units_per_step() const override;
  std::string describe() const override;

  GPT& gpt() { return model_; }
  const TrainCorpora& corpora() const { return data_; }

 private:
  TrainCorpora data_;
  DistributedContext* dist_;
  TrainConfig cfg_;  // as given to build_model
  GPT model_{nullptr};
  std::vector<int64_t> xs_, ys_;  // batch buffers
};

}  // namespace muft::train
