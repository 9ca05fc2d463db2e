#include "muft/train/digits.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>
#include <stdexcept>

#include <ATen/CPUGeneratorImpl.h>

#include "muft/train/data.h"
#include "muft/train/optim.h"
#include "muft/train/schedule.h"
#include "muft/train/trainer_checkpoint.h"

namespace muft::train {

DigitsData parse_digits_csv(const std::string& text) {
  std::vector<float> xs;
  std::vector<int64_t> ys;
  std::istringstream in(text);
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<int64_t> v;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) {
      try {
        size_t used = 0;
        const double d = std::stod(cell, &used);
        if (used != cell.size() || d != std::floor(d)) throw std::invalid_argument("");
        v.push_back(static_cast<int64_t>(d));
      } catch (const std::exception&) {
        throw std::invalid_argument("digits line " + std::to_string(lineno) + ": '" + cell +
                                    "' is not an integer");
      }
    }
    if (v.size() != 65) {
      throw std::invalid_argument("digits line " + std::to_string(lineno) + ": expected 65 " +
                                  "values (64 pixels + label), got " + std::to_string(v.size()));
    }
    for (int i = 0; i < 64; ++i) {
      if (v[i] < 0 || v[i] > 16) {
        throw std::invalid_argument("digits line " + std::to_string(lineno) +
                                    ": pixel outside 0..16");
      }
      xs.push_back(static_cast<float>(v[i]) / 16.0f);
    }
    if (v[64] < 0 || v[64] > 9) {
      throw std::invalid_argument("digits line " + std::to_string(lineno) + ": label outside 0..9");
    }
    ys.push_back(v[64]);
  }
  const int64_t n = static_cast<int64_t>(ys.size());
  if (n == 0) throw std::invalid_argument("digits data is empty");
  DigitsData d;
  d.x = torch::from_blob(xs.data(), {n, 64}, torch::kFloat32).clone();
  d.y = torch::from_blob(ys.data(), {n}, torch::kInt64).clone();
  return d;
}

DigitsData load_digits_csv(const std::string& path) {
  return parse_digits_csv(read_file(path));
}

DigitsData select_digits(const DigitsData& d, int64_t lo, int64_t hi) {
  const torch::Tensor mask = (d.y >= lo).logical_and(d.y <= hi);
  return {d.x.index({mask}), d.y.index({mask})};
}

std::pair<DigitsData, DigitsData> split_digits(const DigitsData& d, int val_percent,
                                               uint64_t seed) {
  if (val_percent < 0 || val_percent > 100) {
    throw std::invalid_argument("validation percentage must be in [0, 100]");
  }
  std::vector<int64_t> tr, va;
  for (int64_t i = 0; i < d.size(); ++i) {
    (static_cast<int>(mix_hash(seed, static_cast<uint64_t>(i), 7) % 100) < val_percent ? va : tr)
        .push_back(i);
  }
  auto take = [&](const std::vector<int64_t>& idx) {
    const torch::Tensor t = torch::tensor(idx, torch::kInt64);
    return DigitsData{d.x.index_select(0, t), d.y.index_select(0, t)};
  };
  return {take(tr), take(va)};
}

DigitsMLPImpl::DigitsMLPImpl(int64_t hidden) {
  fc1 = register_module("fc1", LoRALinear(64, hidden));
  fc2 = register_module("fc2", LoRALinear(hidden, hidden));
  fc3 = register_module("fc3", LoRALinear(hidden, hidden));
  head = register_module("head", LoRALinear(hidden, 10));
  torch::NoGradGuard ng;
  for (auto* l : {&fc1, &fc2, &fc3, &head}) {  // torch.nn.Linear's default (Kaiming-uniform)
    const double b = 1.0 / std::sqrt(static_cast<double>((*l)->in_features()));
    (*l)->weight.uniform_(-b, b);
  }
}

torch::Tensor DigitsMLPImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = torch::relu(fc1->forward(x));
  h = torch::relu(fc2->forward(h));
  h = torch::relu(fc3->forward(h));
  return head->forward(h);
}

