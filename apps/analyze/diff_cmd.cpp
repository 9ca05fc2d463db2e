/// \file diff_cmd.cpp
/// `muft-analyze diff --base BASE CKPT...`

#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "muft/analysis/inputs.h"
#include "muft/app/flags.h"

namespace muft::apps::analyze {

namespace an = muft::analysis;

void register_diff(CLI::App& app) {
  struct State {
    CommonFlags flags;
    an::DiffOptions diff;
    std::vector<std::string> inputs;
    bool no_missing = false;
  };
  auto st = std::make_shared<State>();
  CLI::App* sub = app.add_subcommand(
      "diff",
      "Distances of checkpoints from a base, per tensor and in total: l2 ||W-W0||_F, relative "
      "||W-W0||_F/||W0||_F, cosine 1-<W,W0>/(||W|| ||W0||), and the spectral metrics of "
      "dW = W - W0 (the metric columns of diff rows describe dW). PEFT adapters (LoRA, rsLoRA, "
      "DoRA, AdaLoRA) are merged as adapter_config.json says; plain LoRA without forming the "
      "product.");
  sub->add_option("--base,-b", st->diff.base, "Base checkpoint W0")->required();
  sub->add_option("checkpoints", st->inputs, "Checkpoints (files, directories or globs)")
      ->required();
  sub->add_option("--map", st->diff.map_rules,
                  "Name rule 'regex=>replacement' from checkpoint to base names (repeatable, "
                  "applied in order; $1 back-references)");
  sub->add_option("--relative-to", st->diff.relative_to,
                  "Reference checkpoint REF: add l2/relative/cosine ratios to REF's distances "
                  "from the base (REF = 1.0x)");
  sub->add_flag("--no-missing", st->no_missing,
                "Do not report base tensors absent from a checkpoint as errors");
  CLI::Option* intr = sub->add_flag(
      "--intruders", st->diff.intruders,
      "Count intruder dimensions (Shuttleworth et al. 2024, as PEFT's "
      "reduce_intruder_dimension): of the top-k left singular vectors of W, those whose largest "
      "|cosine| with every left singular vector of W0 is below epsilon (needs SVDs of W and W0)");
  sub->add_option("--top-k", st->diff.intruder.top_k,
                  "Intruders: singular vectors of W examined, largest first")
      ->check(app::count_check(1, 1000000))
      ->needs(intr)
      ->capture_default_str();
  sub->add_option("--epsilon", st->diff.intruder.epsilon, "Intruders: cosine threshold in (0, 1]")
      ->check(CLI::Range(0.0, 1.0))
      ->needs(intr)
      ->capture_default_str();
  add_common_flags(sub, st->flags);
  sub->callback([st] {
    an::BatchOptions opts = make_options(st->flags);
    st->diff.report_missing = !st->no_missing;
    std::vector<std::string> errors;
    const std::vector<std::string> paths = an::expand_inputs(st->inputs, &errors);
    if (!errors.empty()) throw std::invalid_argument(errors.front());
    std::vector<std::string> inputs = paths;
    inputs.push_back(st->diff.base);
    if (!st->diff.relative_to.empty()) inputs.push_back(st->diff.relative_to);
    check_output_paths(st->flags, inputs);
    Output out(st->flags, an::TableKind::Diff, "diff");
    opts.progress = [&out](std::size_t d, std::size_t t) { out.progress(d, t); };
    const an::BatchSummary s =
        an::run_diff(paths, st->diff, opts, [&out](const an::Record& r) { out.write(r); });
    exit_status() = out.finish(s);
  });
}

}  // namespace muft::apps::analyze
