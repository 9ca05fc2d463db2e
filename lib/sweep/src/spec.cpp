#include "muft/sweep/spec.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#ifndef TOML_HEADER_ONLY
#define TOML_HEADER_ONLY 1
#endif
#include <toml++/toml.h>

#include "toml_shield.h"

namespace muft::sweep {
namespace {

/// Reads typed values from one TOML table and rejects keys it was not asked about.
class TableReader {
 public:
  TableReader(const toml::table& t, std::string where) : t_(t), where_(std::move(where)) {}

  std::string str(const std::string& key, const std::string& def, bool required = false) {
    const toml::node* n = get(key, required);
    if (!n) return def;
    if (auto v = n->value<std::string>()) return detail::unshield(*v);
    fail(key, "a string");
  }
  long integer(const std::string& key, long def) {
    const toml::node* n = get(key, false);
    if (!n) return def;
    if (n->is_integer()) return static_cast<long>(n->as_integer()->get());
    fail(key, "an integer");
  }
  double number(const std::string& key, double def) {
    const toml::node* n = get(key, false);
    if (!n) return def;
    if (n->is_floating_point()) return n->as_floating_point()->get();
    if (n->is_integer()) return static_cast<double>(n->as_integer()->get());
    fail(key, "a number");
  }
  bool boolean(const std::string& key, bool def) {
    const toml::node* n = get(key, false);
    if (!n) return def;
    if (auto v = n->value<bool>()) return *v;
    fail(key, "true or false");
  }
  std::vector<std::string> strings(const std::string& key, std::vector<std::string> def,
                                   bool required = false) {
    const toml::node* n = get(key, required);
    if (!n) return def;
    const toml::array* a = n->as_array();
    if (!a) fail(key, "an array of strings");
    std::vector<std::string> out;
    for (const auto& e : *a) {
      auto v = e.value<std::string>();
      if (!v) fail(key, "an array of strings");
      out.push_back(detail::unshield(*v));
    }
    return out;
  }
  std::vector<long> integers(const std::string& key, std::vector<long> def) {
    const toml::node* n = get(key, false);
    if (!n) return def;
    const toml::array* a = n->as_array();
    if (!a) fail(key, "an array of integers");
    std::vector<long> out;
    for (const auto& e : *a) {
      if (!e.is_integer()) fail(key, "an array of integers");
      out.push_back(static_cast<long>(e.as_integer()->get()));
    }
    return out;
  }
  std::vector<double> numbers(const std::string& key, bool required) {
    const toml::node* n = get(key, required);
    if (!n) return {};
    const toml::array* a = n->as_array();
    if (!a) fail(key, "an array of numbers");
    std::vector<double> out;
    for (const auto& e : *a) {
      if (e.is_floating_point())
        out.push_back(e.as_floating_point()->get());
      else if (e.is_integer())
        out.push_back(static_cast<double>(e.as_integer()->get()));
      else
        fail(key, "an array of numbers");
    }
    return out;
  }
  /// alpha: "2r" or a number, returned as text.
  std::string number_or_string(const std::string& key, const std::string& def) {
    const toml::node* n = get(key, false);
    if (!n) return def;
    if (auto v = n->value<std::string>()) return detail::unshield(*v);
    if (n->is_integer()) return std::to_string(n->as_integer()->get());
    if (n->is_floating_point()) {
      std::ostringstream ss;
      ss.precision(17);
      ss << n->as_floating_point()->get();
      return ss.str();
    }
    fail(key, "a number or \"2r\"");
  }
  const toml::table* table(const std::string& key) {
    const toml::node* n = get(key, false);
    if (!n) return nullptr;
    if (!n->is_table()) fail(key, "a table");
    return n->as_table();
  }
  const toml::array* array(const std::string& key) {
    const toml::node* n = get(key, false);
    if (!n) return nullptr;
    if (!n->is_array()) fail(key, "an array of tables ([[" + key + "]])");
    return n->as_array();
  }
  /// Throws on keys nobody asked for (a typo would otherwise be silently ignored).
  void finish() const {
    for (const auto& [k, v] : t_) {
      (void)v;
      if (!seen_.count(std::string(k.str())))
        throw std::invalid_argument(where_ + ": unknown key '" +
                                    detail::unshield(std::string(k.str())) + "'");
    }
  }
  const std::string& where() const { return where_; }

