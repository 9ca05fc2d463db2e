#include "muft/train/config.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <thread>

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

json health_json(const HealthOptions& h) {
  return {{"enabled", h.enabled},
          {"divergence_margin", h.divergence_margin},
          {"divergence_window", h.divergence_window},
          {"collapse_tolerance", h.collapse_tolerance},
          {"collapse_start_gap", h.collapse_start_gap},
          {"collapse_spread", h.collapse_spread}};
}
void health_merge(const json& j, HealthOptions* h) {
  Overlay ov(j, "health.");
  ov.get("enabled", &h->enabled);
  ov.get("divergence_margin", &h->divergence_margin);
  ov.get("divergence_window", &h->divergence_window);
  ov.get("collapse_tolerance", &h->collapse_tolerance);
  ov.get("collapse_start_gap", &h->collapse_start_gap);
  ov.get("collapse_spread", &h->collapse_spread);
  ov.finish();
}

/// Reads a string key and parses it into an enum (the one place strings become enums).
template <class E>
void get_enum(Overlay& ov, const char* key, E* out, E (*parse)(const std::string&),
              std::string (*name)(E)) {
  std::string s = name(*out);
  ov.get(key, &s);
  try {
    *out = parse(s);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(ov.where() + key + ": " + e.what());
  }
}

template <class E, std::size_t N>
E parse_named(const std::string& s, const std::pair<E, const char*> (&table)[N], const char* what) {
  std::string accepted;
  for (const auto& [e, n] : table) {
    if (s == n) return e;
    accepted += (accepted.empty() ? "" : ", ") + std::string(n);
  }
  throw std::invalid_argument(std::string("unknown ") + what + " '" + s + "' (expected " +
                              accepted + ")");
}
template <class E, std::size_t N>
std::string name_of(E v, const std::pair<E, const char*> (&table)[N]) {
  for (const auto& [e, n] : table)
    if (e == v) return n;
  return "?";
}
template <class E, std::size_t N>
std::vector<std::string> names_of(const std::pair<E, const char*> (&table)[N]) {
  std::vector<std::string> out;
  for (const auto& kv : table) out.emplace_back(kv.second);
  return out;
}

const std::pair<TaskKind, const char*> kTaskNames[] = {{TaskKind::kLanguageModel, "lm"},
                                                       {TaskKind::kDigits, "digits"}};
const std::pair<Mode, const char*> kModeNames[] = {{Mode::kPretrain, "pretrain"},
                                                   {Mode::kFinetune, "finetune"}};
const std::pair<Method, const char*> kMethodNames[] = {{Method::kFull, "full"},
                                                       {Method::kLoRA, "lora"}};
const std::pair<DigitsClassifier, const char*> kClassifierNames[] = {
    {DigitsClassifier::kHead, "head"}, {DigitsClassifier::kClassMeans, "class_means"}};

}  // namespace

std::string to_string(TaskKind t) {
  return name_of(t, kTaskNames);
}
std::string to_string(Mode m) {
  return name_of(m, kModeNames);
}
std::string to_string(Method m) {
  return name_of(m, kMethodNames);
}
std::string to_string(DigitsClassifier c) {
  return name_of(c, kClassifierNames);
}
TaskKind parse_task_kind(const std::string& s) {
  return parse_named(s, kTaskNames, "task");
}
Mode parse_mode(const std::string& s) {
  return parse_named(s, kModeNames, "mode");
}
Method parse_method(const std::string& s) {
  return parse_named(s, kMethodNames, "method");
}
DigitsClassifier parse_digits_classifier(const std::string& s) {
  return parse_named(s, kClassifierNames, "digits classifier");
}
std::vector<std::string> task_kind_names() {
  return names_of(kTaskNames);
}
std::vector<std::string> method_names() {
  return names_of(kMethodNames);
}

int64_t Limits::max_threads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return std::max<int64_t>(64, 4 * static_cast<int64_t>(hw));
}

bool HealthOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (!(divergence_margin > 0) || !std::isfinite(divergence_margin))
    return fail("health.divergence_margin must be a finite number > 0");
  if (divergence_window < 1 || divergence_window > Limits::kMaxSteps)
    return fail("health.divergence_window must be in [1, 1e9]");
  if (!(collapse_tolerance >= 0) || !std::isfinite(collapse_tolerance))
    return fail("health.collapse_tolerance must be a finite number >= 0");
  if (!(collapse_start_gap >= 0) || !std::isfinite(collapse_start_gap))
    return fail("health.collapse_start_gap must be a finite number >= 0");
  if (!(collapse_spread >= 0) || !std::isfinite(collapse_spread))
    return fail("health.collapse_spread must be a finite number >= 0");
  return true;
}

