#include "muft/sweep/grid.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

#include <fmt/core.h>

#include "muft/rundir/inspect.h"
#include "muft/rundir/run_dir.h"

namespace muft::sweep {

const char* to_string(RunKind kind) {
  return kind == RunKind::kPretrain ? "pretrain" : "finetune";
}

std::string format_number(double x) {
  return fmt::format("{}", x);
}

namespace {

void add_steps(const TrainerInterface& t, long steps, long eval_every,
               std::vector<std::string>* args) {
  if (steps > 0 && !t.steps_flag.empty()) {
    args->push_back(t.steps_flag);
    args->push_back(std::to_string(steps));
  }
  if (eval_every > 0 && !t.eval_every_flag.empty()) {
    args->push_back(t.eval_every_flag);
    args->push_back(std::to_string(eval_every));
  }
}

void append(std::vector<std::string>* a, const std::vector<std::string>& b) {
  a->insert(a->end(), b.begin(), b.end());
}

/// a * b and a + b, saturating at SIZE_MAX.
std::size_t mul(std::size_t a, std::size_t b) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a)
    return std::numeric_limits<std::size_t>::max();
  return a * b;
}
std::size_t add(std::size_t a, std::size_t b) {
  return b > std::numeric_limits<std::size_t>::max() - a ? std::numeric_limits<std::size_t>::max()
                                                         : a + b;
}

template <class T>
std::size_t count_selected(const std::vector<T>& all, const std::vector<T>& only) {
  if (only.empty()) return all.size();
  std::size_t n = 0;
  for (const auto& x : all) n += std::find(only.begin(), only.end(), x) != only.end();
  return n;
}

}  // namespace

namespace {

/// A pretrained model fine-tuning studies start from.
struct Parent {
  std::string id;     ///< its pretraining run id
  std::string label;  ///< its part of fine-tuning ids, e.g. "lm-adam-s0"
  std::string optimizer;
  long seed = 0;
  double lr = std::numeric_limits<double>::quiet_NaN();
};

/// The lr grid of one pretraining optimizer (one NaN entry: the trainer's default rate).
std::vector<double> pretrain_lrs(const PretrainGroup& g, const std::string& opt) {
  const auto it = g.optimizer_lrs.find(opt);
  if (it == g.optimizer_lrs.end()) return {std::numeric_limits<double>::quiet_NaN()};
  return it->second;
}

bool has_lr_grid(const PretrainGroup& g, const std::string& opt) {
  return g.optimizer_lrs.count(opt) > 0;
}

std::string pretrain_label(const PretrainGroup& g, const std::string& opt, double lr, long seed) {
  return has_lr_grid(g, opt) ? fmt::format("{}-lr{}-s{}", opt, format_number(lr), seed)
                             : fmt::format("{}-s{}", opt, seed);
}

class Expander {
 public:
  Expander(const ExperimentSpec& spec, const OutcomeFn& outcome) : spec_(spec), outcome_(outcome) {}

  void expand() {
    for (const auto& g : spec_.pretrain) pretraining(g);
    for (const auto& s : spec_.finetune) study(s);
    std::set<std::string> ids;
    for (auto& r : runs) {
      if (!ids.insert(r.id).second)
        throw std::invalid_argument("two runs share the id '" + r.id + "'");
      r.dir = spec_.out_dir + "/" + r.id;
    }
  }

  std::vector<RunSpec> runs;
  std::vector<LrSelection> selections;

 private:
  RunOutcome outcome(const RunSpec& r, const std::string& metric) const {
    if (!outcome_) return {};
    RunSpec withdir = r;
    withdir.dir = spec_.out_dir + "/" + r.id;
    return outcome_(withdir, metric);
  }

  void pretraining(const PretrainGroup& g) {
    for (const auto& opt : g.optimizers) {
      for (double lr : pretrain_lrs(g, opt)) {
        for (long seed : g.seeds) {
          RunSpec r;
          r.kind = RunKind::kPretrain;
          r.id = fmt::format("pretrain/{}/{}", g.name, pretrain_label(g, opt, lr, seed));
          r.group = g.name;
          r.pretrain_optimizer = r.optimizer = opt;
          r.pretrain_seed = r.seed = seed;
          r.pretrain_lr = lr;
          r.steps = g.steps;
          r.args = {"pretrain", "--optimizer", opt, "--seed", std::to_string(seed)};
          if (has_lr_grid(g, opt)) {
            r.args.push_back("--lr");
            r.args.push_back(format_number(lr));
          }
          add_steps(spec_.trainer, g.steps, g.eval_every, &r.args);
          append(&r.args, g.args);
          if (auto it = g.optimizer_args.find(opt); it != g.optimizer_args.end())
            append(&r.args, it->second);
          append(&r.args, spec_.trainer.common_args);
          runs.push_back(std::move(r));
        }
      }
    }
  }

