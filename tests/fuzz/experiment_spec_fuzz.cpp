// libFuzzer target: the fuzz input is the text of an experiment spec (TOML, docs/experiments.md).
// Any input must either be rejected with std::invalid_argument (the documented error of
// parse_spec and expand_grid) or give a spec that validates and expands into runs with
// distinct, non-empty ids and directories under out_dir.

#include <cstdint>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string>

#include "muft/sweep/grid.h"
#include "muft/sweep/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace muft::sweep;
  ExperimentSpec spec;
  try {
    spec = parse_spec(std::string(reinterpret_cast<const char*>(data), size), "fuzz.toml");
  } catch (const std::invalid_argument&) {
    return 0;  // rejected with a message: fine
  }
  std::string why;
  if (!spec.IsValid(&why)) std::abort();  // parse_spec returned a spec it calls invalid
  std::vector<RunSpec> runs;
  try {
    runs = expand_grid(spec);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  std::set<std::string> ids;
  for (const RunSpec& r : runs) {
    if (r.id.empty() || !ids.insert(r.id).second) std::abort();
    if (r.dir != spec.out_dir + "/" + r.id) std::abort();
  }
  return 0;
}
