// The one training loop (trainer.h): setup, the step loop, evaluation, checkpoints and the end
// of a run. Task-specific work is behind Task (task.h); the run directory is muft::rundir's.
#include "muft/train/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include "muft/checkpoint/checkpoint.h"
#include "muft/platform/startup.h"
#include "muft/rundir/run_dir.h"
#include "muft/train/health.h"
#include "muft/train/optim.h"
#include "muft/train/param_groups.h"
#include "muft/train/schedule.h"
#include "muft/train/trainer_checkpoint.h"

namespace muft::train {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

/// torch's default CPU generator is process-wide. Seeding it and drawing the initial weights must
/// be one atomic step, or ranks that run as threads of one process (the DDP tests) interleave their
/// draws and rank 0 starts from weights no single-process run would produce.
std::mutex& init_rng_mutex() {
  static std::mutex m;
  return m;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool all_finite(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard ng;
  for (const auto& p : params) {
    if (!torch::isfinite(p).all().item<bool>()) return false;
  }
  return true;
}

/// The extra metrics.csv columns of a run: the loop's own, then the task's.
std::vector<std::string> extra_columns(const Task& task) {
  std::vector<std::string> cols = {"val_spread"};
  for (const auto& n : task.metric_names()) cols.push_back(n);
  return cols;
}

/// One line of a LibTorch error (its what() carries a C++ stack trace).
std::string one_line(const std::exception& e) {
  std::string s;
  if (const auto* c10e = dynamic_cast<const c10::Error*>(&e)) {
    s = c10e->what_without_backtrace();
  } else {
    s = e.what();
  }
  const auto nl = s.find('\n');
  if (nl != std::string::npos) s = s.substr(0, nl);
  return s;
}

/// Thrown inside the loop when the run must end unhealthy; caught in run_training.
struct Unhealthy {
  RunStatus status;
  std::string reason;
};

/// The checkpoint a resume starts from, chosen and verified (TrainOptions).
struct ResumePoint {
  bool from_scratch = false;  ///< config but no checkpoint: start again at step 0
  checkpoint::Checkpoint ckpt;
};

/// set_aside: move checkpoints after the chosen one out of the listing (main rank only).
ResumePoint choose_resume_point(const rundir::RunDir& run, const TrainOptions& opts,
                                TrainObserver* obs, bool set_aside) {
  ResumePoint rp;
  auto ckpts = run.checkpoints();
  if (ckpts.empty()) {
    if (!run.has_config()) {
      throw std::runtime_error("'" + run.path() + "' holds no run to resume (no config.json)");
    }
    if (obs) obs->on_note("no checkpoint yet: restarting the run from step 0 with its config");
    rp.from_scratch = true;
    return rp;
  }
  if (opts.resume_from_step >= 0) {
    std::vector<rundir::CheckpointFile> upto;
    for (const auto& c : ckpts)
      if (c.step <= opts.resume_from_step) upto.push_back(c);
    if (upto.empty() || upto.back().step != opts.resume_from_step) {
      std::string have;
      for (const auto& c : ckpts) have += (have.empty() ? "" : ", ") + std::to_string(c.step);
      throw std::invalid_argument(
          fmt::format("--from-step {}: '{}' has no checkpoint of that step "
                      "(steps: {})",
                      opts.resume_from_step, run.path(), have));
    }
    ckpts = upto;
  }
  std::vector<std::string> bad;
  for (auto it = ckpts.rbegin(); it != ckpts.rend(); ++it) {
    try {
      rp.ckpt = checkpoint::read_checkpoint(it->path);
      if (!bad.empty() && obs) {
        obs->on_note(fmt::format("resuming from the newest good checkpoint, step {}", it->step));
      }
      break;
    } catch (const std::exception& e) {
      const std::string why = fmt::format("checkpoint {} is unreadable or corrupt: {}",
                                          fs::path(it->path).filename().string(), one_line(e));
      if (!opts.resume_fallback) {
        std::string earlier;
        for (auto jt = std::next(it); jt != ckpts.rend(); ++jt)
          earlier += (earlier.empty() ? "" : ", ") + std::to_string(jt->step);
        throw std::runtime_error(
            why + (earlier.empty() ? std::string("; no earlier checkpoint to resume from")
                                   : "; resume from an earlier one with --from-step N (steps: " +
                                         earlier + ") or --fallback"));
      }
      if (obs) obs->on_note(why + "; trying the one before it");
      bad.push_back(it->path);
      if (std::next(it) == ckpts.rend())
        throw std::runtime_error(why + "; no good checkpoint left");
    }
  }
  // Checkpoints after the resume point are set aside: the run writes them again.
  for (const auto& c : set_aside ? run.checkpoints() : std::vector<rundir::CheckpointFile>{}) {
    if (c.step <= rp.ckpt.step) continue;
    const bool corrupt = std::find(bad.begin(), bad.end(), c.path) != bad.end();
    const std::string to = c.path + (corrupt ? ".corrupt" : ".superseded");
    std::error_code ec;
    fs::rename(c.path, to, ec);
    if (obs && !ec)
      obs->on_note("set aside " + fs::path(c.path).filename().string() + " as " +
                   fs::path(to).filename().string());
  }
  return rp;
}

}  // namespace

torch::nn::Module& build_seeded_model(Task& task, const TrainConfig& cfg, uint64_t seed) {
  const std::lock_guard<std::mutex> lock(init_rng_mutex());
  torch::manual_seed(seed);
  torch::nn::Module& m = task.build_model(cfg);
  if (cfg.method == Method::kLoRA) apply_lora(m, cfg.lora);
  return m;
}

TrainResult run_training(const TrainConfig& cfg_in, const std::string& out_dir,
                         const TrainOptions& opts) {
  std::unique_ptr<Task> task;
  try {
    task = make_task(cfg_in, opts.dist);
  } catch (const c10::Error& e) {
    throw std::runtime_error(one_line(e));
  }
  return run_training(cfg_in, *task, out_dir, opts);
}

TrainResult run_training(const TrainConfig& cfg_in, Task& task, const std::string& out_dir,
                         const TrainOptions& opts) {
  TrainConfig cfg = cfg_in;
  cfg.schedule.total_steps = cfg.steps;
  DistributedContext single;
  DistributedContext& dist = opts.dist ? *opts.dist : single;
  const bool main_rank = dist.is_main();
  TrainObserver* obs = main_rank ? opts.observer : nullptr;

  std::string err;
  if (!cfg.IsValid(&err)) throw std::invalid_argument("invalid config: " + err);
  const torch::Device device(cfg.device);
  if (device.is_cuda() && !torch::cuda::is_available()) {
    throw std::invalid_argument("device " + cfg.device +
                                " requested but this LibTorch has no usable CUDA (see "
                                "docs/training.md to build against a CUDA LibTorch)");
  }
  if (cfg.threads > 0) {
    torch::set_num_threads(static_cast<int>(cfg.threads));
    platform::set_openblas_threads(static_cast<int>(cfg.threads));
  }

  const rundir::RunDir run(out_dir);
  if (main_rank) {
    if (!opts.resume && run.holds_run()) {
      throw std::invalid_argument("'" + out_dir +
                                  "' already holds a run: continue it with `muft-train resume " +
                                  out_dir + "` or choose another --out");
    }
    run.create();
    if (const std::size_t n = run.remove_stale_temporaries(); n > 0 && obs) {
      obs->on_note(fmt::format("removed {} temporary file(s) of an earlier, killed writer", n));
    }
  }

  auto fail_status = [&](const std::string& reason, int64_t step) {
    if (!main_rank) return;
    try {
      run.write_status({RunStatus::kFailed, reason, step, {}});
    } catch (...) {  // the disk may be full: the exception that brought us here says so
    }
  };

  TrainResult result;
  ResumePoint resume;
  bool resuming = false;
  std::vector<torch::Tensor> all_params, trainable;
  std::optional<Optimizer> opt;
  int64_t start_step = 0;
  double seconds_offset = 0.0;
  int64_t resumed_streak = 0;
  try {
    if (opts.resume) {
      resume = choose_resume_point(run, opts, obs, main_rank);
      resuming = !resume.from_scratch;
    }
    // Fine-tuning from scratch takes the architecture from the pretrained checkpoint.
    checkpoint::Checkpoint base;
    const bool from_base = cfg.mode == Mode::kFinetune && !resuming;
    if (from_base) {
      base = checkpoint::read_checkpoint(cfg.init_from);
      task.adopt_base(base.config, &cfg);
    }
    task.prepare(&cfg);
    if (!cfg.IsValid(&err)) throw std::invalid_argument("invalid config: " + err);
    task.validate(cfg, dist.world_size());

    if (from_base) {
      // W0 first, then the adapters, so PiSSA factors the pretrained weights.
      const std::lock_guard<std::mutex> lock(init_rng_mutex());
      torch::manual_seed(cfg.seed);
      torch::nn::Module& m = task.build_model(cfg);
      load_module_parameters(m, base.parameters, /*strict=*/true);
      torch::manual_seed(cfg.seed);
      if (cfg.method == Method::kLoRA) apply_lora(m, cfg.lora);
    } else {
      torch::nn::Module& m = build_seeded_model(task, cfg, cfg.seed);
      if (resuming) load_module_parameters(m, resume.ckpt.parameters, /*strict=*/true);
    }
    base = checkpoint::Checkpoint{};  // release memory
    task.on_weights_ready(cfg);
    torch::nn::Module& model = task.model();
    model.to(device);
    model.train();

    for (const auto& p : model.named_parameters()) {
      all_params.push_back(p.value());
      if (p.value().requires_grad()) trainable.push_back(p.value());
    }
    dist.broadcast(all_params, 0);  // every rank starts from rank 0's weights (adapters included)
    for (const auto& p : all_params) result.num_parameters += p.numel();
    for (const auto& p : trainable) result.trainable_parameters += p.numel();

    ParamGroupOptions po = cfg.optim;
    task.param_groups(&po);
    opt.emplace(build_param_groups(model, po));
    if (resuming) {
      load_optimizer_state(*opt, resume.ckpt.optimizer_state);
      set_cpu_rng_state(resume.ckpt.rng_state);
      start_step = resume.ckpt.step;
      const auto& m = resume.ckpt.metrics;
      if (m.contains("seconds") && m.at("seconds").is_number()) {
        seconds_offset = m.at("seconds").get<double>();
      }
      if (m.contains("health_streak") && m.at("health_streak").is_number_integer()) {
        resumed_streak = m.at("health_streak").get<int64_t>();
      }
      resume.ckpt = checkpoint::Checkpoint{};  // release memory
    }
  } catch (const std::exception& e) {
    fail_status(one_line(e), 0);
    if (dynamic_cast<const std::invalid_argument*>(&e)) throw std::invalid_argument(one_line(e));
    throw std::runtime_error(one_line(e));
  }

  const std::vector<std::string> extra_names = extra_columns(task);
  const int64_t units_per_step = task.units_per_step();
  rundir::Metrics metrics;
  metrics.extra_columns = extra_names;
  std::optional<rundir::MetricsRow> row0;  // the model before any update (health references)
  if (resuming) {  // every rank: the step-0 row is the health reference of all of them
    const rundir::Metrics old = run.read_metrics();
    for (std::size_t i = 0; i < old.rows.size(); ++i) {
      if (old.rows[i].step > start_step) continue;
      rundir::MetricsRow k = old.rows[i];
      k.extra.clear();
      for (const auto& name : extra_names) k.extra.push_back(old.value(i, name));  // by name
      metrics.rows.push_back(k);
      if (k.step == 0) row0 = k;
    }
  }
  if (main_rank) {
    if (resuming) run.write_metrics(metrics);
    run.write_config(cfg.to_json());
    run.write_status({RunStatus::kRunning,
                      "",
                      start_step,
                      {{"pid", static_cast<int64_t>(::getpid())},
                       {"world_size", dist.world_size()},
                       {"num_parameters", result.num_parameters},
                       {"trainable_parameters", result.trainable_parameters}}});
  }
  if (obs) {
    obs->on_start({out_dir, task.describe(), start_step, cfg.steps, resuming, dist.world_size(),
                   result.num_parameters, result.trainable_parameters});
  }

  torch::nn::Module& model = task.model();
  const auto t0 = Clock::now();
  auto evaluate = [&](int64_t step, double train_loss, double lr) {
    const Evaluation e = task.evaluate();
    model.train();
    rundir::MetricsRow row;
    row.step = step;
    row.tokens = step * units_per_step;
    row.lr = lr;
    row.train_loss = train_loss;
    row.val_loss = e.val_loss;
    row.val_ppl = std::exp(e.val_loss);
    row.old_val_loss = e.old_val_loss;
    row.old_val_ppl = std::exp(e.old_val_loss);
    row.seconds = seconds_offset + seconds_since(t0);
    row.extra = {e.val_spread};
    row.extra.insert(row.extra.end(), e.extra.begin(), e.extra.end());
    return row;
  };
  auto group_lr = [&](double mult) {
    return opt->groups().empty() ? 0.0 : opt->groups().front().lr() * mult;
  };
  DivergenceMonitor divergence(cfg.health, std::nan(""));
  auto save_checkpoint = [&](const rundir::MetricsRow& row) {
    checkpoint::Checkpoint ck;
    ck.step = row.step;
    ck.config = cfg.to_json();
    nlohmann::json m;
    for (const auto& c : rundir::kCoreColumns) m[c.name] = c.get(row);
    for (std::size_t i = 0; i < extra_names.size(); ++i) m[extra_names[i]] = row.extra[i];
    m["world_size"] = dist.world_size();
    m["health_streak"] = divergence.streak();
    ck.metrics = m;
    ck.parameters = module_parameters(model);
    ck.optimizer_state = optimizer_state(*opt);
    ck.rng_state = cpu_rng_state();
    checkpoint::write_checkpoint(run.checkpoint_path(row.step), ck);
  };

  int64_t step = start_step;
  try {
    if (!resuming) {  // step-0 evaluation and checkpoint: the model the run starts from
      const rundir::MetricsRow r0 =
          evaluate(0, std::nan(""), group_lr(lr_multiplier(cfg.schedule, 0)));
      row0 = r0;
      if (main_rank) {
        metrics.rows.push_back(r0);
        run.write_metrics(metrics);
        save_checkpoint(r0);
      }
      if (obs) obs->on_evaluation(r0, extra_names);
      result.last_val_loss = r0.val_loss;
      result.last_old_val_loss = r0.old_val_loss;
    }
    // Health references: the step-0 row (all-reduced evaluation, so the same on every rank).
    const double ref[2] = {row0 ? row0->val_loss : std::nan(""),
                           row0 ? row0->extra[0] : std::nan("")};
    divergence = DivergenceMonitor(cfg.health, ref[0]);
    divergence.restore(resumed_streak);

    double loss_sum = 0.0;
    int64_t loss_count = 0;
    const auto seg_start = Clock::now();
    const int64_t seg_first = step;
    while (step < cfg.steps) {
      const double mult = lr_multiplier(cfg.schedule, step);
      opt->set_lr_multiplier(mult);
      torch::Tensor loss = task.batch_loss(step);
      loss.backward();
      std::vector<torch::Tensor> grads;
      for (const auto& p : trainable) grads.push_back(p.grad());
      dist.all_reduce_mean(grads);
      const double step_loss = dist.all_reduce_mean(loss.item<double>());
      if (!std::isfinite(step_loss)) {
        throw Unhealthy{RunStatus::kDiverged,
                        fmt::format("non-finite training loss at step {}", step + 1)};
      }
      if (cfg.grad_clip > 0) torch::nn::utils::clip_grad_norm_(trainable, cfg.grad_clip);
      opt->step();
      opt->zero_grad();
      ++step;
      if (!all_finite(trainable)) {
        throw Unhealthy{RunStatus::kDiverged,
                        fmt::format("non-finite parameters after step {}", step)};
      }
      if (const std::string why = divergence.observe(step, step_loss); !why.empty()) {
        throw Unhealthy{RunStatus::kDiverged, why};
      }
      loss_sum += step_loss;
      ++loss_count;

      const double elapsed = seconds_since(seg_start);
      const double tps = static_cast<double>((step - seg_first) * units_per_step) / elapsed;
      result.tokens_per_second = tps;
      if (obs) {
        obs->on_step({step, cfg.steps, step_loss, tps,
                      static_cast<double>((cfg.steps - step) * units_per_step) / tps});
      }

      const bool is_eval = step % cfg.eval_every == 0 || step == cfg.steps;
      const bool is_ckpt = step == cfg.steps ||
                           (cfg.checkpoint_every > 0 ? step % cfg.checkpoint_every == 0 : is_eval);
      if (!is_eval && !is_ckpt) continue;
      const rundir::MetricsRow row =
          evaluate(step, loss_sum / static_cast<double>(loss_count), group_lr(mult));
      if (!std::isfinite(row.val_loss)) {
        throw Unhealthy{RunStatus::kDiverged,
                        fmt::format("non-finite validation loss at step {}", step)};
      }
      loss_sum = 0.0;
      loss_count = 0;
      if (main_rank) {
        if (is_eval) {
          metrics.rows.push_back(row);
          run.write_metrics(metrics);
        }
        if (is_ckpt) save_checkpoint(row);
        run.write_status(
            {RunStatus::kRunning,
             "",
             step,
             {{"pid", static_cast<int64_t>(::getpid())}, {"world_size", dist.world_size()}}});
      }
      if (is_eval && obs) obs->on_evaluation(row, extra_names);
      result.last_val_loss = row.val_loss;
      result.last_old_val_loss = row.old_val_loss;
      const std::string collapse =
          detect_collapse(cfg.health, {ref[0], ref[1], row.val_loss, row.extra[0],
                                       task.uniform_loss(), task.label_frequency_loss()});
      if (!collapse.empty()) {
        // A blow-up that lands on uniform predictions is a divergence: the training loss says
        // what happened first. Collapse is the quiet case, without a loss above the margin.
        if (divergence.streak() > 0) {
          throw Unhealthy{
              RunStatus::kDiverged,
              fmt::format("at step {}: the training loss blew up (above the initial "
                          "loss by more than {:g} for the last {} step(s)) and {}",
                          step, cfg.health.divergence_margin, divergence.streak(), collapse)};
        }
        throw Unhealthy{RunStatus::kCollapsed, fmt::format("at step {}: {}", step, collapse)};
      }
      if (opts.stop_after_step >= 0 && step >= opts.stop_after_step && is_ckpt &&
          step < cfg.steps) {
        result.status = RunStatus::kRunning;
        result.reason = "stopped after step " + std::to_string(step);
        result.step = step;
        return result;
      }
    }
  } catch (const Unhealthy& u) {
    result.status = u.status;
    result.reason = u.reason;
    result.step = step;
    result.exit_code = u.status == RunStatus::kCollapsed ? kExitCollapsed : kExitDiverged;
    if (main_rank) {
      const auto last = run.latest_checkpoint();
      run.write_status(
          {u.status,
           u.reason,
           step,
           {{"last_good_checkpoint", last ? last->path : ""}, {"world_size", dist.world_size()}}});
    }
    if (obs) obs->on_end(result);
    return result;
  } catch (const std::exception& e) {
    const std::string why = one_line(e);
    fail_status(why, step);
    throw std::runtime_error(why);
  }
  result.status = RunStatus::kCompleted;
  result.step = step;
  if (main_rank) {
    nlohmann::json extra = {{"world_size", dist.world_size()},
                            {"num_parameters", result.num_parameters},
                            {"trainable_parameters", result.trainable_parameters},
                            {"final_val_loss", result.last_val_loss},
                            {"final_old_val_loss", result.last_old_val_loss}};
    if (!metrics.rows.empty()) {
      const auto& last = metrics.rows.back();
      for (std::size_t i = 1; i < extra_names.size(); ++i) {
        extra["final_" + extra_names[i]] = last.extra[i];
      }
    }
    run.write_status({RunStatus::kCompleted, "", step, extra});
  }
  if (obs) obs->on_end(result);
  return result;
}

}  // namespace muft::train