  /// The pretrained models of a group that fine-tuning may start from now.
  std::vector<Parent> parents(const PretrainGroup& g, const FinetuneStudy& s) const {
    std::vector<Parent> out;
    for (const auto& opt : g.optimizers) {
      if (!s.from_optimizers.empty() &&
          std::find(s.from_optimizers.begin(), s.from_optimizers.end(), opt) ==
              s.from_optimizers.end())
        continue;
      for (long seed : g.seeds) {
        if (!s.from_seeds.empty() &&
            std::find(s.from_seeds.begin(), s.from_seeds.end(), seed) == s.from_seeds.end())
          continue;
        auto make = [&](double lr) {
          const std::string label = pretrain_label(g, opt, lr, seed);
          return Parent{fmt::format("pretrain/{}/{}", g.name, label),
                        fmt::format("{}-{}", g.name, label), opt, seed, lr};
        };
        const std::vector<double> lrs = pretrain_lrs(g, opt);
        if (g.match_loss_to.empty() || opt == g.match_loss_to || lrs.size() < 2) {
          for (double lr : lrs) out.push_back(make(lr));
          continue;
        }
        // The rate whose final validation loss is closest to the reference optimizer's.
        const Parent ref = make_ref(g, seed);
        const RunOutcome ro = outcome(run_stub(ref.id), "val_loss");
        if (!ro.finished || !ro.usable) continue;  // pending, or nothing to match
        double best = std::numeric_limits<double>::infinity(), best_lr = 0;
        bool pending = false;
        for (double lr : lrs) {
          const RunOutcome o = outcome(run_stub(make(lr).id), "val_loss");
          if (!o.finished) pending = true;
          if (o.usable && std::fabs(o.value - ro.value) < best) {
            best = std::fabs(o.value - ro.value);
            best_lr = lr;
          }
        }
        if (!pending && std::isfinite(best)) out.push_back(make(best_lr));
      }
    }
    return out;
  }

  Parent make_ref(const PretrainGroup& g, long seed) const {
    const double lr = pretrain_lrs(g, g.match_loss_to).front();
    const std::string label = pretrain_label(g, g.match_loss_to, lr, seed);
    return Parent{fmt::format("pretrain/{}/{}", g.name, label), "", g.match_loss_to, seed, lr};
  }

  static RunSpec run_stub(const std::string& id) {
    RunSpec r;
    r.id = id;
    return r;
  }

  RunSpec finetune_run(const FinetuneStudy& s, const FinetuneMethod& m, const PretrainGroup& g,
                       const Parent& p, long rank, double lr, long seed, RunRole role) const {
    RunSpec r;
    r.kind = RunKind::kFinetune;
    r.role = role;
    const std::string mdir = rank > 0 ? fmt::format("{}-r{}", m.name, rank) : m.name;
    r.id =
        fmt::format("finetune/{}/{}/{}/lr{}-s{}", s.name, p.label, mdir, format_number(lr), seed);
    r.depends_on = p.id;
    r.group = g.name;
    r.study = s.name;
    r.pretrain_optimizer = p.optimizer;
    r.pretrain_seed = p.seed;
    r.pretrain_lr = p.lr;
    r.method_name = m.name;
    r.method = m.method;
    r.optimizer = m.optimizer;
    r.lr = lr;
    r.rank = rank;
    r.seed = seed;
    r.steps = s.steps;
    r.args = {"finetune", "--method",        m.method, "--optimizer",       m.optimizer,
              "--lr",     format_number(lr), "--seed", std::to_string(seed)};
    if (m.method == "lora") {
      if (rank > 0) {
        r.args.push_back("--rank");
        r.args.push_back(std::to_string(rank));
        r.alpha = m.alpha == "2r" ? 2.0 * static_cast<double>(rank) : std::stod(m.alpha);
      } else if (m.alpha != "2r") {
        r.alpha = std::stod(m.alpha);
      }
      if (r.alpha > 0) {
        r.args.push_back("--alpha");
        r.args.push_back(format_number(r.alpha));
      }
      if (!m.lora_scale.empty()) {
        r.args.push_back("--lora-scale");
        r.args.push_back(m.lora_scale);
      }
      if (!m.init.empty()) {
        r.args.push_back("--init");
        r.args.push_back(m.init);
      }
    }
    add_steps(spec_.trainer, s.steps, s.eval_every, &r.args);
    append(&r.args, s.args);
    append(&r.args, m.args);
    append(&r.args, spec_.trainer.common_args);
    return r;
  }