bool TrainConfig::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  std::string sub;
  if (task == TaskKind::kDigits) {
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
    if (digits.hidden > 65536) return fail("digits.hidden must be <= 65536");
    if (!(digits.temperature > 0) || !std::isfinite(digits.temperature))
      return fail("digits.temperature must be a finite number > 0");
    if (digits.data.empty()) return fail("digits.data is required");
  }
  if (!model.IsValid(&sub)) return fail("model: " + sub);
  if (!optim.IsValid(&sub)) return fail("optim: " + sub);
  if (!schedule.IsValid(&sub)) return fail("schedule: " + sub);
  if (method == Method::kLoRA && !lora.IsValid(&sub)) return fail("lora: " + sub);
  if (method == Method::kLoRA && mode != Mode::kFinetune) {
    return fail("method lora needs mode finetune");
  }
  if (mode == Mode::kFinetune && init_from.empty()) {
    return fail("finetune needs init_from (a pretrained checkpoint, --from)");
  }
  if (steps < 1 || steps > Limits::kMaxSteps) return fail("steps must be in [1, 1e9]");
  if (batch_size < 1 || batch_size > Limits::kMaxBatch) {
    return fail("batch_size must be in [1, " + std::to_string(Limits::kMaxBatch) + "]");
  }
  if (eval_every < 1 || eval_every > Limits::kMaxSteps)
    return fail("eval_every must be in [1, 1e9]");
  if (checkpoint_every < 0 || checkpoint_every > Limits::kMaxSteps) {
    return fail("checkpoint_every must be in [0, 1e9]");
  }
  if (!(grad_clip >= 0) || !std::isfinite(grad_clip)) return fail("grad_clip must be >= 0");
  if (device != "cpu" && device.rfind("cuda", 0) != 0) {
    return fail("device must be cpu or cuda[:N], got '" + device + "'");
  }
  if (threads < 0 || threads > Limits::max_threads()) {
    return fail("threads must be in [0, " + std::to_string(Limits::max_threads()) +
                "] (0 = LibTorch's default), got " + std::to_string(threads));
  }
  if (task == TaskKind::kLanguageModel && (data.train.empty() || data.val.empty())) {
    return fail("data.train and data.val are required");
  }
  if (data.eval_windows < 0 || data.eval_windows > Limits::kMaxEvalWindows) {
    return fail("data.eval_windows must be in [0, 1e7]");
  }
  if (!health.IsValid(&sub)) return fail(sub);
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
             {"val_percent", digits.val_percent},
             {"classifier", to_string(digits.classifier)},
             {"temperature", digits.temperature}};
  return {{"task", to_string(task)},
          {"digits", gj},
          {"mode", to_string(mode)},
          {"model", model.to_json()},
          {"optim", oj},
          {"schedule", sj},
          {"method", to_string(method)},
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
          {"data", dj},
          {"health", health_json(health)}};
}

void TrainConfig::merge_json(const nlohmann::json& j) {
  Overlay ov(j, "");
  get_enum(ov, "task", &task, parse_task_kind, to_string);
  if (const json* g = ov.sub("digits")) {
    Overlay go(*g, "digits.");
    go.get("data", &digits.data);
    go.get("hidden", &digits.hidden);
    go.get("val_percent", &digits.val_percent);
    get_enum(go, "classifier", &digits.classifier, parse_digits_classifier, to_string);
    go.get("temperature", &digits.temperature);
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
  get_enum(ov, "mode", &mode, parse_mode, to_string);
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
  get_enum(ov, "method", &method, parse_method, to_string);
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
  if (const json* h = ov.sub("health")) health_merge(*h, &health);
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
  c.mode = Mode::kPretrain;
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
  c.data.train = "gcide/train.txt";
  c.data.val = "gcide/val.txt";
  c.data.old_val = "";
  return c;
}

TrainConfig finetune_config(OptimizerChoice optimizer, double lr) {
  TrainConfig c;
  c.mode = Mode::kFinetune;
  c.optim.optimizer = optimizer;
  c.optim.set_single_lr(lr);
  c.schedule.kind = ScheduleKind::kCosine;
  c.schedule.warmup_ratio = 0.03;
  c.schedule.final_lr_frac = 0.0;
  c.steps = 300;
  c.schedule.total_steps = c.steps;
  c.eval_every = 50;
  c.data.train = "fortunes/train.txt";
  c.data.val = "fortunes/val.txt";
  c.data.old_val = "gcide/val.txt";
  return c;
}

TrainConfig digits_config(Mode mode, OptimizerChoice optimizer, double lr, int64_t steps) {
  TrainConfig c;
  c.task = TaskKind::kDigits;
  c.mode = mode;
  c.optim.optimizer = optimizer;
  c.optim.set_single_lr(lr);
  c.schedule.kind = ScheduleKind::kConstant;
  c.schedule.warmup_ratio = 0.0;
  c.steps = steps;
  c.schedule.total_steps = steps;
  c.batch_size = 64;
  c.eval_every = 25;
  if (mode == Mode::kFinetune) {
    c.digits.classes = {5, 6, 7, 8, 9};
    c.digits.old_classes = {0, 1, 2, 3, 4};
  }
  return c;
}

}  // namespace muft::train
