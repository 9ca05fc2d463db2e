/// \file forgetting_cmd.cpp
/// `muft-analyze forgetting RUN_DIR...`: every checkpoint of each run evaluated on the old task
/// (pretraining validation text) and the new task (fine-tuning validation text). The LibTorch
/// work is muft::train::forgetting_curves (lib/train/src/forgetting.cpp); this file parses flags
/// and writes rows.

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "commands.h"
#include "muft/analysis/table.h"
#include "muft/app/cli.h"
#include "muft/train/forgetting.h"

namespace muft::apps::analyze {

namespace an = muft::analysis;

void register_forgetting(CLI::App& app) {
  struct State {
    std::vector<std::string> runs;
    muft::train::ForgettingOptions opts;
    std::string out;
  };
  auto st = std::make_shared<State>();
  CLI::App* sub = app.add_subcommand(
      "forgetting",
      "Forgetting curves: evaluates every checkpoint of each run directory (its config.json "
      "names the model and the data) on the old task (pretraining validation text) and the new "
      "task (fine-tuning validation text); loss, perplexity, bits per byte and the change from "
      "the model the run started from (its --from checkpoint, else its first checkpoint).");
  sub->add_option("runs", st->runs, "Run directories written by muft-train")->required();
  sub->add_option("--data", st->opts.data, "Which validation sets: old, new or both")
      ->check(CLI::IsMember({"old", "new", "both"}))
      ->capture_default_str();
  sub->add_option("--old-val", st->opts.old_val,
                  "Old-task validation text (default: the run's data.old_val, else data.val)");
  sub->add_option("--new-val", st->opts.new_val,
                  "New-task validation text (default: the run's data.val)");
  sub->add_option("--eval-windows", st->opts.eval_windows,
                  "Windows of one context length per set (0 = the run's data.eval_windows)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--out", st->out,
                  "Output table (.csv, .jsonl or .h5); default: one readable line per row");
  sub->callback([st] {
    std::unique_ptr<an::TableWriter> table;
    if (!st->out.empty()) {
      table = an::open_table_writer(st->out,
                                    {{"run", an::ColumnType::String},
                                     {"checkpoint", an::ColumnType::String},
                                     {"step", an::ColumnType::Number},
                                     {"dataset", an::ColumnType::String},
                                     {"loss", an::ColumnType::Number},
                                     {"ppl", an::ColumnType::Number},
                                     {"bpb", an::ColumnType::Number},
                                     {"tokens", an::ColumnType::Number},
                                     {"delta_loss", an::ColumnType::Number},
                                     {"delta_ppl", an::ColumnType::Number},
                                     {"error", an::ColumnType::String}},
                                    {{"command", "muft-analyze forgetting"}});
    }
    const bool tty = ::isatty(2);
    size_t rows = 0;
    const int64_t errors = muft::train::forgetting_curves(
        st->runs, st->opts, [&](const muft::train::ForgettingRow& r) {
          ++rows;
          if (table) {
            table->write_row({r.run, r.checkpoint, static_cast<double>(r.step), r.dataset,
                              r.result.loss, r.result.ppl, r.result.bpb,
                              static_cast<double>(r.result.tokens), r.delta_loss, r.delta_ppl,
                              r.error});
            if (tty)
              std::fprintf(stderr, "\r%zu rows (%s step %lld)   ", rows, r.run.c_str(),
                           static_cast<long long>(r.step));
          } else if (!r.error.empty()) {
            std::printf("%s",
                        fmt::format("{} {} ERROR {}\n", r.run, r.checkpoint, r.error).c_str());
          } else {
            std::printf("%s", fmt::format("{} step={} {} loss={:.4f} ppl={:.3f} bpb={:.4f} "
                                          "delta_loss={:+.4f}\n",
                                          r.run, r.step, r.dataset, r.result.loss, r.result.ppl,
                                          r.result.bpb, r.delta_loss)
                                  .c_str());
          }
          std::fflush(stdout);
        });
    if (table) {
      table->close();
      if (tty) std::fprintf(stderr, "\r%*s\r", 60, "");
      std::printf("muft-analyze forgetting: %zu rows (%lld errors) written to %s\n", rows,
                  static_cast<long long>(errors), st->out.c_str());
    } else {
      std::printf("muft-analyze forgetting: %zu rows, %lld errors\n", rows,
                  static_cast<long long>(errors));
    }
    exit_status() = errors > 0 ? app::kSomeFailed : app::kSuccess;
  });
}

}  // namespace muft::apps::analyze
