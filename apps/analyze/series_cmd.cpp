/// \file series_cmd.cpp
/// `muft-analyze series RUN_DIR...`

#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli_common.h"
#include "commands.h"

namespace muft::apps::analyze {

namespace an = muft::analysis;

void register_series(CLI::App& app) {
  struct State {
    CommonFlags flags;
    an::SeriesOptions series;
    std::vector<std::string> runs;
    std::string per_tensor;
  };
  auto st = std::make_shared<State>();
  CLI::App* sub = app.add_subcommand(
      "series",
      "Every metric versus training step for a run directory (RUN_DIR/checkpoints/step_N.h5 or "
      "any checkpoints inside it; step from the file name, else the checkpoint's step), "
      "aggregated by layer group (mean and std per group and step).");
  sub->add_option("runs", st->runs, "Run directories")->required();
  sub->add_option("--per-tensor", st->per_tensor,
                  "Also write every tensor's row (with run and step) to FILE (.csv/.jsonl/.h5)");
  sub->add_option("--base", st->series.base,
                  "Base checkpoint W0: rows then describe the diff of every step from it");
  sub->add_option("--map", st->series.map_rules, "Name rule 'regex=>replacement' (with --base)");
  add_common_flags(sub, st->flags);
  sub->callback([st] {
    an::BatchOptions opts = make_options(st->flags);
    check_output_paths(st->flags, {st->series.base}, {{"--per-tensor", st->per_tensor}});
    const bool is_diff = !st->series.base.empty();
    // --out holds the aggregated group rows; --per-tensor the individual rows.
    CommonFlags tensor_flags = st->flags;
    tensor_flags.out = st->per_tensor;
    Output out(tensor_flags, an::TableKind::Series, "series");
    std::unique_ptr<an::TableWriter> groups;
    const an::ColumnTable<an::GroupRecord> group_layout =
        an::make_group_table(is_diff, st->flags.esd, st->flags.randomize);
    if (!st->flags.out.empty()) {
      groups = an::open_table_writer(st->flags.out, an::columns_of(group_layout),
                                     {{"command", "muft-analyze series"}});
    }
    opts.progress = [&out](std::size_t d, std::size_t t) { out.progress(d, t); };
    const bool quiet_tensors = st->per_tensor.empty();
    std::size_t group_rows = 0;
    const an::BatchSummary s = an::run_series(
        st->runs, st->series, opts,
        [&](const an::Record& r) {
          if (!quiet_tensors || r.failed()) out.write(r);
        },
        [&](const an::GroupRecord& g) {
          ++group_rows;
          if (groups) {
            groups->write_row(an::cells_of(group_layout, g));
          } else {
            const auto get = [&](const char* m) {
              const auto it = g.stats.find(m);
              return it == g.stats.end() ? NAN : it->second.first;
            };
            std::printf("%s", fmt::format("{} step={} {:<14} n={} srank={:.6g} H={:.6g} "
                                          "sigma1={:.6g}{}\n",
                                          g.run, g.step, g.group, g.tensors, get("stable_rank"),
                                          get("svd_entropy"), get("spectral_norm"),
                                          is_diff ? fmt::format(" l2={:.6g}", get("l2_distance"))
                                                  : std::string())
                                  .c_str());
          }
        });
    if (groups) {
      groups->close();
      std::printf("muft-analyze: %zu group rows written to %s\n", group_rows,
                  st->flags.out.c_str());
    }
    exit_status() = out.finish(s);
  });
}

}  // namespace muft::apps::analyze
