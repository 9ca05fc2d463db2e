#include "muft/sweep/grid.h"

#include <algorithm>
#include <limits>
#include <set>
#include <stdexcept>

#include <fmt/core.h>

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

std::size_t grid_size(const ExperimentSpec& spec) {
  std::size_t n = 0;
  for (const auto& g : spec.pretrain) n = add(n, mul(g.optimizers.size(), g.seeds.size()));
  for (const auto& s : spec.finetune) {
    const PretrainGroup* from = nullptr;
    for (const auto& g : spec.pretrain)
      if (g.name == s.from) from = &g;
    if (!from) continue;
    const std::size_t parents = mul(count_selected(from->optimizers, s.from_optimizers),
                                    count_selected(from->seeds, s.from_seeds));
    std::size_t per_parent = 0;
    for (const auto& m : s.methods)
      per_parent = add(per_parent, mul(std::max<std::size_t>(1, m.ranks.size()), m.lrs.size()));
    n = add(n, mul(mul(parents, per_parent), s.seeds.size()));
  }
  return n;
}

std::vector<RunSpec> expand_grid(const ExperimentSpec& spec) {
  if (const std::size_t n = grid_size(spec); n > kMaxGridRuns)
    throw std::invalid_argument(fmt::format(
        "the grid of '{}' has {} runs, more than the {} one spec may hold: split it into "
        "several specs",
        spec.name,
        n == std::numeric_limits<std::size_t>::max() ? std::string("2^64 or more")
                                                     : std::to_string(n),
        kMaxGridRuns));
  std::vector<RunSpec> runs;
  for (const auto& g : spec.pretrain) {
    for (const auto& opt : g.optimizers) {
      for (long seed : g.seeds) {
        RunSpec r;
        r.kind = RunKind::kPretrain;
        r.id = fmt::format("pretrain/{}/{}-s{}", g.name, opt, seed);
        r.group = g.name;
        r.pretrain_optimizer = r.optimizer = opt;
        r.pretrain_seed = r.seed = seed;
        r.steps = g.steps;
        r.args = {"pretrain", "--optimizer", opt, "--seed", std::to_string(seed)};
        add_steps(spec.trainer, g.steps, g.eval_every, &r.args);
        append(&r.args, g.args);
        if (auto it = g.optimizer_args.find(opt); it != g.optimizer_args.end())
          append(&r.args, it->second);
        append(&r.args, spec.trainer.common_args);
        runs.push_back(std::move(r));
      }
    }
  }
  for (const auto& s : spec.finetune) {
    const PretrainGroup* from = nullptr;
    for (const auto& g : spec.pretrain)
      if (g.name == s.from) from = &g;
    if (!from) throw std::invalid_argument("finetune '" + s.name + "': unknown group " + s.from);
    for (const auto& popt : from->optimizers) {
      if (!s.from_optimizers.empty() &&
          std::find(s.from_optimizers.begin(), s.from_optimizers.end(), popt) ==
              s.from_optimizers.end())
        continue;
      for (long pseed : from->seeds) {
        if (!s.from_seeds.empty() &&
            std::find(s.from_seeds.begin(), s.from_seeds.end(), pseed) == s.from_seeds.end())
          continue;
        const std::string parent = fmt::format("pretrain/{}/{}-s{}", from->name, popt, pseed);
        for (const auto& m : s.methods) {
          std::vector<long> ranks = m.ranks;
          if (ranks.empty()) ranks = {0};
          for (long rank : ranks) {
            for (double lr : m.lrs) {
              for (long seed : s.seeds) {
                RunSpec r;
                r.kind = RunKind::kFinetune;
                const std::string mdir = rank > 0 ? fmt::format("{}-r{}", m.name, rank) : m.name;
                r.id = fmt::format("finetune/{}/{}-{}-s{}/{}/lr{}-s{}", s.name, from->name, popt,
                                   pseed, mdir, format_number(lr), seed);
                r.depends_on = parent;
                r.group = from->name;
                r.study = s.name;
                r.pretrain_optimizer = popt;
                r.pretrain_seed = pseed;
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
                    r.alpha =
                        m.alpha == "2r" ? 2.0 * static_cast<double>(rank) : std::stod(m.alpha);
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
                add_steps(spec.trainer, s.steps, s.eval_every, &r.args);
                append(&r.args, s.args);
                append(&r.args, m.args);
                append(&r.args, spec.trainer.common_args);
                runs.push_back(std::move(r));
              }
            }
          }
        }
      }
    }
  }
  std::set<std::string> ids;
  for (auto& r : runs) {
    if (!ids.insert(r.id).second)
      throw std::invalid_argument("two runs share the id '" + r.id + "'");
    r.dir = spec.out_dir + "/" + r.id;
  }
  return runs;
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