 private:
  const toml::node* get(const std::string& key, bool required) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (!n && required)
      throw std::invalid_argument(where_ + ": missing required key '" + key + "'");
    return n;
  }
  [[noreturn]] void fail(const std::string& key, const std::string& expected) const {
    throw std::invalid_argument(where_ + ": '" + key + "' must be " + expected);
  }

  const toml::table& t_;
  std::string where_;
  std::set<std::string> seen_;
};

bool valid_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  return true;
}

/// The trainer's --seed is unsigned (docs/cli.md): a negative seed would reach it as "--seed -1".
std::string negative_seed(const std::vector<long>& seeds, const std::string& key) {
  for (long v : seeds)
    if (v < 0) return key + " must be >= 0, got " + std::to_string(v);
  return "";
}

template <class T>
bool has_duplicates(const std::vector<T>& v) {
  return std::set<T>(v.begin(), v.end()).size() != v.size();
}

}  // namespace

bool ExperimentSpec::IsValid(std::string* error) const {
  auto fail = [&](const std::string& msg) {
    if (error) *error = msg;
    return false;
  };
  if (!valid_name(name)) return fail("name must match [A-Za-z0-9._-]+, got '" + name + "'");
  if (out_dir.empty()) return fail("out_dir must not be empty");
  if (pretrain.empty()) return fail("at least one [[pretrain]] group is required");
  std::set<std::string> groups, studies;
  for (const auto& g : pretrain) {
    const std::string w = "pretrain '" + g.name + "': ";
    if (!valid_name(g.name)) return fail("pretrain group name must match [A-Za-z0-9._-]+");
    if (!groups.insert(g.name).second) return fail(w + "duplicate group name");
    if (g.optimizers.empty()) return fail(w + "optimizers must not be empty");
    for (const auto& o : g.optimizers)
      if (!valid_name(o)) return fail(w + "bad optimizer name '" + o + "'");
    if (has_duplicates(g.optimizers)) return fail(w + "repeated optimizer");
    if (g.seeds.empty() || has_duplicates(g.seeds)) return fail(w + "seeds must be distinct, >= 1");
    if (const std::string e = negative_seed(g.seeds, "seeds"); !e.empty()) return fail(w + e);
    if (g.steps < 0 || g.eval_every < 0) return fail(w + "steps and eval_every must be >= 0");
    auto known = [&](const std::string& opt) {
      return std::find(g.optimizers.begin(), g.optimizers.end(), opt) != g.optimizers.end();
    };
    for (const auto& [opt, a] : g.optimizer_args) {
      (void)a;
      if (!known(opt)) return fail(w + "optimizer_args for unknown optimizer '" + opt + "'");
    }
    for (const auto& [opt, lrs] : g.optimizer_lrs) {
      if (!known(opt)) return fail(w + "optimizer_lrs for unknown optimizer '" + opt + "'");
      if (lrs.empty() || has_duplicates(lrs))
        return fail(w + "optimizer_lrs." + opt + " must hold distinct rates");
      for (double lr : lrs)
        if (!(lr > 0.0)) return fail(w + "optimizer_lrs." + opt + ": rates must be > 0");
    }
    if (!g.match_loss_to.empty()) {
      if (!known(g.match_loss_to))
        return fail(w + "match_loss_to names no optimizer of the group: '" + g.match_loss_to + "'");
      if (g.optimizer_lrs.count(g.match_loss_to) && g.optimizer_lrs.at(g.match_loss_to).size() > 1)
        return fail(w + "the optimizer matched to (" + g.match_loss_to + ") must have one rate");
    }
  }
  for (const auto& s : finetune) {
    const std::string w = "finetune '" + s.name + "': ";
    if (!valid_name(s.name)) return fail("finetune study name must match [A-Za-z0-9._-]+");
    if (!studies.insert(s.name).second) return fail(w + "duplicate study name");
    const PretrainGroup* from = nullptr;
    for (const auto& g : pretrain)
      if (g.name == s.from) from = &g;
    if (!from) return fail(w + "'from' names no pretrain group: '" + s.from + "'");
    for (const auto& o : s.from_optimizers) {
      bool ok = false;
      for (const auto& p : from->optimizers) ok = ok || p == o;
      if (!ok)
        return fail(w + "from_optimizers: '" + o + "' is not pretrained in '" + s.from + "'");
    }
    for (long seed : s.from_seeds) {
      bool ok = false;
      for (long p : from->seeds) ok = ok || p == seed;
      if (!ok) return fail(w + "from_seeds: " + std::to_string(seed) + " not in '" + s.from + "'");
    }
    if (s.seeds.empty() || has_duplicates(s.seeds)) return fail(w + "seeds must be distinct, >= 1");
    if (const std::string e = negative_seed(s.seeds, "seeds"); !e.empty()) return fail(w + e);
    if (s.steps < 0 || s.eval_every < 0) return fail(w + "steps and eval_every must be >= 0");
    if (s.methods.empty()) return fail(w + "at least one [[finetune.methods]] is required");
    if (has_duplicates(s.select_seeds)) return fail(w + "select_seeds must be distinct");
    for (long seed : s.select_seeds)
      if (std::find(s.seeds.begin(), s.seeds.end(), seed) != s.seeds.end())
        return fail(w + "select_seeds and seeds overlap (seed " + std::to_string(seed) +
                    "): the reported seeds must be fresh");
    if (s.extend_at_edge < 0 || s.extend_at_edge > 10)
      return fail(w + "extend_at_edge must be in [0, 10]");
    if (!(s.extend_factor > 1.0) || !(s.extend_factor < 1e3))
      return fail(w + "extend_factor must be > 1");
    if (s.extend_at_edge > 0 && s.select_seeds.empty())
      return fail(w + "extend_at_edge needs select_seeds");
    if (!valid_name(s.select_metric))
      return fail(w + "bad select_metric '" + s.select_metric + "'");
    if (!s.lr_from.empty()) {
      const FinetuneStudy* src = nullptr;
      for (const auto& o : finetune)
        if (o.name == s.lr_from) src = &o;
      if (!src || src == &s) return fail(w + "lr_from names no other study: '" + s.lr_from + "'");
      if (src->select_seeds.empty())
        return fail(w + "lr_from study '" + s.lr_from + "' selects no rate (no select_seeds)");
      if (src->from != s.from) return fail(w + "lr_from study starts from another group");
      if (!s.select_seeds.empty()) return fail(w + "lr_from and select_seeds exclude each other");
      for (const auto& m : s.methods) {
        bool found = false;
        for (const auto& o : src->methods) found = found || o.name == m.name;
        if (!found)
          return fail(w + "method '" + m.name + "' is not in the lr_from study '" + s.lr_from +
                      "'");
      }
    }
    std::set<std::string> names;
    for (const auto& m : s.methods) {
      const std::string mw = w + "method '" + m.name + "': ";
      if (!valid_name(m.name)) return fail(w + "method name must match [A-Za-z0-9._-]+");
      if (!names.insert(m.name).second) return fail(mw + "duplicate method name");
      if (m.method != "full" && m.method != "lora")
        return fail(mw + "method must be \"full\" or \"lora\", got '" + m.method + "'");
      if (!valid_name(m.optimizer)) return fail(mw + "bad optimizer '" + m.optimizer + "'");
      if (m.lrs.empty() && s.lr_from.empty()) return fail(mw + "lrs must not be empty");
      for (double lr : m.lrs)
        if (!(lr > 0.0) || lr != lr) return fail(mw + "learning rates must be > 0");
      if (has_duplicates(m.lrs)) return fail(mw + "repeated learning rate");
      if (m.method == "full" && !m.ranks.empty()) return fail(mw + "ranks are for LoRA only");
      for (long r : m.ranks)
        if (r < 1) return fail(mw + "LoRA ranks must be >= 1");
      if (has_duplicates(m.ranks)) return fail(mw + "repeated rank");
      if (m.method == "lora" && m.alpha != "2r") {
        try {
          std::size_t pos = 0;
          const double a = std::stod(m.alpha, &pos);
          if (pos != m.alpha.size() || !(a > 0)) throw std::invalid_argument("");
        } catch (const std::exception&) {
          return fail(mw + "alpha must be \"2r\" or a number > 0, got '" + m.alpha + "'");
        }
      }
    }
  }
  return true;
}

