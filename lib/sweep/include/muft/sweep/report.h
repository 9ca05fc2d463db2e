#pragma once
/// \file report.h
/// Markdown tables from collected runs, at toy scale, in the shape of the paper's tables
/// (arXiv 2605.10468): Table 1 (validation perplexity normalized by the pretrained model at the
/// best learning rate, gap to the matched optimizer, % of the gap LoRA removes), the Table 5
/// analogue (old-task perplexity after fine-tuning), a LoRA-rank table and pretraining results.

#include <string>
#include <vector>

#include "muft/stats/best_lr.h"
#include "muft/sweep/collect.h"
#include "muft/sweep/spec.h"

namespace muft::sweep {

/// One fine-tuning method of one study from one pretraining optimizer, at its best lr.
struct MethodResult {
  std::string pretrain_optimizer;
  std::string method_name;
  std::string method;     ///< full / lora
  std::string optimizer;  ///< fine-tuning optimizer
  long rank = 0;
  bool normalized = true;   ///< values divided by the pretrained model's (step-0) perplexity
  bool accuracy = false;    ///< digits study: values are accuracies (higher is better)
  stats::BestLr new_task;   ///< selection on the new-task metric (perplexity or accuracy)
  stats::Summary old_task;  ///< old-task metric over seeds at the selected lr
  std::size_t runs = 0, diverged = 0, collapsed = 0, unfinished = 0;
};

/// Best-LR results of every (pretraining optimizer, method, rank) of a study. Runs that are not
/// completed count as non-finite (a learning rate with a diverged or collapsed seed is never
/// selected); diverged and collapsed runs are counted by name.
/// The metric is the new-task validation perplexity normalized by the pretrained model's
/// (minimized), or, when the study's runs carry val_acc (digits), the accuracy (maximized).
/// only_rank: > 0 keeps that LoRA rank, 0 the first rank of each method, −1 every rank.
std::vector<MethodResult> study_results(const ExperimentSpec& spec,
                                        const std::vector<CollectedRun>& runs,
                                        const std::string& study, long only_rank);

/// Gap of a mismatched method to its matched counterpart and how much LoRA shrinks it:
/// full_gap = Full-X − Full-P, lora_gap = LoRA-X − LoRA-P (P = pretraining optimizer),
/// shrink_percent = 100 (1 − lora_gap/full_gap), NaN when full fine-tuning shows no mismatch
/// penalty (full_gap ≤ 0 for perplexity, ≥ 0 for accuracy): then there is no gap to shrink and
/// the ratio would be noise over noise.
struct GapRow {
  std::string pretrain_optimizer, mismatched_optimizer;
  double full_gap = 0, lora_gap = 0, shrink_percent = 0;
};
std::vector<GapRow> mismatch_gaps(const std::vector<MethodResult>& results);

/// Long CSV `task,method,mean,std,n,lr` for `muft-stats meta`: one row per (study, pretraining
/// optimizer, method, rank) at its best learning rate, task = "<study>/<pretraining optimizer>",
/// method = method name (with "-r<rank>" when the study lists several ranks of it), value = the
/// new-task metric of the report's Table 1 (normalized perplexity when available).
std::string methods_csv(const ExperimentSpec& spec, const std::vector<CollectedRun>& runs);

/// The whole Markdown report.
std::string markdown_report(const ExperimentSpec& spec, const std::vector<CollectedRun>& runs);

}  // namespace muft::sweep
