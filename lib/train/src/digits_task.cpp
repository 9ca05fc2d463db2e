#include "muft/train/digits_task.h"

#include <cmath>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "muft/checkpoint/checkpoint.h"
#include "muft/train/data.h"
#include "muft/train/trainer_checkpoint.h"

namespace muft::train {

namespace {

DigitsData select_classes(const DigitsData& d, const std::vector<int64_t>& classes) {
  torch::Tensor mask = torch::zeros_like(d.y, torch::kBool);
  for (int64_t c : classes) mask = mask.logical_or(d.y == c);
  return {d.x.index({mask}), d.y.index({mask})};
}

/// The held-out images do not depend on the run's seed: every run of a study sees the same.
constexpr uint64_t kSplitSeed = 0;

/// Labels mapped to their position in `classes` (the class-mean classifier's targets).
torch::Tensor class_positions(const torch::Tensor& y, const std::vector<int64_t>& classes) {
  torch::Tensor out = torch::full_like(y, -1);
  for (std::size_t i = 0; i < classes.size(); ++i)
    out.masked_fill_(y == classes[i], static_cast<int64_t>(i));
  return out;
}

/// Normalized mean feature of each class (K, hidden), from the training images.
torch::Tensor class_mean_features(DigitsMLP& m, const DigitsData& d,
                                  const std::vector<int64_t>& classes) {
  torch::NoGradGuard ng;
  const torch::Tensor f = torch::nn::functional::normalize(
      m->features(d.x), torch::nn::functional::NormalizeFuncOptions().dim(1));
  std::vector<torch::Tensor> rows;
  for (int64_t c : classes) {
    const torch::Tensor mask = d.y == c;
    if (mask.sum().item<int64_t>() == 0) {
      throw std::invalid_argument(
          fmt::format("the digits data has no training image of class {}", c));
    }
    rows.push_back(f.index({mask}).mean(0));
  }
  return torch::nn::functional::normalize(torch::stack(rows),
                                          torch::nn::functional::NormalizeFuncOptions().dim(1));
}

/// Mean over outputs of the standard deviation over inputs of the log-probabilities.
double prediction_spread(const torch::Tensor& logits) {
  if (logits.size(0) < 2) return 0.0;
  const torch::Tensor lp = torch::log_softmax(logits.to(torch::kFloat64), 1);
  return lp.std(0, /*unbiased=*/false).mean().item<double>();
}

double label_entropy(const torch::Tensor& y) {
  std::map<int64_t, double> counts;
  const auto acc = y.accessor<int64_t, 1>();
  for (int64_t i = 0; i < y.size(0); ++i) counts[acc[i]] += 1.0;
  double h = 0.0;
  const double n = static_cast<double>(y.size(0));
  for (const auto& [c, k] : counts) h -= (k / n) * std::log(k / n);
  return h;
}

}  // namespace

DigitsTask::DigitsTask(DigitsData data) : data_(std::move(data)) {}

bool DigitsTask::class_means() const {
  return cfg_.mode == Mode::kFinetune && cfg_.digits.classifier == DigitsClassifier::kClassMeans;
}

void DigitsTask::prepare(TrainConfig* cfg) const {
  const bool means =
      cfg->mode == Mode::kFinetune && cfg->digits.classifier == DigitsClassifier::kClassMeans;
  if (cfg->method == Method::kLoRA && cfg->lora.targets == LoRAOptions{}.targets) {
    cfg->lora.targets =
        digits_lora_defaults(means ? DigitsClassifier::kClassMeans : DigitsClassifier::kHead)
            .targets;
  }
}

void DigitsTask::validate(const TrainConfig& cfg, int64_t world_size) const {
  if (world_size > 1) {
    throw std::invalid_argument("the digits task runs in one process (no --world-size)");
  }
  const std::vector<int64_t>& old_classes =
      cfg.digits.old_classes.empty() ? cfg.digits.classes : cfg.digits.old_classes;
  for (const auto* cls : {&cfg.digits.classes, &old_classes}) {
    const auto [tr, va] = split_digits(select_classes(data_, *cls),
                                       static_cast<int>(cfg.digits.val_percent), kSplitSeed);
    if (tr.size() == 0 || va.size() == 0) {
      throw std::invalid_argument("the digits data has no images of the requested classes");
    }
  }
}

void DigitsTask::adopt_base(const nlohmann::json& bc, TrainConfig* cfg) const {
  if (!bc.is_object() || bc.value("task", "") != "digits" || !bc.contains("digits")) {
    throw std::runtime_error("checkpoint '" + cfg->init_from + "' is not a digits model");
  }
  cfg->digits.hidden = bc.at("digits").at("hidden").get<int64_t>();
}

torch::nn::Module& DigitsTask::build_model(const TrainConfig& cfg) {
  cfg_ = cfg;
  old_classes_ = cfg.digits.old_classes.empty() ? cfg.digits.classes : cfg.digits.old_classes;
  const int pct = static_cast<int>(cfg.digits.val_percent);
  std::tie(train_, val_) = split_digits(select_classes(data_, cfg.digits.classes), pct, kSplitSeed);
  old_val_ = split_digits(select_classes(data_, old_classes_), pct, kSplitSeed).second;
  model_ = DigitsMLP(cfg.digits.hidden);
  new_means_ = old_means_ = torch::Tensor();
  return *model_;
}

void DigitsTask::on_weights_ready(const TrainConfig& cfg) {
  if (!class_means()) return;
  // The classifier is fixed by the model the fine-tuning starts from (its init_from
  // checkpoint), also when resuming, so it is the same at every step of the run. Building the
  // temporary model draws from torch's generator: keep the run's draws untouched.
  const auto rng = cpu_rng_state();
  DigitsMLP base(cfg.digits.hidden);
  set_cpu_rng_state(rng);
  load_module_parameters(*base, checkpoint::read_checkpoint(cfg.init_from).parameters, false);
  const int pct = static_cast<int>(cfg.digits.val_percent);
  const DigitsData old_train =
      split_digits(select_classes(data_, old_classes_), pct, kSplitSeed).first;
  new_means_ = class_mean_features(base, train_, cfg.digits.classes);
  old_means_ = class_mean_features(base, old_train, old_classes_);
  model_->head->weight.requires_grad_(false);  // unused by this classifier
}

void DigitsTask::param_groups(ParamGroupOptions* po) const {
  po->model_dim = 0;  // no width factor
  po->embedding_regex = "^fc1\\.";
  po->head_regex = "^head\\.";
  po->set_single_lr(po->matrix_lr);
}

torch::Tensor DigitsTask::logits(const torch::Tensor& x, const torch::Tensor& means) {
  if (!class_means()) return model_->forward(x);
  const torch::Tensor f = torch::nn::functional::normalize(
      model_->features(x), torch::nn::functional::NormalizeFuncOptions().dim(1));
  return f.matmul(means.t()) / cfg_.digits.temperature;
}

torch::Tensor DigitsTask::batch_loss(int64_t step) {
  std::vector<int64_t> idx(static_cast<size_t>(cfg_.batch_size));
  for (int64_t i = 0; i < cfg_.batch_size; ++i) {
    idx[static_cast<size_t>(i)] = static_cast<int64_t>(
        mix_hash(cfg_.seed, static_cast<uint64_t>(step), static_cast<uint64_t>(i)) %
        static_cast<uint64_t>(train_.size()));
  }
  const torch::Tensor t = torch::tensor(idx, torch::kInt64);
  const torch::Tensor x = train_.x.index_select(0, t), y = train_.y.index_select(0, t);
  if (!class_means()) return torch::nn::functional::cross_entropy(model_->forward(x), y);
  return torch::nn::functional::cross_entropy(logits(x, new_means_),
                                              class_positions(y, cfg_.digits.classes));
}

Evaluation DigitsTask::evaluate() {
  torch::NoGradGuard ng;
  model_->eval();
  // (loss, accuracy with the argmax restricted to the task's classes, spread)
  auto score = [&](const DigitsData& d, const std::vector<int64_t>& classes,
                   const torch::Tensor& means) {
    const torch::Tensor lg = logits(d.x, means);
    const torch::Tensor idx = torch::tensor(classes, torch::kInt64);
    double loss = 0, acc = 0;
    if (!class_means()) {
      loss = torch::nn::functional::cross_entropy(lg, d.y).item<double>();
      const torch::Tensor pred = idx.index_select(0, lg.index_select(1, idx).argmax(1));
      acc = pred.eq(d.y).to(torch::kFloat64).mean().item<double>();
    } else {
      const torch::Tensor target = class_positions(d.y, classes);
      loss = torch::nn::functional::cross_entropy(lg, target).item<double>();
      acc = lg.argmax(1).eq(target).to(torch::kFloat64).mean().item<double>();
    }
    return std::tuple<double, double, double>{loss, acc, prediction_spread(lg)};
  };
  const auto [vl, va, vs] = score(val_, cfg_.digits.classes, new_means_);
  const auto [ol, oa, os] = score(old_val_, old_classes_, old_means_);
  (void)os;
  Evaluation e;
  e.val_loss = vl;
  e.old_val_loss = ol;
  e.val_spread = vs;
  e.extra = {va, oa};
  return e;
}

double DigitsTask::uniform_loss() const {
  return std::log(class_means() ? static_cast<double>(cfg_.digits.classes.size()) : 10.0);
}

double DigitsTask::label_frequency_loss() const {
  return label_entropy(val_.y);
}

std::string DigitsTask::describe() const {
  return fmt::format("digits: {} training images of classes {}, {} held out; old task {} images",
                     train_.size(), nlohmann::json(cfg_.digits.classes).dump(), val_.size(),
                     old_val_.size());
}

}  // namespace muft::train