LoRAOptions digits_lora_defaults() {
  LoRAOptions o;
  o.rank = 4;
  o.alpha = 8.0;
  o.targets = {"^fc1$", "^fc2$", "^fc3$", "^head$"};
  return o;
}

bool DigitsConfig::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (hidden < 4) return fail("hidden width must be >= 4");
  if (pretrain_steps < 0 || finetune_steps < 0) return fail("steps must be >= 0");
  if (batch_size < 1) return fail("batch size must be >= 1");
  if (!(pretrain_lr >= 0) || !(finetune_lr >= 0)) return fail("learning rates must be >= 0");
  if (method != "full" && method != "lora") return fail("method must be full or lora");
  std::string sub;
  if (method == "lora" && !lora.IsValid(&sub)) return fail("lora: " + sub);
  if (eval_every < 1) return fail("eval_every must be >= 1");
  if (val_percent < 1 || val_percent > 90) return fail("val_percent must be in [1, 90]");
  return true;
}

nlohmann::json DigitsConfig::to_json() const {
  return {{"task", "digits"},
          {"hidden", hidden},
          {"pretrain_steps", pretrain_steps},
          {"finetune_steps", finetune_steps},
          {"batch_size", batch_size},
          {"pretrain_optimizer", to_string(pretrain_optimizer)},
          {"pretrain_lr", pretrain_lr},
          {"finetune_optimizer", to_string(finetune_optimizer)},
          {"finetune_lr", finetune_lr},
          {"method", method},
          {"lora",
           {{"rank", lora.rank},
            {"alpha", lora.alpha},
            {"scaling", to_string(lora.scaling)},
            {"init", to_string(lora.init)},
            {"targets", lora.targets}}},
          {"eval_every", eval_every},
          {"val_percent", val_percent},
          {"seed", seed}};
}

DigitsData synthetic_digits(int64_t n, uint64_t seed) {
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  const torch::Tensor protos = torch::rand({10, 64}, gen);
  const torch::Tensor y = torch::arange(n, torch::kInt64).remainder(10);
  torch::Tensor x = protos.index_select(0, y) + 0.15 * torch::randn({n, 64}, gen);
  return {x.clamp(0.0, 1.0), y};
}

namespace {

struct Accuracy {
  double acc_restricted = 0, acc_all = 0, loss = 0;
};

/// Accuracy with argmax over classes [lo, hi] and over all classes, and the 10-way loss.
Accuracy evaluate(DigitsMLP& m, const DigitsData& d, int64_t lo, int64_t hi) {
  torch::NoGradGuard ng;
  const torch::Tensor logits = m->forward(d.x);
  Accuracy a;
  a.loss = torch::nn::functional::cross_entropy(logits, d.y).item<double>();
  const torch::Tensor sub = logits.narrow(1, lo, hi - lo + 1).argmax(1) + lo;
  a.acc_restricted = sub.eq(d.y).to(torch::kFloat64).mean().item<double>();
  a.acc_all = logits.argmax(1).eq(d.y).to(torch::kFloat64).mean().item<double>();
  return a;
}

Optimizer make_optimizer(DigitsMLP& m, OptimizerChoice choice, double lr) {
  ParamGroupOptions o;
  o.optimizer = choice;
  o.model_dim = 0;  // no width factor
  o.embedding_regex = "^fc1\\.";
  o.head_regex = "^head\\.";
  o.set_single_lr(lr);
  return Optimizer(build_param_groups(*m, o));
}

}  // namespace

