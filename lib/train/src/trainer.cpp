#include "muft/train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <stdexcept>

#include <ATen/autocast_mode.h>
#include <fmt/format.h>

#include "muft/checkpoint/checkpoint.h"
#include "muft/train/eval.h"
#include "muft/train/optim.h"
#include "muft/train/param_groups.h"
#include "muft/train/schedule.h"
#include "muft/train/tokenizer.h"
#include "muft/train/trainer_checkpoint.h"

namespace muft::train {

namespace {

/// torch's default CPU generator is process-wide. Seeding it and drawing the initial weights must
/// be one atomic step, or ranks that run as threads of one process (the DDP tests) interleave their
/// draws and rank 0 starts from weights no single-process run would produce.
std::mutex& init_rng_mutex() {
  static std::mutex m;
  return m;
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string format_eta(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02d}m", t / 3600, (t % 3600) / 60);
  if (t >= 60) return fmt::format("{}m{:02d}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

bool all_finite(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard ng;
  for (const auto& p : params) {
    if (!torch::isfinite(p).all().item<bool>()) return false;
  }
  return true;
}

/// Enables bf16 autocast on CUDA for the lifetime of the guard (no-op on CPU).
class AutocastGuard {
 public:
  explicit AutocastGuard(bool on) : on_(on) {
    if (on_) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    }
  }
  ~AutocastGuard() {
    if (on_) {
      at::autocast::set_enabled(false);
      at::autocast::clear_cache();
    }
  }

 private:
  bool on_;
};

/// Writes one checkpoint of the current state (main rank only).
void save_checkpoint(const RunDir& run, int64_t step, const TrainConfig& cfg, GPT& model,
                     const Optimizer& opt, const MetricsRow& row, int64_t world_size) {
  checkpoint::Checkpoint ck;
  ck.step = step;
  ck.config = cfg.to_json();
  ck.metrics = {{"step", row.step},
                {"tokens", row.tokens},
                {"lr", row.lr},
                {"train_loss", row.train_loss},
                {"val_loss", row.val_loss},
                {"val_ppl", row.val_ppl},
                {"old_val_loss", row.old_val_loss},
                {"old_val_ppl", row.old_val_ppl},
                {"seconds", row.seconds},
                {"world_size", world_size}};
  ck.parameters = module_parameters(*model);
  ck.optimizer_state = optimizer_state(opt);
  ck.rng_state = cpu_rng_state();
  checkpoint::write_checkpoint(run.checkpoint_path(step), ck);
}

/// Thrown inside the loop when the run diverges; caught in run_training, never escapes.
struct Diverged {
  std::string reason;
};

double json_number_or_nan(const nlohmann::json& j, const char* key) {
  if (j.contains(key) && j.at(key).is_number()) return j.at(key).get<double>();
  return std::nan("");
}

}  // namespace

TrainCorpora load_corpora(const DataConfig& data) {
  TrainCorpora c;
  c.train = TextCorpus::from_file(data.train);
  c.val = TextCorpus::from_file(data.val);
  if (!data.old_val.empty()) c.old_val = TextCorpus::from_file(data.old_val);
  return c;
}

GPT make_model(const TrainConfig& cfg, uint64_t seed) {
  const std::lock_guard<std::mutex> lock(init_rng_mutex());
  torch::manual_seed(seed);
  GPT model(cfg.model);
  if (cfg.method == "lora") apply_lora(*model, cfg.lora);
  return model;
}

TrainResult run_training(const TrainConfig& cfg_in, const TrainCorpora& data,
                         const std::string& out_dir, const TrainOptions& opts) {
  TrainConfig cfg = cfg_in;
  cfg.schedule.total_steps = cfg.steps;
  DistributedContext single;
  DistributedContext& dist = opts.dist ? *opts.dist : single;
  const bool main_rank = dist.is_main();

  std::string err;
  if (!cfg.IsValid(&err)) throw std::invalid_argument("invalid config: " + err);
  if (cfg.batch_size % dist.world_size() != 0) {
    throw std::invalid_argument(fmt::format("global batch {} is not divisible by world size {}",
                                            cfg.batch_size, dist.world_size()));
  }
  const torch::Device device(cfg.device);
  if (device.is_cuda() && !torch::cuda::is_available()) {
    throw std::invalid_argument("device " + cfg.device +
                                " requested but this LibTorch has no usable CUDA (see "
                                "docs/training.md to build against a CUDA LibTorch)");
  }
  if (cfg.threads > 0) torch::set_num_threads(static_cast<int>(cfg.threads));
  const bool autocast = device.is_cuda() && cfg.bf16_autocast;

  std::optional<RunDir> run;
  if (main_rank || opts.resume) run.emplace(out_dir, /*create=*/main_rank);
  if (main_rank && !opts.resume &&
      (!run->list_checkpoints().empty() || ::access(run->status_path().c_str(), F_OK) == 0)) {
    throw std::invalid_argument("'" + out_dir +
                                "' already holds a run: use --resume to continue it or choose "
                                "another --out");
  }

  auto fail_status = [&](const std::string& reason, int64_t step) {
    if (main_rank && run) {
      try {
        run->write_status(RunStatus::kFailed, reason, step);
      } catch (...) {
      }
    }
  };

  TrainResult result;
  GPT model{nullptr};
  checkpoint::Checkpoint resume_ckpt;
  bool resuming = false;
  try {
    if (opts.resume) {
      const auto ckpts = run->list_checkpoints();
      if (ckpts.empty()) {
        throw std::runtime_error("'" + out_dir + "' holds no checkpoint to resume from");
      }
      resume_ckpt = checkpoint::read_checkpoint(ckpts.back().second);
      resuming = true;
    }
    if (resuming || cfg.mode == "pretrain") {
      model = make_model(cfg, cfg.seed);
      if (resuming) load_module_parameters(*model, resume_ckpt.parameters, /*strict=*/true);
    } else {
      const checkpoint::Checkpoint base = checkpoint::read_checkpoint(cfg.init_from);
      if (!base.config.is_object() || !base.config.contains("model")) {
        throw std::runtime_error("checkpoint '" + cfg.init_from + "' stores no model config");
      }
      cfg.model = GPTConfig::from_json(base.config.at("model"));
      const std::lock_guard<std::mutex> lock(init_rng_mutex());
      torch::manual_seed(cfg.seed);
      model = GPT(cfg.model);
      load_module_parameters(*model, base.parameters, /*strict=*/true);
      // Adapters are attached after W0 is loaded, so PiSSA factors the pretrained weights.
      torch::manual_seed(cfg.seed);
      if (cfg.method == "lora") apply_lora(*model, cfg.lora);
    }
  } catch (const std::exception& e) {
    fail_status(e.what(), 0);
    throw;
  }
  cfg.optim.model_dim = cfg.model.n_embd;
  model->to(device);
  model->train();

  std::vector<torch::Tensor> all_params, trainable;
  for (const auto& p : model->named_parameters()) {
    all_params.push_back(p.value());
    if (p.value().requires_grad()) trainable.push_back(p.value());
  }
  dist.broadcast(all_params, 0);  // every rank starts from rank 0's weights (adapters included)
  result.num_parameters = model->num_parameters();
  for (const auto& p : trainable) result.trainable_parameters += p.numel();

  Optimizer opt(build_param_groups(*model, cfg.optim));
  int64_t start_step = 0;
  double seconds_offset = 0.0;
  std::vector<MetricsRow> metrics;
  if (resuming) {
    load_optimizer_state(opt, resume_ckpt.optimizer_state);
    set_cpu_rng_state(resume_ckpt.rng_state);
    start_step = resume_ckpt.step;
    const double s = json_number_or_nan(resume_ckpt.metrics, "seconds");
    seconds_offset = std::isfinite(s) ? s : 0.0;
    resume_ckpt = checkpoint::Checkpoint{};  // release memory
  }

  const int64_t T = cfg.model.sequence_len;
  const auto rows = shard_rows(cfg.batch_size, dist.rank(), dist.world_size());
  const int64_t tokens_per_step = cfg.batch_size * T;
  const bool has_old = data.old_val.size() > 0;
  for (const TextCorpus* c : {&data.train, &data.val}) {
    if (c->size() <= T) {
      throw std::invalid_argument(fmt::format(
          "corpus '{}' has {} tokens, fewer than the context {}", c->name(), c->size(), T + 1));
    }
  }
  const int64_t eval_rows = std::max<int64_t>(1, std::min<int64_t>(16, cfg.batch_size));

  if (main_rank) {
    if (resuming) {
      for (const auto& r : run->read_metrics()) {
        if (r.step <= start_step) metrics.push_back(r);
      }
      run->write_metrics(metrics);
    }
    run->write_config(cfg.to_json());
    run->write_status(RunStatus::kRunning, "", start_step,
                      {{"pid", static_cast<int64_t>(::getpid())},
                       {"world_size", dist.world_size()},
                       {"num_parameters", result.num_parameters},
                       {"trainable_parameters", result.trainable_parameters}});
  }

  const auto t0 = Clock::now();
  auto evaluate = [&](int64_t step, double train_loss, double lr) {
    MetricsRow row;
    row.step = step;
    row.tokens = step * tokens_per_step;
    row.lr = lr;
    row.train_loss = train_loss;
    const EvalResult v =
        evaluate_lm(model, data.val, cfg.data.eval_windows, eval_rows, device, &dist, autocast);
    row.val_loss = v.loss;
    row.val_ppl = v.ppl;
    if (has_old) {
      const EvalResult o = evaluate_lm(model, data.old_val, cfg.data.eval_windows, eval_rows,
                                       device, &dist, autocast);
      row.old_val_loss = o.loss;
      row.old_val_ppl = o.ppl;
    } else {
      row.old_val_loss = v.loss;
      row.old_val_ppl = v.ppl;
    }
    model->train();
    row.seconds = seconds_offset + seconds_since(t0);
    return row;
  };

  auto group_lr = [&](double mult) {
    return opt.groups().empty() ? 0.0 : opt.groups().front().lr() * mult;
  };

  int64_t step = start_step;
  double loss_sum = 0.0;
  int64_t loss_count = 0;
  std::vector<int64_t> xs, ys;
  bool progress_line = false;
  auto clear_progress = [&]() {
    if (progress_line) {
      std::fprintf(stderr, "\r%*s\r", 100, "");
      progress_line = false;
    }
  };
  auto log_row = [&](const MetricsRow& r) {
    if (!main_rank || !opts.log_evals) return;
    clear_progress();
    std::printf("step %lld/%lld | train %.4f | val %.4f (%.3f bpb) | old %.4f | lr %.3g | %.1fs\n",
                static_cast<long long>(r.step), static_cast<long long>(cfg.steps), r.train_loss,
                r.val_loss, bits_per_byte(r.val_loss), r.old_val_loss, r.lr, r.seconds);
    std::fflush(stdout);
  };

  try {
    if (!resuming) {  // step-0 evaluation and checkpoint: the model the run starts from
      const MetricsRow row0 = evaluate(0, std::nan(""), group_lr(lr_multiplier(cfg.schedule, 0)));
      if (main_rank) {
        metrics.push_back(row0);
        run->write_metrics(metrics);
        save_checkpoint(*run, 0, cfg, model, opt, row0, dist.world_size());
      }
      log_row(row0);
    }
    auto last_print = Clock::now();
    const auto seg_start = Clock::now();
    const int64_t seg_first = step;
    while (step < cfg.steps) {
      const double mult = lr_multiplier(cfg.schedule, step);
      opt.set_lr_multiplier(mult);
      const auto offsets = batch_offsets(cfg.seed, step, cfg.batch_size, data.train.size(), T);
      fill_windows(data.train, offsets, rows.first, rows.second, T, &xs, &ys);
      const int64_t nrows = rows.second - rows.first;
      torch::Tensor x = torch::from_blob(xs.data(), {nrows, T}, torch::kInt64).to(device);
      torch::Tensor y = torch::from_blob(ys.data(), {nrows, T}, torch::kInt64).to(device);
      if (!x.is_cuda()) {  // from_blob does not own the buffer
        x = x.clone();
        y = y.clone();
      }
      torch::Tensor loss;
      {
        AutocastGuard ac(autocast);
        loss = model->loss(x, y);
      }
      loss.backward();
      std::vector<torch::Tensor> grads;
      for (const auto& p : trainable) grads.push_back(p.grad());
      dist.all_reduce_mean(grads);
      const double step_loss = dist.all_reduce_mean(loss.item<double>());
      if (!std::isfinite(step_loss)) {
        throw Diverged{fmt::format("non-finite training loss at step {}", step + 1)};
      }
      if (cfg.grad_clip > 0) torch::nn::utils::clip_grad_norm_(trainable, cfg.grad_clip);
      opt.step();
      opt.zero_grad();
      ++step;
      if (!all_finite(trainable)) {
        throw Diverged{fmt::format("non-finite parameters after step {}", step)};
      }
      loss_sum += step_loss;
      ++loss_count;

      const double elapsed = seconds_since(seg_start);
      const double tps = static_cast<double>((step - seg_first) * tokens_per_step) / elapsed;
      result.tokens_per_second = tps;
      if (main_rank && opts.progress && seconds_since(last_print) > 0.25) {
        const double eta = static_cast<double>((cfg.steps - step) * tokens_per_step) / tps;
        std::fprintf(stderr, "\rstep %lld/%lld  loss %.4f  %.0f tok/s  ETA %s   ",
                     static_cast<long long>(step), static_cast<long long>(cfg.steps), step_loss,
                     tps, format_eta(eta).c_str());
        std::fflush(stderr);
        progress_line = true;
        last_print = Clock::now();
      }

      const bool is_eval = step % cfg.eval_every == 0 || step == cfg.steps;
      const bool is_ckpt = step == cfg.steps ||
                           (cfg.checkpoint_every > 0 ? step % cfg.checkpoint_every == 0 : is_eval);
      if (is_eval || is_ckpt) {
        const MetricsRow row =
            evaluate(step, loss_sum / static_cast<double>(loss_count), group_lr(mult));
        if (!std::isfinite(row.val_loss)) {
          throw Diverged{fmt::format("non-finite validation loss at step {}", step)};
        }
        loss_sum = 0.0;
        loss_count = 0;
        if (main_rank) {
          if (is_eval) {
            metrics.push_back(row);
            run->write_metrics(metrics);
          }
          if (is_ckpt) save_checkpoint(*run, step, cfg, model, opt, row, dist.world_size());
          run->write_status(
              RunStatus::kRunning, "", step,
              {{"pid", static_cast<int64_t>(::getpid())}, {"world_size", dist.world_size()}});
        }
        if (is_eval) log_row(row);
        result.last_val_loss = row.val_loss;
        result.last_old_val_loss = row.old_val_loss;
        if (opts.stop_after_step >= 0 && step >= opts.stop_after_step && is_ckpt &&
            step < cfg.steps) {
          clear_progress();
          result.status = RunStatus::kRunning;
          result.reason = "stopped after step " + std::to_string(step);
          result.step = step;
          return result;
        }
      }
    }
  } catch (const Diverged& d) {
    clear_progress();
    result.status = RunStatus::kDiverged;
    result.reason = d.reason;
    result.step = step;
    result.exit_code = kExitDiverged;
    if (main_rank) {
      const auto ckpts = run->list_checkpoints();
      run->write_status(RunStatus::kDiverged, d.reason, step,
                        {{"last_good_checkpoint", ckpts.empty() ? "" : ckpts.back().second},
                         {"world_size", dist.world_size()}});
      if (opts.log_evals) std::printf("diverged: %s\n", d.reason.c_str());
    }
    return result;
  } catch (const std::exception& e) {
    clear_progress();
    fail_status(e.what(), step);
    throw;
  }
  clear_progress();
  result.status = RunStatus::kCompleted;
  result.step = step;
  if (main_rank) {
    run->write_status(RunStatus::kCompleted, "", step,
                      {{"world_size", dist.world_size()},
                       {"num_parameters", result.num_parameters},
                       {"trainable_parameters", result.trainable_parameters},
                       {"final_val_loss", result.last_val_loss},
                       {"final_old_val_loss", result.last_old_val_loss}});
  }
  return result;
}

}  // namespace muft::train
