#include "muft/train/config.h"

#include <set>
#include <stdexcept>

namespace muft::train {

namespace {

using nlohmann::json;

/// Reads j[key] into *out when present, checking the JSON type; remembers the key.
class Overlay {
 public:
  Overlay(const json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) throw std::invalid_argument(where_ + " must be a JSON object");
  }
  template <class T>
  void get(const char* key, T* out) {
    seen_.insert(key);
    if (!j_.contains(key)) return;
    const json& v = j_.at(key);
    bool ok = false;
    if constexpr (std::is_same_v<T, bool>) {
      ok = v.is_boolean();
    } else if constexpr (std::is_integral_v<T>) {
      ok = v.is_number_integer() || v.is_number_unsigned();
    } else if constexpr (std::is_floating_point_v<T>) {
      ok = v.is_number();
    } else {
      ok = v.is_string();
    }
    if (!ok) throw std::invalid_argument(where_ + key + " has the wrong JSON type");
    *out = v.get<T>();
  }
  /// A sub-object, when present.
  const json* sub(const char* key) {
    seen_.insert(key);
    if (!j_.contains(key)) return nullptr;
    return &j_.at(key);
  }
  /// Throws on any key that was not asked for.
  void finish() const {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (!seen_.count(it.key())) {
        throw std::invalid_argument("unknown config key '" + where_ + it.key() + "'");
      }
    }
  }
  const std::string& where() const { return where_; }

 private:
  const json& j_;
  std::string where_;
  std::set<std::string> seen_;
};

json adamw_json(const AdamWOptions& o) {
  return {{"lr", o.lr},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"eps", o.eps},
          {"weight_decay", o.weight_decay}};
}
void adamw_merge(const json& j, const std::string& where, AdamWOptions* o) {
  Overlay ov(j, where);
  ov.get("lr", &o->lr);
  ov.get("beta1", &o->beta1);
  ov.get("beta2", &o->beta2);
  ov.get("eps", &o->eps);
  ov.get("weight_decay", &o->weight_decay);
  ov.finish();
}

json muon_json(const MuonOptions& o) {
  return {{"lr", o.lr},
          {"momentum", o.momentum},
          {"nesterov", o.nesterov},
          {"variant", to_string(o.variant)},
          {"weight_decay", o.weight_decay},
          {"ns_steps", o.ns.steps},
          {"ns_bf16", o.ns.bf16},
          {"ns_pe_bf16", o.ns.pe_bf16}};
}
void muon_merge(const json& j, const std::string& where, MuonOptions* o) {
  Overlay ov(j, where);
  ov.get("lr", &o->lr);
  ov.get("momentum", &o->momentum);
  ov.get("nesterov", &o->nesterov);
  std::string variant = to_string(o->variant);
  ov.get("variant", &variant);
  o->variant = parse_muon_variant(variant);
  ov.get("weight_decay", &o->weight_decay);
  ov.get("ns_steps", &o->ns.steps);
  ov.get("ns_bf16", &o->ns.bf16);
  ov.get("ns_pe_bf16", &o->ns.pe_bf16);
  ov.finish();
}

}  // namespace

bool TrainConfig::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  std::string sub;
  if (task != "lm" && task != "digits")
    return fail("task must be lm or digits, got '" + task + "'");
  if (task == "digits") {
    if (digits.classes.empty()) return fail("digits.classes is empty");
    for (auto v : digits.classes) {
      if (v < 0 || v > 9) return fail("digits.classes must hold labels 0..9");
    }
    for (auto v : digits.old_classes) {
      if (v < 0 || v > 9) return fail("digits.old_classes must hold labels 0..9");
    }
    if (digits.hidden < 4) return fail("digits.hidden must be >= 4");
    if (digits.val_percent < 1 || digits.val_percent > 90) {
      return fail("digits.val_percent must be in [1, 90]");
    }
  }
  if (mode != "pretrain" && mode != "finetune") {
    return fail("mode must be pretrain or finetune, got '" + mode + "'");
  }
  if (!model.IsValid(&sub)) return fail("model: " + sub);
  if (!optim.IsValid(&sub)) return fail("optim: " + sub);
  if (!schedule.IsValid(&sub)) return fail("schedule: " + sub);
  if (method != "full" && method != "lora") {
    return fail("method must be full or lora, got '" + method + "'");
  }
  if (method == "lora" && !lora.IsValid(&sub)) return fail("lora: " + sub);
  if (method == "lora" && mode != "finetune") return fail("method lora needs mode finetune");
  if (mode == "finetune" && init_from.empty()) {
    return fail("finetune needs init_from (a pretrained checkpoint, --from)");
  }
  if (steps < 1) return fail("steps must be >= 1");
  if (batch_size < 1) return fail("batch_size must be >= 1");
  if (eval_every < 1) return fail("eval_every must be >= 1");
  if (checkpoint_every < 0) return fail("checkpoint_every must be >= 0");
  if (!(grad_clip >= 0)) return fail("grad_clip must be >= 0");
  if (device != "cpu" && device.rfind("cuda", 0) != 0) {
    return fail("device must be cpu or cuda[:N], got '" + device + "'");
  }
  if (threads < 0) return fail("threads must be >= 0");
  if (data.train.empty() || data.val.empty()) return fail("data.train and data.val are required");
  if (data.eval_windows < 0) return fail("data.eval_windows must be >= 0");
  return true;
}