DigitsResult run_digits(const DigitsConfig& cfg, const DigitsData& data,
                        const std::string& out_dir) {
  std::string err;
  if (!cfg.IsValid(&err)) throw std::invalid_argument("invalid digits config: " + err);
  const auto [old_tr, old_va] = split_digits(select_digits(data, 0, 4), cfg.val_percent, cfg.seed);
  const auto [new_tr, new_va] = split_digits(select_digits(data, 5, 9), cfg.val_percent, cfg.seed);
  for (const DigitsData* d : {&old_tr, &old_va, &new_tr, &new_va}) {
    if (d->size() == 0) throw std::invalid_argument("digits data lacks images of some class range");
  }
  std::optional<RunDir> run;
  if (!out_dir.empty()) {
    run.emplace(out_dir, true);
    run->write_config(cfg.to_json());
    run->write_status(RunStatus::kRunning, "", 0);
  }

  torch::manual_seed(cfg.seed);
  DigitsMLP model(cfg.hidden);
  DigitsResult res;
  auto save = [&](int64_t global_step) {
    if (!run) return;
    checkpoint::Checkpoint ck;
    ck.step = global_step;
    ck.config = cfg.to_json();
    ck.parameters = module_parameters(*model);
    checkpoint::write_checkpoint(run->checkpoint_path(global_step), ck);
  };
  auto record = [&](const std::string& phase, int64_t step, double train_loss) {
    DigitsRow r;
    r.phase = phase;
    r.step = step;
    r.train_loss = train_loss;
    const Accuracy o = evaluate(model, old_va, 0, 4), n = evaluate(model, new_va, 5, 9);
    r.old_acc = o.acc_restricted;
    r.old_acc_all = o.acc_all;
    r.old_loss = o.loss;
    r.new_acc = n.acc_restricted;
    r.new_loss = n.loss;
    res.rows.push_back(r);
  };
  auto phase = [&](const std::string& name, const DigitsData& train, OptimizerChoice choice,
                   double lr, int64_t steps, uint64_t phase_id) {
    Optimizer opt = make_optimizer(model, choice, lr);
    record(name, 0, std::nan(""));
    double sum = 0;
    int64_t count = 0;
    for (int64_t s = 0; s < steps; ++s) {
      std::vector<int64_t> idx(static_cast<size_t>(cfg.batch_size));
      for (int64_t i = 0; i < cfg.batch_size; ++i) {
        idx[static_cast<size_t>(i)] = static_cast<int64_t>(
            mix_hash(cfg.seed ^ (phase_id << 32), static_cast<uint64_t>(s), i) %
            static_cast<uint64_t>(train.size()));
      }
      const torch::Tensor t = torch::tensor(idx, torch::kInt64);
      const torch::Tensor loss = torch::nn::functional::cross_entropy(
          model->forward(train.x.index_select(0, t)), train.y.index_select(0, t));
      const double l = loss.item<double>();
      if (!std::isfinite(l)) {
        res.status = RunStatus::kDiverged;
        res.reason = name + ": non-finite loss at step " + std::to_string(s + 1);
        return false;
      }
      loss.backward();
      opt.step();
      opt.zero_grad();
      sum += l;
      ++count;
      if ((s + 1) % cfg.eval_every == 0 || s + 1 == steps) {
        record(name, s + 1, sum / static_cast<double>(count));
        sum = 0;
        count = 0;
      }
    }
    return true;
  };

  save(0);
  bool ok =
      phase("pretrain", old_tr, cfg.pretrain_optimizer, cfg.pretrain_lr, cfg.pretrain_steps, 1);
  if (ok) {
    res.pretrained_old_acc = res.rows.back().old_acc;
    save(cfg.pretrain_steps);
    torch::manual_seed(cfg.seed + 1);
    if (cfg.method == "lora") apply_lora(*model, cfg.lora);
    ok = phase("finetune", new_tr, cfg.finetune_optimizer, cfg.finetune_lr, cfg.finetune_steps, 2);
    if (ok) save(cfg.pretrain_steps + cfg.finetune_steps);
  }
  res.final_old_acc = res.rows.back().old_acc;
  res.final_new_acc = res.rows.back().new_acc;
  res.forgetting = res.pretrained_old_acc - res.final_old_acc;

  if (run) {
    std::string csv = "phase,step,train_loss,old_acc,old_acc_all,new_acc,old_loss,new_loss\n";
    for (const auto& r : res.rows) {
      char buf[256];
      std::snprintf(buf, sizeof buf, "%s,%lld,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", r.phase.c_str(),
                    static_cast<long long>(r.step), r.train_loss, r.old_acc, r.old_acc_all,
                    r.new_acc, r.old_loss, r.new_loss);
      csv += buf;
    }
    write_file_atomic(run->path() + "/digits.csv", csv);
    const nlohmann::json summary = {
        {"pretrained_old_acc", res.pretrained_old_acc}, {"final_old_acc", res.final_old_acc},
        {"final_new_acc", res.final_new_acc},           {"forgetting", res.forgetting},
        {"status", run_status_name(res.status)},        {"reason", res.reason}};
    write_file_atomic(run->path() + "/summary.json", summary.dump(2) + "\n");
    run->write_status(res.status, res.reason, cfg.pretrain_steps + cfg.finetune_steps);
  }
  return res;
}

}  // namespace muft::train

