// The staged-experiment report (study_report.h): tables from the reported seeds, paired
// contrasts, pooling over tasks and one verdict per claim.
#include "muft/sweep/study_report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <fmt/core.h>

#include "muft/stats/meta.h"
#include "muft/stats/summary.h"
#include "report_cells.h"

namespace muft::sweep {

std::string decide(double low, double high, bool positive_supports) {
  if (!std::isfinite(low) || !std::isfinite(high)) return "inconclusive";
  if (low > 0) return positive_supports ? "reproduced" : "not reproduced";
  if (high < 0) return positive_supports ? "not reproduced" : "reproduced";
  return "inconclusive";
}

bool is_staged(const ExperimentSpec& spec) {
  for (const auto& s : spec.finetune)
    if (!s.select_seeds.empty() || !s.lr_from.empty()) return true;
  return false;
}

std::string verdicts_csv(const std::vector<Verdict>& verdicts) {
  auto esc = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string o = "\"";
    for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
    return o + "\"";
  };
  std::string out = "claim,scope,quantity,estimate,low,high,interval,verdict,note\n";
  for (const auto& v : verdicts) {
    out += esc(v.claim) + "," + esc(v.scope) + "," + esc(v.quantity) + "," +
           report::num(v.estimate) + "," + report::num(v.low) + "," + report::num(v.high) + "," +
           esc(v.interval) + "," + esc(v.verdict) + "," + esc(v.note) + "\n";
  }
  return out;
}

namespace {

using report::Cell;
using report::Cells;
using report::Contrast;
using report::num;
using report::pm;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string ci(double lo, double hi, int digits = 4) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return "—";
  return fmt::format("[{:+.{}f}, {:+.{}f}]", lo, digits, hi, digits);
}

std::string signed_value(double x, int digits = 4) {
  return std::isfinite(x) ? fmt::format("{:+.{}f}", x, digits) : "—";
}

/// The four canonical methods of a study by (method, optimizer).
const FinetuneMethod* method_of(const FinetuneStudy& s, const std::string& method,
                                const std::string& optimizer) {
  for (const auto& m : s.methods)
    if (m.method == method && m.optimizer == optimizer) return &m;
  return nullptr;
}

std::string other_optimizer(const std::string& p) {
  return p == "adam" ? "muon" : "adam";
}

/// The pretraining optimizers a study fine-tunes from (in run order).
std::vector<std::string> parents_of(const std::vector<CollectedRun>& runs, const std::string& st) {
  std::vector<std::string> out;
  for (const auto& r : runs)
    if (r.spec.study == st &&
        std::find(out.begin(), out.end(), r.spec.pretrain_optimizer) == out.end())
      out.push_back(r.spec.pretrain_optimizer);
  return out;
}

/// Studies that have their own selection (the tasks), in spec order.
std::vector<const FinetuneStudy*> selected_studies(const ExperimentSpec& spec) {
  std::vector<const FinetuneStudy*> out;
  for (const auto& s : spec.finetune)
    if (!s.select_seeds.empty()) out.push_back(&s);
  return out;
}

/// Pools per-task effects (y = mean of a paired contrast, v = s²/n) by DL with HKSJ.
struct Pooled {
  stats::MetaResult meta;
  bool ok = false;
  std::size_t k = 0;
};
Pooled pool(const std::vector<std::pair<std::string, Contrast>>& per_task) {
  std::vector<stats::Effect> effects;
  for (const auto& [task, c] : per_task) {
    if (c.s.n < 2 || !std::isfinite(c.s.mean)) continue;
    // A zero spread over seeds (identical differences) would give an infinite weight: floor it
    // far below any spread seen in practice.
    const double v = std::max(c.s.sem * c.s.sem, 1e-18);
    effects.push_back({task, c.s.mean, v, static_cast<double>(c.s.n - 1)});
  }
  Pooled p;
  p.k = effects.size();
  if (effects.empty()) return p;
  p.ok = true;
  if (effects.size() == 1) {
    // One task (e.g. the digits analogue): nothing to pool; the verdict rests on that task's
    // Student-t interval over its paired seeds, reported in every interval field.
    for (const auto& [task, c] : per_task) {
      if (c.s.n < 2 || !std::isfinite(c.s.mean)) continue;
      p.meta.status = stats::MetaStatus::kSingleStudy;
      p.meta.k = 1;
      p.meta.estimate = c.s.mean;
      p.meta.ci_low = p.meta.hksj.modified_ci_low = c.s.ci_low;
      p.meta.ci_high = p.meta.hksj.modified_ci_high = c.s.ci_high;
      p.meta.tau2 = 0.0;
    }
    return p;
  }
  p.meta = stats::dersimonian_laird(effects, 0.95);
  return p;
}

