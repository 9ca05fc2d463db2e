#include "muft/train/digits.h"

#include <cmath>
#include <optional>
#include <sstream>
#include <stdexcept>

#include <ATen/CPUGeneratorImpl.h>

#include "muft/train/data.h"
#include "muft/train/optim.h"
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
