/// \file spectra_cmd.cpp
/// `muft-analyze spectra FILES|DIRS|GLOBS...`

#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "muft/analysis/inputs.h"

namespace muft::apps::analyze {

namespace an = muft::analysis;

void register_spectra(CLI::App& app) {
  struct State {
    CommonFlags flags;
    std::vector<std::string> inputs;
  };
  auto st = std::make_shared<State>();
  CLI::App* sub = app.add_subcommand(
      "spectra",
      "Spectral metrics of every matrix (rank >= 2; rank > 2 reshaped to [dim0, rest]) of every "
      "checkpoint: norms, stable rank, SVD entropy, effective and numerical rank. LoRA "
      "lora_A/lora_B pairs also give their merged update s*B*A.");
  sub->add_option("inputs", st->inputs,
                  "Checkpoint files (*.safetensors, *.h5, *.hdf5, *index.json, *.pt, *.pth, *.bin, "
                  "*.gguf), directories "
                  "(searched recursively) or globs")
      ->required();
  add_common_flags(sub, st->flags);
  sub->callback([st] {
    const an::BatchOptions base = make_options(st->flags);
    std::vector<std::string> errors;
    const std::vector<std::string> paths = an::expand_inputs(st->inputs, &errors);
    check_output_paths(st->flags, paths);
    Output out(st->flags, an::TableKind::Spectra, "spectra");
    an::BatchOptions opts = base;
    opts.progress = [&out](std::size_t d, std::size_t t) { out.progress(d, t); };
    // Arguments that matched nothing become error rows like unreadable files.
    const an::BatchSummary s = an::run_spectra(
        paths, opts, [&out](const an::Record& r) { out.write(r); }, errors);
    exit_status() = out.finish(s);
  });
}

}  // namespace muft::apps::analyze