namespace {

/// Resolves the values of path flags ("--config x" or "--config=x") in args against base_dir.
void resolve_paths(std::vector<std::string>* args, const std::vector<std::string>& path_flags,
                   const std::string& base_dir, const std::string& where) {
  namespace fs = std::filesystem;
  auto fix = [&](std::string* value, const std::string& flag) {
    if (value->empty() || value->find('{') != std::string::npos) return;  // a template
    fs::path p(*value);
    if (p.is_relative()) p = fs::path(base_dir) / p;
    p = p.lexically_normal();
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      throw std::invalid_argument(where + ": " + flag + " '" + *value + "' does not exist (" +
                                  p.string() + "; paths in a spec are relative to the spec file)");
    }
    *value = p.string();
  };
  for (std::size_t i = 0; i < args->size(); ++i) {
    std::string& a = (*args)[i];
    for (const auto& flag : path_flags) {
      if (a == flag && i + 1 < args->size()) {
        fix(&(*args)[i + 1], flag);
        ++i;
        break;
      }
      if (a.size() > flag.size() + 1 && a.compare(0, flag.size() + 1, flag + "=") == 0) {
        std::string v = a.substr(flag.size() + 1);
        fix(&v, flag);
        a = flag + "=" + v;
        break;
      }
    }
  }
}

}  // namespace