  const LrSelection* find_selection(const std::string& study, const std::string& parent,
                                    const std::string& method) const {
    for (const auto& sel : selections)
      if (sel.study == study && sel.parent == parent && sel.method_name == method) return &sel;
    return nullptr;
  }

  void study(const FinetuneStudy& s) {
    const PretrainGroup* g = nullptr;
    for (const auto& q : spec_.pretrain)
      if (q.name == s.from) g = &q;
    if (!g) throw std::invalid_argument("finetune '" + s.name + "': unknown group " + s.from);
    for (const Parent& p : parents(*g, s)) {
      for (const auto& m : s.methods) {
        std::vector<long> ranks = m.ranks;
        if (ranks.empty()) ranks = {0};
        for (long rank : ranks) {
          if (!s.lr_from.empty()) {
            const LrSelection* src = find_selection(s.lr_from, p.id, m.name);
            if (!src || !std::isfinite(src->chosen)) continue;  // not chosen (yet)
            for (long seed : s.seeds)
              runs.push_back(finetune_run(s, m, *g, p, rank, src->chosen, seed, RunRole::kReport));
          } else if (s.select_seeds.empty()) {
            for (double lr : m.lrs)
              for (long seed : s.seeds)
                runs.push_back(finetune_run(s, m, *g, p, rank, lr, seed, RunRole::kGrid));
          } else {
            select(s, m, *g, p, rank);
          }
        }
      }
    }
  }

  /// One selection: its selection runs, then (once settled) its reported runs.
  void select(const FinetuneStudy& s, const FinetuneMethod& m, const PretrainGroup& g,
              const Parent& p, long rank) {
    LrSelection sel;
    sel.study = s.name;
    sel.parent = p.id;
    sel.method_name = m.name;
    sel.rank = rank;
    sel.lrs = m.lrs;
    std::sort(sel.lrs.begin(), sel.lrs.end());
    const double sign = s.select_maximize ? -1.0 : 1.0;  // compare sign·score, lower is better
    std::set<std::string> emitted;                       // selection runs already listed
    for (;;) {
      bool pending = false;
      sel.scores.assign(sel.lrs.size(), std::numeric_limits<double>::quiet_NaN());
      sel.finished.assign(sel.lrs.size(), true);
      for (std::size_t i = 0; i < sel.lrs.size(); ++i) {
        const double lr = sel.lrs[i];
        double sum = 0;
        bool usable = true;
        for (long seed : s.select_seeds) {
          RunSpec r = finetune_run(s, m, g, p, rank, lr, seed, RunRole::kSelect);
          const RunOutcome o = outcome(r, s.select_metric);
          if (!o.finished) pending = true;
          if (!o.finished) sel.finished[i] = false;
          usable = usable && o.usable;
          sum += o.value;
          if (emitted.insert(r.id).second) runs.push_back(std::move(r));
        }
        if (usable) sel.scores[i] = sum / static_cast<double>(s.select_seeds.size());
      }
      if (pending) break;
      std::size_t best = sel.lrs.size();
      for (std::size_t i = 0; i < sel.lrs.size(); ++i)
        if (std::isfinite(sel.scores[i]) &&
            (best == sel.lrs.size() || sign * sel.scores[i] < sign * sel.scores[best]))
          best = i;
      if (best == sel.lrs.size()) {  // no usable rate: nothing to report
        sel.settled = true;
        break;
      }
      if (sel.extensions < s.extend_at_edge && sel.lrs.size() > 1 &&
          (best == 0 || best + 1 == sel.lrs.size())) {
        const double next =
            best == 0 ? sel.lrs.front() / s.extend_factor : sel.lrs.back() * s.extend_factor;
        sel.lrs.insert(best == 0 ? sel.lrs.begin() : sel.lrs.end(), next);
        ++sel.extensions;
        continue;  // the new rate's selection runs are emitted (and awaited) first
      }
      sel.settled = true;
      sel.chosen = sel.lrs[best];
      for (long seed : s.seeds)
        runs.push_back(finetune_run(s, m, g, p, rank, sel.chosen, seed, RunRole::kReport));
      break;
    }
    selections.push_back(std::move(sel));
  }

  const ExperimentSpec& spec_;
  const OutcomeFn& outcome_;
};

}  // namespace

const char* to_string(RunRole role) {
  switch (role) {
    case RunRole::kGrid:
      return "grid";
    case RunRole::kSelect:
      return "select";
    case RunRole::kReport:
      return "report";
  }
  return "?";
}

