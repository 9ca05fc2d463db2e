#pragma once
/// \file outputs.h
/// Refuses a command line on which two outputs, or an output and an input, are one file: the
/// second writer would silently overwrite the first (`muft-verify --json v.json --h5 v.json`).

#include <filesystem>
#include <string>
#include <vector>

namespace muft::app {

/// A file named on the command line, with the flag (or argument name) that named it.
struct NamedPath {
  std::string flag;  ///< e.g. "--json"; used in the message
  std::string path;  ///< as given; empty: the option was not given (ignored)
};

/// The file `path` would write to: absolute, "." and ".." removed, symbolic links resolved in
/// every existing component, including a final symlink whose target does not exist yet (writing
/// through it would create that target).
std::filesystem::path resolved_path(const std::string& path);

/// True when a and b are one file: equal resolved paths, or both exist and share device and
/// inode (hard links).
bool same_file(const std::string& a, const std::string& b);

/// Throws std::invalid_argument("--json and --h5 name the same file 'v.json' (one output each)")
/// when two non-empty outputs are one file, or ("--out 'x.h5' is also an input (SPEC); refusing
/// to overwrite it") when an output is one of the inputs.
void check_outputs(const std::vector<NamedPath>& outputs,
                   const std::vector<NamedPath>& inputs = {});

}  // namespace muft::app
