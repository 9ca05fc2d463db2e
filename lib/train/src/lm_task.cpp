#include "muft/train/lm_task.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "muft/train/eval.h"
#include "muft/train/tokenizer.h"

namespace muft::train {

TrainCorpora load_corpora(const DataConfig& data) {
  TrainCorpora c;
  c.train = TextCorpus::from_file(resolve_data_path(data.train));
  c.val = TextCorpus::from_file(resolve_data_path(data.val));
  if (!data.old_val.empty()) c.old_val = TextCorpus::from_file(resolve_data_path(data.old_val));
  return c;
}

GPT make_gpt(const TrainConfig& cfg) {
  GPT model(cfg.model);
  if (cfg.method == Method::kLoRA) apply_lora(*model, cfg.lora);
  return model;
}

LanguageModelTask::LanguageModelTask(TrainCorpora data, DistributedContext* dist)
    : data_(std::move(data)), dist_(dist) {}

void LanguageModelTask::prepare(TrainConfig* cfg) const {
  cfg->optim.model_dim = cfg->model.n_embd;  // the (d/768)^−0.5 factor uses this model's width
}

void LanguageModelTask::validate(const TrainConfig& cfg, int64_t world_size) const {
  const int64_t bytes = ByteTokenizer::kBos;  // token ids 0..255 are the bytes
  if (cfg.model.vocab_size < bytes) {
    throw std::invalid_argument(fmt::format(
        "model.vocab_size {} cannot hold the byte tokenizer's {} byte tokens (the tiny model "
        "uses {})",
        cfg.model.vocab_size, bytes, ByteTokenizer::kVocabSize));
  }
  if (cfg.batch_size % world_size != 0) {
    throw std::invalid_argument(fmt::format("global batch {} is not divisible by world size {}",
                                            cfg.batch_size, world_size));
  }
  const int64_t T = cfg.model.sequence_len;
  for (const TextCorpus* c : {&data_.train, &data_.val}) {
    if (c->size() <= T) {
      throw std::invalid_argument(fmt::format(
          "corpus '{}' has {} tokens, fewer than the context {}", c->name(), c->size(), T + 1));
    }
  }
  if (data_.old_val.size() > 0 && data_.old_val.size() <= T) {
    throw std::invalid_argument(fmt::format("corpus '{}' has {} tokens, fewer than the context {}",
                                            data_.old_val.name(), data_.old_val.size(), T + 1));
  }
}

void LanguageModelTask::adopt_base(const nlohmann::json& base, TrainConfig* cfg) const {
  if (!base.is_object() || !base.contains("model")) {
    throw std::runtime_error("checkpoint '" + cfg->init_from + "' stores no model config");
  }
  if (base.contains("task") && base.at("task") != "lm") {
    throw std::runtime_error("checkpoint '" + cfg->init_from + "' is a " + base.at("task").dump() +
                             " model, not a language model");
  }
  cfg->model = GPTConfig::from_json(base.at("model"));
}

torch::nn::Module& LanguageModelTask::build_model(const TrainConfig& cfg) {
  cfg_ = cfg;
  model_ = GPT(cfg.model);
  return *model_;
}

void LanguageModelTask::param_groups(ParamGroupOptions* opts) const {
  (void)opts;  // GPT names (wte, lm_head) are the defaults of ParamGroupOptions
}

torch::Tensor LanguageModelTask::batch_loss(int64_t step) {
  const int64_t T = cfg_.model.sequence_len;
  const int64_t world = dist_ ? dist_->world_size() : 1, rank = dist_ ? dist_->rank() : 0;
  const auto rows = shard_rows(cfg_.batch_size, rank, world);
  const auto offsets = batch_offsets(cfg_.seed, step, cfg_.batch_size, data_.train.size(), T);
  fill_windows(data_.train, offsets, rows.first, rows.second, T, &xs_, &ys_);
  const int64_t nrows = rows.second - rows.first;
  const torch::Device device(cfg_.device);
  torch::Tensor x = torch::from_blob(xs_.data(), {nrows, T}, torch::kInt64).to(device);
  torch::Tensor y = torch::from_blob(ys_.data(), {nrows, T}, torch::kInt64).to(device);
  if (!x.is_cuda()) {  // from_blob does not own the buffer
    x = x.clone();
    y = y.clone();
  }
  AutocastGuard ac(device.is_cuda() && cfg_.bf16_autocast);
  return model_->loss(x, y);
}

Evaluation LanguageModelTask::evaluate() {
  const torch::Device device(cfg_.device);
  const bool autocast = device.is_cuda() && cfg_.bf16_autocast;
  const int64_t rows = std::max<int64_t>(1, std::min<int64_t>(16, cfg_.batch_size));
  Evaluation e;
  const EvalResult v =
      evaluate_lm(model_, data_.val, cfg_.data.eval_windows, rows, device, dist_, autocast);
  e.val_loss = v.loss;
  e.val_spread = v.spread;
  e.old_val_loss = v.loss;
  if (data_.old_val.size() > 0) {
    e.old_val_loss =
        evaluate_lm(model_, data_.old_val, cfg_.data.eval_windows, rows, device, dist_, autocast)
            .loss;
  }
  return e;
}

double LanguageModelTask::uniform_loss() const {
  return std::log(static_cast<double>(cfg_.model.vocab_size));
}

double LanguageModelTask::label_frequency_loss() const {
  return unigram_entropy_bits(data_.val.text()) * std::log(2.0);
}

int64_t LanguageModelTask::units_per_step() const {
  return cfg_.batch_size * cfg_.model.sequence_len;
}

std::string LanguageModelTask::describe() const {
  return fmt::format("train {} ({} bytes)", data_.train.name(), data_.train.size());
}

}  // namespace muft::train