nlohmann::json TrainConfig::to_json() const {
  json lj = {{"rank", lora.rank},
             {"alpha", lora.alpha},
             {"scaling", to_string(lora.scaling)},
             {"init", to_string(lora.init)},
             {"targets", lora.targets}};
  json oj = {{"optimizer", to_string(optim.optimizer)},
             {"matrix_lr", optim.matrix_lr},
             {"embedding_lr", optim.embedding_lr},
             {"unembedding_lr", optim.unembedding_lr},
             {"scalar_lr", optim.scalar_lr},
             {"model_dim", optim.model_dim},
             {"embedding_regex", optim.embedding_regex},
             {"head_regex", optim.head_regex},
             {"adamw_matrix", adamw_json(optim.adamw_matrix)},
             {"adamw_aux", adamw_json(optim.adamw_aux)},
             {"muon", muon_json(optim.muon)}};
  json sj = {{"kind", to_string(schedule.kind)},
             {"total_steps", schedule.total_steps},
             {"warmup_ratio", schedule.warmup_ratio},
             {"warmdown_ratio", schedule.warmdown_ratio},
             {"final_lr_frac", schedule.final_lr_frac}};
  json dj = {{"train", data.train},
             {"val", data.val},
             {"old_val", data.old_val},
             {"eval_windows", data.eval_windows}};
  json gj = {{"data", digits.data},
             {"classes", digits.classes},
             {"old_classes", digits.old_classes},
             {"hidden", digits.hidden},
             {"val_percent", digits.val_percent}};
  return {{"task", task},
          {"digits", gj},
          {"mode", mode},
          {"model", model.to_json()},
          {"optim", oj},
          {"schedule", sj},
          {"method", method},
          {"lora", lj},
          {"init_from", init_from},
          {"steps", steps},
          {"batch_size", batch_size},
          {"seed", seed},
          {"eval_every", eval_every},
          {"checkpoint_every", checkpoint_every},
          {"grad_clip", grad_clip},
          {"device", device},
          {"bf16_autocast", bf16_autocast},
          {"threads", threads},
          {"data", dj}};
}