/// The key of a pool: the pretrained model (pretraining group and optimizer), so that tasks are
/// pooled only with tasks fine-tuned from the same model and measured in the same unit (the
/// digits analogue's accuracies never join the language tasks' perplexity ratios).
std::string pool_key(const FinetuneStudy& s, const std::string& optimizer) {
  return s.from + "/" + optimizer;
}
/// "lm/adam-pretrained, pooled over 4 tasks" (or ", 1 task").
std::string pool_scope(const std::string& key, std::size_t k) {
  return key + "-pretrained, " +
         (k == 1 ? std::string("1 task") : "pooled over " + std::to_string(k) + " tasks");
}
/// The interval that decides a pooled verdict.
std::string pool_interval(std::size_t k) {
  return k == 1 ? "Student-t over seeds (1 task)" : "modified HKSJ";
}

}  // namespace

std::string staged_report(const ExperimentSpec& spec, const std::vector<CollectedRun>& runs,
                          const std::vector<LrSelection>& selections,
                          std::vector<Verdict>* verdicts_out) {
  std::vector<Verdict> verdicts;
  std::ostringstream md;
  const Cells cells(runs);
  md << "# Results of experiment `" << spec.name << "`\n\n";
  {
    std::map<std::string, std::size_t> states;
    for (const auto& r : runs) ++states[rundir::to_string(r.status.state)];
    md << "Runs: " << runs.size();
    for (const auto& [k, v] : states) md << ", " << v << " " << k;
    md << ". Tables use the reported seeds only (the rates were chosen on the selection seeds); "
          "diverged and collapsed runs are counted by name and excluded; every interval is a "
          "95 % interval.\n\n";
  }

  // ---------------------------------------------------------------- pretraining
  md << "## Pretraining\n\n| group | optimizer | lr | final val loss | Δ to the reference | "
        "fine-tuned |\n|---|---|---|---|---|---|\n";
  for (const auto& g : spec.pretrain) {
    double ref = kNaN;
    if (!g.match_loss_to.empty())
      for (const auto& r : runs)
        if (r.spec.kind == RunKind::kPretrain && r.spec.group == g.name &&
            r.spec.optimizer == g.match_loss_to)
          ref = r.final_value("val_loss");
    std::set<std::string> parents;
    for (const auto& r : runs)
      if (r.spec.kind == RunKind::kFinetune && r.spec.group == g.name)
        parents.insert(r.spec.depends_on);
    for (const auto& r : runs) {
      if (r.spec.kind != RunKind::kPretrain || r.spec.group != g.name) continue;
      const double v =
          r.status.state == rundir::RunState::kCompleted ? r.final_value("val_loss") : kNaN;
      md << fmt::format("| {} | {} | {} | {} | {} | {} |\n", g.name, r.spec.optimizer,
                        std::isfinite(r.spec.pretrain_lr) ? num(r.spec.pretrain_lr) : "default",
                        std::isfinite(v) ? fmt::format("{:.4f}", v)
                                         : std::string(rundir::to_string(r.status.state)),
                        std::isfinite(ref) && std::isfinite(v) ? signed_value(v - ref) : "—",
                        parents.count(r.spec.id) ? "yes" : "no");
    }
  }
  md << "\n";

  // ---------------------------------------------------------------- tasks and their order
  const auto tasks = selected_studies(spec);
  std::vector<std::pair<double, const FinetuneStudy*>> order;
  md << "## Tasks\n\nStarting loss = the pretrained model's validation loss on the task (step 0 of "
        "its fine-tuning runs); tasks are listed from the closest to the pretraining text to "
        "the farthest (by the mean over the pretrained models).\n\n| task | ";
  std::vector<std::string> all_parents;
  for (const auto* s : tasks)
    for (const auto& p : parents_of(runs, s->name))
      if (std::find(all_parents.begin(), all_parents.end(), p) == all_parents.end())
        all_parents.push_back(p);
  for (std::size_t i = 0; i < all_parents.size(); ++i)
    md << all_parents[i] << "-pretrained" << (i + 1 < all_parents.size() ? " | " : " |");
  md << "\n|---|";
  for (std::size_t i = 0; i < all_parents.size(); ++i) md << "---|";
  md << "\n";
  std::map<const FinetuneStudy*, std::string> task_rows;
  for (const auto* s : tasks) {
    double sum = 0;
    int n = 0;
    std::string row = "| " + s->name + " | ";
    for (const auto& p : all_parents) {
      const double v = cells.starting_loss(s->name, p);
      row += std::isfinite(v) ? fmt::format("{:.4f} | ", v) : "— | ";
      if (std::isfinite(v)) {
        sum += v;
        ++n;
      }
    }
    order.push_back({n ? sum / n : kNaN, s});
    task_rows[s] = row;
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return std::isfinite(a.first) && (!std::isfinite(b.first) || a.first < b.first);
  });
  for (const auto& [loss, s] : order) md << task_rows[s] << "\n";
  md << "\n";

  // ---------------------------------------------------------------- selection
  md << "## Learning-rate selection\n\nEach rate's score is its final selection-seed value "
        "(lower is better, accuracies higher); `…` marks a rate still running, `×` one whose "
        "selection run diverged or "
        "collapsed. `edge` flags a chosen rate that still sits at an edge after the allowed "
        "extensions: the optimum may lie beyond it.\n\n| study | pretrained | method | "
        "candidates: score | extensions | chosen |\n|---|---|---|---|---|---|\n";
  for (const auto& sel : selections) {
    std::string cand;
    for (std::size_t i = 0; i < sel.lrs.size(); ++i) {
      cand += (i ? ", " : "") + num(sel.lrs[i]) + ": " +
              (i < sel.scores.size() && std::isfinite(sel.scores[i])
                   ? fmt::format("{:.4f}", sel.scores[i])
               : i < sel.finished.size() && !sel.finished[i] ? std::string("…")
                                                             : std::string("×"));
    }
    std::string chosen = !sel.settled                ? "pending"
                         : std::isfinite(sel.chosen) ? num(sel.chosen)
                                                     : "none usable";
    if (std::isfinite(sel.chosen) && !sel.lrs.empty() &&
        (sel.chosen == sel.lrs.front() || sel.chosen == sel.lrs.back()))
      chosen += " (edge)";
    const auto slash = sel.parent.rfind('/');
    md << fmt::format("| {} | {} | {}{} | {} | {} | {} |\n", sel.study,
                      sel.parent.substr(slash == std::string::npos ? 0 : slash + 1),
                      sel.method_name, sel.rank > 0 ? fmt::format(" (r {})", sel.rank) : "", cand,
                      sel.extensions, chosen);
  }
  md << "\n";

  // ---------------------------------------------------------------- per-task results and gaps
  // Per direction P: the per-task contrasts that the pooled verdicts use.
  std::map<std::string, std::vector<std::pair<std::string, Contrast>>> full_gaps, lora_gaps,
      reductions;
  std::map<std::string, std::map<std::string, std::vector<std::pair<std::string, Contrast>>>>
      forgetting_vs_matched, learning_vs_matched;
  std::map<std::string, std::vector<std::pair<std::string, Contrast>>> distance_ratio,
      lora_distance_ratio;
  for (const auto& [start_loss, s] : order) {
    (void)start_loss;
    const bool acc = s->select_maximize;
    const std::string unit = acc ? "accuracy" : "val ppl / pretrained val ppl";
    md << "## Task `" << s->name << "`\n\nNew-task " << unit
       << " at the chosen rate over the reported seeds (mean ± sample std, Student-t interval); "
          "the old task is the pretraining task ("
       << (acc ? "accuracy" : "val ppl / pretrained old val ppl")
       << "). `n` counts healthy runs of the reported seeds.\n\n"
          "| pretrained | method | lr | n | new task | 95 % CI | old task | excluded |\n"
          "|---|---|---|---|---|---|---|---|\n";
    for (const auto& p : parents_of(runs, s->name)) {
      for (const auto& m : s->methods) {
        std::vector<long> ranks = m.ranks;
        if (ranks.empty()) ranks = {0};
        for (long rank : ranks) {
          const Cell* c = cells.find(s->name, p, m.name, rank);
          if (!c) continue;
          const stats::Summary nw = c->summary(&Cell::Values::new_metric);
          const stats::Summary od = c->summary(&Cell::Values::old_metric);
          md << fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", p,
                            m.name + (rank > 0 ? fmt::format(" (r {})", rank) : ""), num(c->lr),
                            nw.n, pm(nw), ci(nw.ci_low, nw.ci_high), pm(od), c->excluded_text());
        }
      }
    }
    // Paired gaps: penalty > 0 means the mismatched optimizer is worse.
    const double sign = acc ? -1.0 : 1.0;
    md << "\nGaps to the matched optimizer, paired by seed (positive = the mismatched optimizer "
          "is worse); reduction = Full gap − LoRA gap (positive = LoRA shrinks the gap).\n\n"
          "| pretrained | mismatched | Full gap [95 % CI] | LoRA gap [95 % CI] | reduction [95 % "
          "CI] | seeds |\n|---|---|---|---|---|---|\n";
    for (const auto& p : parents_of(runs, s->name)) {
      const std::string x = other_optimizer(p);
      const FinetuneMethod* fp = method_of(*s, "full", p);
      const FinetuneMethod* fx = method_of(*s, "full", x);
      const FinetuneMethod* lp = method_of(*s, "lora", p);
      const FinetuneMethod* lx = method_of(*s, "lora", x);
      if (!fp || !fx || !lp || !lx) continue;
      const long r = lp->ranks.empty() ? 0 : lp->ranks.front();
      const Cell* cfp = cells.find(s->name, p, fp->name, 0);
      const Cell* cfx = cells.find(s->name, p, fx->name, 0);
      const Cell* clp = cells.find(s->name, p, lp->name, r);
      const Cell* clx = cells.find(s->name, p, lx->name, r);
      if (!cfp || !cfx || !clp || !clx) continue;
      const Contrast g_full = report::contrast(*cfx, *cfp, &Cell::Values::new_metric, sign);
      const Contrast g_lora = report::contrast(*clx, *clp, &Cell::Values::new_metric, sign);
      const Contrast red =
          report::reduction(*cfx, *cfp, *clx, *clp, &Cell::Values::new_metric, sign);
      md << fmt::format("| {} | {} | {} {} | {} {} | {} {} | {} |\n", p, x,
                        signed_value(g_full.s.mean), ci(g_full.s.ci_low, g_full.s.ci_high),
                        signed_value(g_lora.s.mean), ci(g_lora.s.ci_low, g_lora.s.ci_high),
                        signed_value(red.s.mean), ci(red.s.ci_low, red.s.ci_high),
                        red.seeds_text());
      const std::string key = pool_key(*s, p);
      full_gaps[key].push_back({s->name, g_full});
      lora_gaps[key].push_back({s->name, g_lora});
      reductions[key].push_back({s->name, red});
      // Learning and forgetting of every method against matched Full FT (the competing paper's
      // comparison): old-task and new-task differences, positive = worse than Full-P.
      for (const Cell* other : {cfx, clp, clx}) {
        const std::string name = other == cfx ? fx->name : other == clp ? lp->name : lx->name;
        forgetting_vs_matched[key][name].push_back(
            {s->name, report::contrast(*other, *cfp, &Cell::Values::old_metric, sign)});
        learning_vs_matched[key][name].push_back(
            {s->name, report::contrast(*other, *cfp, &Cell::Values::new_metric, sign)});
      }
      distance_ratio[key].push_back({s->name, report::log_ratio(*cfx, *cfp, &Cell::Values::l2)});
      if (p == "adam")
        lora_distance_ratio[key].push_back(
            {s->name, report::log_ratio(*clx, *clp, &Cell::Values::l2)});
    }
    md << "\n";
  }

  // ---------------------------------------------------------------- pooled verdicts
  const std::string pooled_note =
      "DerSimonian–Laird estimate; the verdict uses the Hartung–Knapp–Sidik–Jonkman interval "
      "(t with k − 1 df), recommended for few tasks, in its modified form (q ≥ 1/Σw*, Knapp & "
      "Hartung 2003): with only 4 tasks that agree closely the untruncated interval can be "
      "narrower than DL's, which a reviewer would not accept";
  md << "## Pooled over tasks: the mismatch and LoRA's mitigation\n\n"
     << pooled_note
     << ". Per-task effects are the paired means above, their variance s²/n. Tasks are pooled "
        "only with tasks fine-tuned from the same pretrained model (so in the same unit); a "
        "model with one task (k = 1) is decided by that task's Student-t interval.\n\n"
        "| pretrained | quantity | k | estimate | DL 95 % CI | HKSJ 95 % CI | τ² | verdict |\n"
        "|---|---|---|---|---|---|---|---|\n";
  auto pooled_row = [&](const std::string& p, const std::string& what, const std::string& claim,
                        const std::vector<std::pair<std::string, Contrast>>& per_task,
                        bool positive_supports, const std::string& quantity) {
    const Pooled pl = pool(per_task);
    Verdict v;
    v.claim = claim;
    v.scope = pool_scope(p, pl.k);
    v.quantity = quantity;
    if (!pl.ok) {
      v.estimate = v.low = v.high = kNaN;
      v.verdict = "inconclusive";
      v.note = "no task with 2 or more paired seeds";
    } else {
      v.estimate = pl.meta.estimate;
      v.low = pl.meta.hksj.modified_ci_low;
      v.high = pl.meta.hksj.modified_ci_high;
      v.interval = pool_interval(pl.k);
      v.verdict = decide(v.low, v.high, positive_supports);
      const std::string dl = decide(pl.meta.ci_low, pl.meta.ci_high, positive_supports);
      if (dl != v.verdict) v.note = "the DL interval alone would say " + dl;
    }
    md << fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", p, what, pl.k,
                      signed_value(v.estimate), pl.ok ? ci(pl.meta.ci_low, pl.meta.ci_high) : "—",
                      ci(v.low, v.high), pl.ok ? fmt::format("{:.3g}", pl.meta.tau2) : "—",
                      v.verdict);
    verdicts.push_back(v);
  };
  for (const auto& [p, g] : full_gaps) {
    pooled_row(p, "Full gap", "mismatched full fine-tuning is worse (Table 1)", g, true,
               "Full-mismatched − Full-matched, normalized val ppl (positive = penalty)");
    pooled_row(p, "LoRA gap", "mismatched LoRA is worse", lora_gaps[p], true,
               "LoRA-mismatched − LoRA-matched (positive = penalty)");
    pooled_row(p, "gap reduction", "LoRA shrinks the mismatch gap (Sec. 4.3)", reductions[p], true,
               "Full gap − LoRA gap (positive = LoRA mitigates)");
  }
  md << "\n";

  // ---------------------------------------------------------------- learning–forgetting plane
  md << "## Learning and forgetting against matched full fine-tuning\n\nThe competing paper "
        "(arXiv 2605.06654) claims that full fine-tuning with the pretraining optimizer forgets "
        "least at equal or better learning; the source paper that constraining the update "
        "(LoRA) limits the damage. Differences of each method to Full-matched, pooled over "
        "tasks (positive = more forgetting, or less learning, than Full-matched). The verdict "
        "is on the old task; when the other method also learns clearly more (or clearly less) "
        "the comparison is not at equal learning, and a difference in forgetting is a "
        "trade-off: inconclusive.\n\n"
        "| pretrained | method | old task: estimate | HKSJ 95 % CI | new task: estimate | "
        "HKSJ 95 % CI | verdict: Full-matched forgets less |\n|---|---|---|---|---|---|---|\n";
  for (const auto& [p, by_method] : forgetting_vs_matched) {
    for (const auto& [name, per_task] : by_method) {
      const Pooled fo = pool(per_task), le = pool(learning_vs_matched[p][name]);
      Verdict v;
      v.claim = "matched full fine-tuning forgets less than " + name + " (arXiv 2605.06654)";
      v.scope = pool_scope(p, fo.k);
      v.quantity = name + " − Full-matched, old-task metric (positive = " + name + " forgets more)";
      v.estimate = fo.ok ? fo.meta.estimate : kNaN;
      v.low = fo.ok ? fo.meta.hksj.modified_ci_low : kNaN;
      v.high = fo.ok ? fo.meta.hksj.modified_ci_high : kNaN;
      v.interval = pool_interval(fo.k);
      v.verdict = decide(v.low, v.high, true);
      if (le.ok) {
        v.note = fmt::format("new task: {} {}", signed_value(le.meta.estimate),
                             ci(le.meta.hksj.modified_ci_low, le.meta.hksj.modified_ci_high));
        // The claim is "forgets less at equal or better learning": when the other method
        // learns clearly more, the comparison is not at equal learning and decides nothing.
        if (v.verdict == "reproduced" && le.meta.hksj.modified_ci_high < 0.0) {
          v.verdict = "inconclusive";
          v.note += "; " + name + " learns more and forgets more (a trade-off, not equal learning)";
        }
        // Symmetrically, a method that forgets less but also learns clearly less does not
        // refute the claim: neither dominates the other.
        if (v.verdict == "not reproduced" && le.meta.hksj.modified_ci_low > 0.0) {
          v.verdict = "inconclusive";
          v.note += "; " + name + " learns less and forgets less (a trade-off, not equal learning)";
        }
      }
      md << fmt::format(
          "| {} | {} | {} | {} | {} | {} | {} |\n", p, name, signed_value(v.estimate),
          ci(v.low, v.high), le.ok ? signed_value(le.meta.estimate) : "—",
          le.ok ? ci(le.meta.hksj.modified_ci_low, le.meta.hksj.modified_ci_high) : "—", v.verdict);
      verdicts.push_back(v);
    }
  }
  md << "\n";

  // ---------------------------------------------------------------- distances
  md << "## Distance to the pretrained weights (Table 17 analogue)\n\nLog of the ratio of the "
        "L2 distances from the pretrained weights, paired by seed, pooled over tasks; the ratio "
        "is exp(estimate).\n\n| pretrained | ratio | estimate (log) | ratio | HKSJ 95 % CI "
        "(log) | verdict |\n|---|---|---|---|---|---|\n";
  auto distance_row = [&](const std::string& p, const std::string& what, const std::string& claim,
                          const std::vector<std::pair<std::string, Contrast>>& per_task,
                          bool positive_supports) {
    const Pooled pl = pool(per_task);
    Verdict v;
    v.claim = claim;
    v.scope = pool_scope(p, pl.k);
    v.quantity = "log(L2 " + what + ")";
    v.estimate = pl.ok ? pl.meta.estimate : kNaN;
    v.low = pl.ok ? pl.meta.hksj.modified_ci_low : kNaN;
    v.high = pl.ok ? pl.meta.hksj.modified_ci_high : kNaN;
    v.interval = pool_interval(pl.k);
    v.verdict = decide(v.low, v.high, positive_supports);
    md << fmt::format(
        "| {} | {} | {} | {} | {} | {} |\n", p, what, signed_value(v.estimate, 3),
        std::isfinite(v.estimate) ? fmt::format("{:.2f}×", std::exp(v.estimate)) : "—",
        ci(v.low, v.high, 3), v.verdict);
    verdicts.push_back(v);
  };
  for (const auto& [p, per_task] : distance_ratio) {
    distance_row(p, "Full-mismatched / Full-matched",
                 "mismatched full fine-tuning moves the weights farther (Table 17)", per_task,
                 true);
  }
  for (const auto& [p, per_task] : lora_distance_ratio) {
    distance_row(p, "LoRA-Muon / LoRA-Adam", "LoRA-Muon moves the weights less than LoRA-Adam",
                 per_task, false);
  }
  md << "\n";

  // ---------------------------------------------------------------- rank and length studies
  for (const auto& s : spec.finetune) {
    if (s.lr_from.empty()) continue;
    const bool ranks = std::any_of(s.methods.begin(), s.methods.end(),
                                   [](const FinetuneMethod& m) { return m.ranks.size() > 1; });
    if (ranks) {
      md << "## LoRA rank (study `" << s.name << "`, rates of `" << s.lr_from
         << "`)\n\nSlope = least-squares slope of the old-task metric over log2(rank), per seed "
            "(positive = more forgetting at higher rank).\n\n| pretrained | method | rank | n | "
            "new task | old task |\n|---|---|---|---|---|---|\n";
      std::string slope_lines;
      for (const auto& p : parents_of(runs, s.name)) {
        std::map<std::string, Contrast> slopes;
        for (const auto& m : s.methods) {
          std::vector<const Cell*> by_rank;
          for (long r : m.ranks) {
            const Cell* c = cells.find(s.name, p, m.name, r);
            if (!c) continue;
            by_rank.push_back(c);
            md << fmt::format("| {} | {} | {} | {} | {} | {} |\n", p, m.name, r,
                              c->summary(&Cell::Values::new_metric).n,
                              pm(c->summary(&Cell::Values::new_metric)),
                              pm(c->summary(&Cell::Values::old_metric)));
          }
          slopes[m.name] = report::rank_slope(by_rank, m.ranks, &Cell::Values::old_metric);
        }
        for (const auto& [name, sl] : slopes) {
          Verdict v;
          v.claim = "forgetting grows with the LoRA rank (" + name + ")";
          v.scope = p + "-pretrained, study " + s.name;
          v.quantity = "slope of the old-task metric over log2(rank)";
          v.estimate = sl.s.mean;
          v.low = sl.s.ci_low;
          v.high = sl.s.ci_high;
          v.interval = "t over seeds, n = " + std::to_string(sl.s.n);
          v.verdict = decide(v.low, v.high, true);
          verdicts.push_back(v);
          slope_lines += fmt::format("- {}-pretrained, {}: slope {} {} (n = {}): {}\n", p, name,
                                     signed_value(sl.s.mean), ci(sl.s.ci_low, sl.s.ci_high), sl.s.n,
                                     v.verdict);
        }
      }
      md << "\n" << slope_lines << "\n";
    } else {
      md << "## Training length (study `" << s.name << "`, rates of `" << s.lr_from
         << "`)\n\nThe final new-task validation loss after " << s.steps
         << " steps against the same method, rate and seed in `" << s.lr_from
         << "`: how much further the loss falls with twice the steps, and that as a share of "
            "what the first run gained from its start.\n\n| pretrained | method | seed | "
            "loss (short) | loss (long) | long − short | share of the short run's gain |\n"
            "|---|---|---|---|---|---|---|\n";
      for (const auto& row : cells.length_control(s.name, s.lr_from)) md << row;
      md << "\n";
    }
  }

  // ---------------------------------------------------------------- LoRA-Muon vs LoRA-Adam
  md << "## LoRA-Muon against LoRA-Adam\n\nPaired new-task difference LoRA-Muon − LoRA-Adam "
        "per task (positive = LoRA-Muon worse for losses; for accuracies the sign is flipped so "
        "that positive is still worse).\n\n| task | pretrained | difference [95 % CI] | seeds "
        "| verdict: LoRA-Muon better |\n|---|---|---|---|---|\n";
  for (const auto& [start, s] : order) {
    (void)start;
    const double sign = s->select_maximize ? -1.0 : 1.0;
    for (const auto& p : parents_of(runs, s->name)) {
      const FinetuneMethod* la = method_of(*s, "lora", "adam");
      const FinetuneMethod* lm = method_of(*s, "lora", "muon");
      if (!la || !lm) continue;
      const long r = la->ranks.empty() ? 0 : la->ranks.front();
      const Cell* ca = cells.find(s->name, p, la->name, r);
      const Cell* cm = cells.find(s->name, p, lm->name, r);
      if (!ca || !cm) continue;
      const Contrast d = report::contrast(*cm, *ca, &Cell::Values::new_metric, sign);
      const std::string verdict = decide(d.s.ci_low, d.s.ci_high, false);
      md << fmt::format("| {} | {} | {} {} | {} | {} |\n", s->name, p, signed_value(d.s.mean),
                        ci(d.s.ci_low, d.s.ci_high), d.seeds_text(), verdict);
      if (s->select_maximize) {  // the paper's vision claim (Table 4, Figure 6)
        Verdict v;
        v.claim = "LoRA-Muon outperforms LoRA-Adam (vision, Table 4)";
        v.scope = p + "-pretrained, task " + s->name;
        v.quantity = "LoRA-Muon − LoRA-Adam, accuracy sign-flipped (negative = LoRA-Muon better)";
        v.estimate = d.s.mean;
        v.low = d.s.ci_low;
        v.high = d.s.ci_high;
        v.interval = "paired t, n = " + std::to_string(d.s.n);
        v.verdict = verdict;
        verdicts.push_back(v);
      }
    }
  }
  md << "\n";

  // ---------------------------------------------------------------- pretraining spectra
  {
    int higher = 0, total = 0;
    md << cells.spectra_table(spec, &higher, &total);
    if (total > 0) {
      Verdict v;
      v.claim = "Muon-pretrained weights have a higher stable rank (Figure 2)";
      v.scope = "pretrained models, " + std::to_string(total) + " layer groups";
      v.quantity = "layer groups where Muon's mean stable rank is the higher";
      v.estimate = higher;
      v.low = v.high = kNaN;
      v.interval = "one run each";
      v.verdict = "descriptive";
      v.note = fmt::format("{} of {} layer groups", higher, total);
      verdicts.push_back(v);
    }
  }

  // ---------------------------------------------------------------- verdict list
  md << "## Verdicts\n\n| claim | scope | estimate | interval | verdict |\n|---|---|---|---|---|\n";
  for (const auto& v : verdicts) {
    md << fmt::format("| {} | {} | {} | {} {} | {}{} |\n", v.claim, v.scope,
                      signed_value(v.estimate), v.interval, ci(v.low, v.high), v.verdict,
                      v.note.empty() ? "" : " (" + v.note + ")");
  }
  if (verdicts_out) *verdicts_out = verdicts;
  return md.str();
}

}  // namespace muft::sweep