ExperimentSpec parse_spec(const std::string& toml_text, const std::string& origin,
                          const std::string& base_dir) {
  toml::table root;
  try {
    root = toml::parse(detail::shield(toml_text, origin), origin);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    throw std::invalid_argument(origin + ":" + std::to_string(b.line) + ":" +
                                std::to_string(b.column) + ": " +
                                detail::unshield(std::string(e.description())));
  }
  ExperimentSpec spec;
  spec.source_path = origin;
  spec.source_text = toml_text;
  TableReader r(root, origin);
  spec.name = r.str("name", "", true);
  spec.out_dir = r.str("out_dir", "runs/" + spec.name);
  if (const toml::table* t = r.table("trainer")) {
    TableReader tr(*t, origin + " [trainer]");
    spec.trainer.common_args = tr.strings("args", {});
    spec.trainer.steps_flag = tr.str("steps_flag", spec.trainer.steps_flag);
    spec.trainer.eval_every_flag = tr.str("eval_every_flag", spec.trainer.eval_every_flag);
    spec.trainer.resume_args = tr.strings("resume_args", spec.trainer.resume_args);
    spec.trainer.from_args = tr.strings("from_args", spec.trainer.from_args);
    spec.trainer.path_flags = tr.strings("path_flags", spec.trainer.path_flags);
    tr.finish();
  }
  if (const toml::table* t = r.table("report")) {
    TableReader tr(*t, origin + " [report]");
    spec.report.study = tr.str("study", "");
    spec.report.lora_rank = tr.integer("lora_rank", 0);
    tr.finish();
  }
  if (const toml::array* a = r.array("pretrain")) {
    for (std::size_t i = 0; i < a->size(); ++i) {
      const toml::table* t = (*a)[i].as_table();
      const std::string w = origin + " [[pretrain]] #" + std::to_string(i + 1);
      if (!t) throw std::invalid_argument(w + ": must be a table");
      TableReader g(*t, w);
      PretrainGroup p;
      p.name = g.str("name", "", true);
      p.optimizers = g.strings("optimizers", {}, true);
      p.seeds = g.integers("seeds", {0});
      p.steps = g.integer("steps", 0);
      p.eval_every = g.integer("eval_every", 0);
      p.args = g.strings("args", {});
      if (const toml::table* oa = g.table("optimizer_args")) {
        TableReader o(*oa, w + " optimizer_args");
        for (const auto& [k, v] : *oa) {
          (void)v;
          p.optimizer_args[detail::unshield(std::string(k.str()))] =
              o.strings(std::string(k.str()), {});
        }
        o.finish();
      }
      if (const toml::table* ol = g.table("optimizer_lrs")) {
        TableReader o(*ol, w + " optimizer_lrs");
        for (const auto& [k, v] : *ol) {
          (void)v;
          p.optimizer_lrs[std::string(k.str())] = o.numbers(std::string(k.str()), true);
        }
        o.finish();
      }
      p.match_loss_to = g.str("match_loss_to", "");
      g.finish();
      spec.pretrain.push_back(std::move(p));
    }
  }
  if (const toml::array* a = r.array("finetune")) {
    for (std::size_t i = 0; i < a->size(); ++i) {
      const toml::table* t = (*a)[i].as_table();
      const std::string w = origin + " [[finetune]] #" + std::to_string(i + 1);
      if (!t) throw std::invalid_argument(w + ": must be a table");
      TableReader s(*t, w);
      FinetuneStudy st;
      st.name = s.str("name", "", true);
      st.from = s.str("from", "", true);
      st.from_optimizers = s.strings("from_optimizers", {});
      st.from_seeds = s.integers("from_seeds", {});
      st.seeds = s.integers("seeds", {0});
      st.steps = s.integer("steps", 0);
      st.eval_every = s.integer("eval_every", 0);
      st.args = s.strings("args", {});
      st.select_seeds = s.integers("select_seeds", {});
      st.extend_at_edge = s.integer("extend_at_edge", 0);
      st.extend_factor = s.number("extend_factor", 2.0);
      st.select_metric = s.str("select_metric", "val_loss");
      const std::string m = st.select_metric;
      st.select_maximize =
          s.boolean("select_maximize", m.size() >= 3 && m.compare(m.size() - 3, 3, "acc") == 0);
      st.lr_from = s.str("lr_from", "");
      if (const toml::array* ms = s.array("methods")) {
        for (std::size_t j = 0; j < ms->size(); ++j) {
          const toml::table* mt = (*ms)[j].as_table();
          const std::string mw = w + " [[finetune.methods]] #" + std::to_string(j + 1);
          if (!mt) throw std::invalid_argument(mw + ": must be a table");
          TableReader m(*mt, mw);
          FinetuneMethod fm;
          fm.name = m.str("name", "", true);
          fm.method = m.str("method", "", true);
          fm.optimizer = m.str("optimizer", "", true);
          fm.lrs = m.numbers("lrs", st.lr_from.empty());
          fm.ranks = m.integers("ranks", {});
          fm.alpha = m.number_or_string("alpha", "2r");
          fm.lora_scale = m.str("lora_scale", "");
          fm.init = m.str("init", "");
          fm.args = m.strings("args", {});
          m.finish();
          st.methods.push_back(std::move(fm));
        }
      }
      s.finish();
      spec.finetune.push_back(std::move(st));
    }
  }
  r.finish();
  std::string error;
  if (!spec.IsValid(&error)) throw std::invalid_argument(origin + ": " + error);
  if (!base_dir.empty()) {
    const auto& pf = spec.trainer.path_flags;
    resolve_paths(&spec.trainer.common_args, pf, base_dir, origin + " [trainer] args");
    for (std::size_t i = 0; i < spec.pretrain.size(); ++i) {
      auto& g = spec.pretrain[i];
      const std::string w = origin + " [[pretrain]] " + g.name;
      resolve_paths(&g.args, pf, base_dir, w + " args");
      for (auto& [opt, a] : g.optimizer_args) resolve_paths(&a, pf, base_dir, w + " " + opt);
    }
    for (auto& st : spec.finetune) {
      const std::string w = origin + " [[finetune]] " + st.name;
      resolve_paths(&st.args, pf, base_dir, w + " args");
      for (auto& m : st.methods) resolve_paths(&m.args, pf, base_dir, w + " " + m.name);
    }
  }
  return spec;
}

ExperimentSpec load_spec(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open experiment spec '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string dir = std::filesystem::absolute(path).lexically_normal().parent_path().string();
  return parse_spec(ss.str(), path, dir);
}

}  // namespace muft::sweep