std::size_t grid_size(const ExperimentSpec& spec) {
  std::size_t n = 0;
  for (const auto& g : spec.pretrain) {
    for (const auto& opt : g.optimizers)
      n = add(n, mul(pretrain_lrs(g, opt).size(), g.seeds.size()));
  }
  for (const auto& s : spec.finetune) {
    const PretrainGroup* from = nullptr;
    for (const auto& g : spec.pretrain)
      if (g.name == s.from) from = &g;
    if (!from) continue;
    std::size_t models = 0;  // every pretraining run is counted as a possible parent
    for (const auto& opt : from->optimizers)
      if (count_selected(std::vector<std::string>{opt}, s.from_optimizers))
        models = add(models, pretrain_lrs(*from, opt).size());
    const std::size_t parents = mul(models, count_selected(from->seeds, s.from_seeds));
    std::size_t per_parent = 0;
    for (const auto& m : s.methods) {
      const std::size_t ranks = std::max<std::size_t>(1, m.ranks.size());
      std::size_t per_rank;
      if (!s.lr_from.empty()) {
        per_rank = s.seeds.size();
      } else if (s.select_seeds.empty()) {
        per_rank = mul(m.lrs.size(), s.seeds.size());
      } else {  // every candidate (grid + extensions) on the selection seeds, then the seeds
        per_rank = add(mul(add(m.lrs.size(), static_cast<std::size_t>(s.extend_at_edge)),
                           s.select_seeds.size()),
                       s.seeds.size());
      }
      per_parent = add(per_parent, mul(ranks, per_rank));
    }
    n = add(n, mul(parents, per_parent));
  }
  return n;
}

std::vector<RunSpec> expand_grid(const ExperimentSpec& spec, const OutcomeFn& outcome) {
  if (const std::size_t n = grid_size(spec); n > kMaxGridRuns)
    throw std::invalid_argument(fmt::format(
        "the grid of '{}' has {} runs, more than the {} one spec may hold: split it into "
        "several specs",
        spec.name,
        n == std::numeric_limits<std::size_t>::max() ? std::string("2^64 or more")
                                                     : std::to_string(n),
        kMaxGridRuns));
  Expander e(spec, outcome);
  e.expand();
  return std::move(e.runs);
}

std::vector<LrSelection> lr_selections(const ExperimentSpec& spec, const OutcomeFn& outcome) {
  Expander e(spec, outcome);
  e.expand();
  return std::move(e.selections);
}

RunOutcome outcome_from_run_dir(const RunSpec& run, const std::string& metric) {
  RunOutcome o;
  const rundir::Inspection st = rundir::inspect_run(run.dir);
  switch (st.state) {
    case rundir::RunState::kCompleted:
    case rundir::RunState::kDiverged:
    case rundir::RunState::kCollapsed:
    case rundir::RunState::kFailed:
    case rundir::RunState::kCorrupt:
      o.finished = true;
      break;
    default:
      return o;
  }
  if (st.state != rundir::RunState::kCompleted) return o;
  try {
    const rundir::Metrics m = rundir::RunDir(run.dir).read_metrics();
    if (!m.rows.empty()) o.value = m.value(m.rows.size() - 1, metric);
  } catch (const std::exception&) {
    return o;  // unreadable: finished but unusable
  }
  o.usable = std::isfinite(o.value);
  return o;
}

std::vector<RunSpec> shard(const std::vector<RunSpec>& runs, std::size_t i, std::size_t n) {
  if (n == 0 || i >= n) throw std::invalid_argument("shard index must satisfy 0 <= i < N");
  std::vector<RunSpec> out;
  for (std::size_t p = i; p < runs.size(); p += n) out.push_back(runs[p]);
  return out;
}

void parse_shard(const std::string& text, std::size_t* i, std::size_t* n) {
  const auto slash = text.find('/');
  try {
    if (slash == std::string::npos) throw std::invalid_argument("");
    std::size_t p1 = 0, p2 = 0;
    const long a = std::stol(text.substr(0, slash), &p1);
    const long b = std::stol(text.substr(slash + 1), &p2);
    if (p1 != slash || p2 != text.size() - slash - 1 || a < 0 || b < 1 || a >= b)
      throw std::invalid_argument("");
    *i = static_cast<std::size_t>(a);
    *n = static_cast<std::size_t>(b);
  } catch (const std::exception&) {
    throw std::invalid_argument("--shard must be i/N with 0 <= i < N (e.g. 0/4), got '" + text +
                                "'");
  }
}

}  // namespace muft::sweep
