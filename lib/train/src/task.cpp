// make_task(): the registry of tasks (one line per task).
#include "muft/train/task.h"

#include "muft/train/data.h"
#include "muft/train/digits_task.h"
#include "muft/train/lm_task.h"

namespace muft::train {

std::unique_ptr<Task> make_task(const TrainConfig& cfg, DistributedContext* dist) {
  switch (cfg.task) {
    case TaskKind::kLanguageModel:
      return std::make_unique<LanguageModelTask>(load_corpora(cfg.data), dist);
    case TaskKind::kDigits:
      return std::make_unique<DigitsTask>(load_digits_csv(resolve_data_path(cfg.digits.data)));
  }
  throw std::invalid_argument("unknown task");
}

}  // namespace muft::train