namespace muft::train {

namespace {

DigitsData select_classes(const DigitsData& d, const std::vector<int64_t>& classes) {
  torch::Tensor mask = torch::zeros_like(d.y, torch::kBool);
  for (int64_t c : classes) mask = mask.logical_or(d.y == c);
  return {d.x.index({mask}), d.y.index({mask})};
}

/// Accuracy with argmax restricted to `classes`, and the 10-way cross-entropy.
std::pair<double, double> eval_classes(DigitsMLP& m, const DigitsData& d,
                                       const std::vector<int64_t>& classes) {
  torch::NoGradGuard ng;
  const torch::Tensor logits = m->forward(d.x);
  const double loss = torch::nn::functional::cross_entropy(logits, d.y).item<double>();
  const torch::Tensor idx = torch::tensor(classes, torch::kInt64);
  const torch::Tensor pred = idx.index_select(0, logits.index_select(1, idx).argmax(1));
  return {loss, pred.eq(d.y).to(torch::kFloat64).mean().item<double>()};
}

struct DigitsDiverged {
  std::string reason;
};

}  // namespace

TrainResult run_digits_task(const TrainConfig& cfg_in, const DigitsData& data,
                            const std::string& out_dir, const TrainOptions& opts) {
  TrainConfig cfg = cfg_in;
  cfg.schedule.total_steps = cfg.steps;
  std::string err;
  if (!cfg.IsValid(&err)) throw std::invalid_argument("invalid config: " + err);
  if (cfg.task != "digits") throw std::invalid_argument("run_digits_task needs task digits");
  if (opts.dist && opts.dist->world_size() > 1) {
    throw std::invalid_argument("the digits task runs in one process (no --world-size)");
  }
  if (cfg.method == "lora" && cfg.lora.targets == LoRAOptions{}.targets) {
    cfg.lora.targets = digits_lora_defaults().targets;
  }
  if (cfg.threads > 0) torch::set_num_threads(static_cast<int>(cfg.threads));
  RunDir run(out_dir, true);
  if (!opts.resume &&
      (!run.list_checkpoints().empty() || ::access(run.status_path().c_str(), F_OK) == 0)) {
    throw std::invalid_argument("'" + out_dir +
                                "' already holds a run: use --resume to continue it or choose "
                                "another --out");
  }
  const std::vector<int64_t>& old_classes =
      cfg.digits.old_classes.empty() ? cfg.digits.classes : cfg.digits.old_classes;
  const uint64_t split_seed = 0;  // the held-out images do not depend on the run's seed
  const auto [train, val] = split_digits(select_classes(data, cfg.digits.classes),
                                         static_cast<int>(cfg.digits.val_percent), split_seed);
  const DigitsData old_val = split_digits(select_classes(data, old_classes),
                                          static_cast<int>(cfg.digits.val_percent), split_seed)
                                 .second;
  if (train.size() == 0 || val.size() == 0 || old_val.size() == 0) {
    throw std::invalid_argument("the digits data has no images of the requested classes");
  }

  TrainResult result;
  DigitsMLP model{nullptr};
  checkpoint::Checkpoint resume_ckpt;
  bool resuming = false;
  try {
    if (opts.resume) {
      const auto ck = run.list_checkpoints();
      if (ck.empty()) throw std::runtime_error("'" + out_dir + "' holds no checkpoint to resume");
      resume_ckpt = checkpoint::read_checkpoint(ck.back().second);
      resuming = true;
    }
    if (cfg.mode == "finetune" && !resuming) {
      const checkpoint::Checkpoint base = checkpoint::read_checkpoint(cfg.init_from);
      const auto& bc = base.config;
      if (!bc.is_object() || bc.value("task", "") != "digits" || !bc.contains("digits")) {
        throw std::runtime_error("checkpoint '" + cfg.init_from + "' is not a digits model");
      }
      cfg.digits.hidden = bc.at("digits").at("hidden").get<int64_t>();
      torch::manual_seed(cfg.seed);
      model = DigitsMLP(cfg.digits.hidden);
      load_module_parameters(*model, base.parameters, true);
      torch::manual_seed(cfg.seed);
      if (cfg.method == "lora") apply_lora(*model, cfg.lora);
    } else {
      torch::manual_seed(cfg.seed);
      model = DigitsMLP(cfg.digits.hidden);
      if (cfg.mode == "finetune" && cfg.method == "lora") apply_lora(*model, cfg.lora);
      if (resuming) load_module_parameters(*model, resume_ckpt.parameters, true);
    }
  } catch (const std::exception& e) {
    run.write_status(RunStatus::kFailed, e.what(), 0);
    throw;
  }
  result.num_parameters = 0;
  std::vector<torch::Tensor> trainable;
  for (const auto& p : model->parameters()) {
    result.num_parameters += p.numel();
    if (p.requires_grad()) {
      trainable.push_back(p);
      result.trainable_parameters += p.numel();
    }
  }
  ParamGroupOptions po = cfg.optim;
  po.model_dim = 0;
  po.embedding_regex = "^fc1\\.";
  po.head_regex = "^head\\.";
  po.set_single_lr(cfg.optim.matrix_lr);
  Optimizer opt(build_param_groups(*model, po));
  int64_t step = 0;
  double seconds_offset = 0;
  std::vector<MetricsRow> metrics;
  std::string acc_csv = "step,val_acc,old_val_acc\n";
  if (resuming) {
    load_optimizer_state(opt, resume_ckpt.optimizer_state);
    set_cpu_rng_state(resume_ckpt.rng_state);
    step = resume_ckpt.step;
    if (resume_ckpt.metrics.contains("seconds")) {
      seconds_offset = resume_ckpt.metrics.at("seconds").get<double>();
    }
    for (const auto& r : run.read_metrics()) {
      if (r.step <= step) metrics.push_back(r);
    }
    try {
      std::istringstream in(read_file(run.path() + "/digits.csv"));
      std::string line;
      std::getline(in, line);
      while (std::getline(in, line)) {
        if (!line.empty() && std::stoll(line.substr(0, line.find(','))) <= step) {
          acc_csv += line + "\n";
        }
      }
    } catch (const std::exception&) {
    }
  }
  run.write_config(cfg.to_json());
  run.write_status(RunStatus::kRunning, "", step,
                   {{"pid", static_cast<int64_t>(::getpid())},
                    {"num_parameters", result.num_parameters},
                    {"trainable_parameters", result.trainable_parameters}});
  const auto t0 = std::chrono::steady_clock::now();
  double last_val_acc = 0, last_old_acc = 0;
  auto evaluate = [&](double train_loss, double lr) {
    MetricsRow r;
    r.step = step;
    r.tokens = step * cfg.batch_size;
    r.lr = lr;
    r.train_loss = train_loss;
    const auto [vl, va] = eval_classes(model, val, cfg.digits.classes);
    const auto [ol, oa] = eval_classes(model, old_val, old_classes);
    r.val_loss = vl;
    r.val_ppl = std::exp(vl);
    r.old_val_loss = ol;
    r.old_val_ppl = std::exp(ol);
    r.seconds = seconds_offset +
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    last_val_acc = va;
    last_old_acc = oa;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%lld,%.9g,%.9g\n", static_cast<long long>(step), va, oa);
    acc_csv += buf;
    return r;
  };
  auto save = [&](const MetricsRow& r) {
    metrics.push_back(r);
    run.write_metrics(metrics);
    write_file_atomic(run.path() + "/digits.csv", acc_csv);
    checkpoint::Checkpoint ck;
    ck.step = step;
    ck.config = cfg.to_json();
    ck.metrics = {{"step", r.step},          {"train_loss", r.train_loss},
                  {"val_loss", r.val_loss},  {"old_val_loss", r.old_val_loss},
                  {"val_acc", last_val_acc}, {"old_val_acc", last_old_acc},
                  {"seconds", r.seconds}};
    ck.parameters = module_parameters(*model);
    ck.optimizer_state = optimizer_state(opt);
    ck.rng_state = cpu_rng_state();
    checkpoint::write_checkpoint(run.checkpoint_path(step), ck);
  };
  auto lr_at = [&](int64_t s) {
    return opt.groups().front().lr() * lr_multiplier(cfg.schedule, s);
  };
  try {
    if (!resuming) save(evaluate(std::nan(""), lr_at(0)));
    double sum = 0;
    int64_t count = 0;
    while (step < cfg.steps) {
      const double mult = lr_multiplier(cfg.schedule, step);
      opt.set_lr_multiplier(mult);
      std::vector<int64_t> idx(static_cast<size_t>(cfg.batch_size));
      for (int64_t i = 0; i < cfg.batch_size; ++i) {
        idx[static_cast<size_t>(i)] =
            static_cast<int64_t>(mix_hash(cfg.seed, static_cast<uint64_t>(step), i) %
                                 static_cast<uint64_t>(train.size()));
      }
      const torch::Tensor t = torch::tensor(idx, torch::kInt64);
      const torch::Tensor loss = torch::nn::functional::cross_entropy(
          model->forward(train.x.index_select(0, t)), train.y.index_select(0, t));
      const double l = loss.item<double>();
      if (!std::isfinite(l))
        throw DigitsDiverged{"non-finite training loss at step " + std::to_string(step + 1)};
      loss.backward();
      if (cfg.grad_clip > 0) torch::nn::utils::clip_grad_norm_(trainable, cfg.grad_clip);
      opt.step();
      opt.zero_grad();
      ++step;
      for (const auto& p : trainable) {
        if (!torch::isfinite(p).all().item<bool>()) {
          throw DigitsDiverged{"non-finite parameters after step " + std::to_string(step)};
        }
      }
      sum += l;
      ++count;
      const bool is_eval = step % cfg.eval_every == 0 || step == cfg.steps;
      if (is_eval) {
        const MetricsRow r = evaluate(sum / static_cast<double>(count), lr_at(step - 1));
        if (!std::isfinite(r.val_loss)) {
          throw DigitsDiverged{"non-finite validation loss at step " + std::to_string(step)};
        }
        sum = 0;
        count = 0;
        save(r);
        run.write_status(RunStatus::kRunning, "", step);
        if (opts.log_evals) {
          std::printf("step %lld/%lld | train %.4f | val %.4f acc %.3f | old %.4f acc %.3f\n",
                      static_cast<long long>(step), static_cast<long long>(cfg.steps), r.train_loss,
                      r.val_loss, last_val_acc, r.old_val_loss, last_old_acc);
          std::fflush(stdout);
        }
        result.last_val_loss = r.val_loss;
        result.last_old_val_loss = r.old_val_loss;
        if (opts.stop_after_step >= 0 && step >= opts.stop_after_step && step < cfg.steps) {
          result.step = step;
          result.reason = "stopped after step " + std::to_string(step);
          return result;
        }
      }
    }
  } catch (const DigitsDiverged& d) {
    result.status = RunStatus::kDiverged;
    result.reason = d.reason;
    result.step = step;
    result.exit_code = kExitDiverged;
    const auto ck = run.list_checkpoints();
    run.write_status(RunStatus::kDiverged, d.reason, step,
                     {{"last_good_checkpoint", ck.empty() ? "" : ck.back().second}});
    return result;
  } catch (const std::exception& e) {
    run.write_status(RunStatus::kFailed, e.what(), step);
    throw;
  }
  result.status = RunStatus::kCompleted;
  result.step = step;
  run.write_status(RunStatus::kCompleted, "", step,
                   {{"final_val_loss", result.last_val_loss},
                    {"final_old_val_loss", result.last_old_val_loss},
                    {"final_val_acc", last_val_acc},
                    {"final_old_val_acc", last_old_acc},
                    {"num_parameters", result.num_parameters},
                    {"trainable_parameters", result.trainable_parameters}});
  return result;
}

}  // namespace muft::train