void TrainConfig::merge_json(const nlohmann::json& j) {
  Overlay ov(j, "");
  ov.get("task", &task);
  if (const json* g = ov.sub("digits")) {
    Overlay go(*g, "digits.");
    go.get("data", &digits.data);
    go.get("hidden", &digits.hidden);
    go.get("val_percent", &digits.val_percent);
    for (const char* key : {"classes", "old_classes"}) {
      if (const json* a = go.sub(key)) {
        if (!a->is_array())
          throw std::invalid_argument(std::string("digits.") + key + " must be an array");
        std::vector<int64_t> v;
        for (const auto& e : *a) {
          if (!e.is_number_integer())
            throw std::invalid_argument(std::string("digits.") + key + " must hold integers");
          v.push_back(e.get<int64_t>());
        }
        (std::string(key) == "classes" ? digits.classes : digits.old_classes) = v;
      }
    }
    go.finish();
  }
  ov.get("mode", &mode);
  if (const json* m = ov.sub("model")) {
    json merged = model.to_json();
    if (!m->is_object()) throw std::invalid_argument("model must be a JSON object");
    merged.update(*m);
    model = GPTConfig::from_json(merged);
  }
  if (const json* o = ov.sub("optim")) {
    Overlay oo(*o, "optim.");
    std::string opt = to_string(optim.optimizer);
    oo.get("optimizer", &opt);
    optim.optimizer = parse_optimizer_choice(opt);
    oo.get("matrix_lr", &optim.matrix_lr);
    oo.get("embedding_lr", &optim.embedding_lr);
    oo.get("unembedding_lr", &optim.unembedding_lr);
    oo.get("scalar_lr", &optim.scalar_lr);
    oo.get("model_dim", &optim.model_dim);
    oo.get("embedding_regex", &optim.embedding_regex);
    oo.get("head_regex", &optim.head_regex);
    if (const json* a = oo.sub("adamw_matrix")) {
      adamw_merge(*a, "optim.adamw_matrix.", &optim.adamw_matrix);
    }
    if (const json* a = oo.sub("adamw_aux")) adamw_merge(*a, "optim.adamw_aux.", &optim.adamw_aux);
    if (const json* a = oo.sub("muon")) muon_merge(*a, "optim.muon.", &optim.muon);
    oo.finish();
  }
  if (const json* s = ov.sub("schedule")) {
    Overlay so(*s, "schedule.");
    std::string kind = to_string(schedule.kind);
    so.get("kind", &kind);
    schedule.kind = parse_schedule_kind(kind);
    so.get("total_steps", &schedule.total_steps);
    so.get("warmup_ratio", &schedule.warmup_ratio);
    so.get("warmdown_ratio", &schedule.warmdown_ratio);
    so.get("final_lr_frac", &schedule.final_lr_frac);
    so.finish();
  }
  ov.get("method", &method);
  if (const json* l = ov.sub("lora")) {
    Overlay lo(*l, "lora.");
    lo.get("rank", &lora.rank);
    lo.get("alpha", &lora.alpha);
    std::string scaling = to_string(lora.scaling), init = to_string(lora.init);
    lo.get("scaling", &scaling);
    lo.get("init", &init);
    lora.scaling = parse_lora_scaling(scaling);
    lora.init = parse_lora_init(init);
    if (const json* t = lo.sub("targets")) {
      if (!t->is_array()) throw std::invalid_argument("lora.targets must be an array of strings");
      lora.targets.clear();
      for (const auto& e : *t) {
        if (!e.is_string()) throw std::invalid_argument("lora.targets must hold strings");
        lora.targets.push_back(e.get<std::string>());
      }
    }
    lo.finish();
  }
  ov.get("init_from", &init_from);
  ov.get("steps", &steps);
  ov.get("batch_size", &batch_size);
  ov.get("seed", &seed);
  ov.get("eval_every", &eval_every);
  ov.get("checkpoint_every", &checkpoint_every);
  ov.get("grad_clip", &grad_clip);
  ov.get("device", &device);
  ov.get("bf16_autocast", &bf16_autocast);
  ov.get("threads", &threads);
  if (const json* d = ov.sub("data")) {
    Overlay dd(*d, "data.");
    dd.get("train", &data.train);
    dd.get("val", &data.val);
    dd.get("old_val", &data.old_val);
    dd.get("eval_windows", &data.eval_windows);
    dd.finish();
  }
  ov.finish();
  schedule.total_steps = steps;
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j) {
  TrainConfig c;
  c.merge_json(j);
  std::string err;
  if (!c.IsValid(&err)) throw std::invalid_argument("invalid config: " + err);
  return c;
}

TrainConfig tiny_pretrain_config(OptimizerChoice optimizer) {
  TrainConfig c;
  c.mode = "pretrain";
  c.model = tiny_config();
  c.optim.optimizer = optimizer;
  c.optim.model_dim = c.model.n_embd;
  // NanoChat's rates; AdamW on the hidden matrices needs a smaller one than Muon.
  c.optim.matrix_lr = optimizer == OptimizerChoice::kAdamW ? 3e-3 : 0.02;
  c.schedule.kind = ScheduleKind::kLinearWarmdown;
  c.schedule.warmup_ratio = 0.02;
  c.schedule.warmdown_ratio = 0.2;
  c.schedule.final_lr_frac = 0.0;
  c.steps = 1500;
  c.schedule.total_steps = c.steps;
  c.data.train = "data/corpora/gcide/train.txt";
  c.data.val = "data/corpora/gcide/val.txt";
  c.data.old_val = "";
  return c;
}

TrainConfig finetune_config(OptimizerChoice optimizer, double lr) {
  TrainConfig c;
  c.mode = "finetune";
  c.optim.optimizer = optimizer;
  c.optim.set_single_lr(lr);
  c.schedule.kind = ScheduleKind::kCosine;
  c.schedule.warmup_ratio = 0.03;
  c.schedule.final_lr_frac = 0.0;
  c.steps = 300;
  c.schedule.total_steps = c.steps;
  c.eval_every = 50;
  c.data.train = "data/corpora/fortunes/train.txt";
  c.data.val = "data/corpora/fortunes/val.txt";
  c.data.old_val = "data/corpora/gcide/val.txt";
  return c;
}

}  // namespace muft::train
