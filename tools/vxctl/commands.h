// vxctl subcommands. Each Add* registers one subcommand on the app and sets
// `*run` to the function that runs it once arguments are parsed. A run
// returns the process exit status: 0 success, 1 an I/O or data error (printed
// as one clear message), 2 bad arguments.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace vxctl {

using RunFn = std::function<int()>;

void AddVersion(CLI::App& app, RunFn* run);
void AddGen(CLI::App& app, RunFn* run);
void AddGt(CLI::App& app, RunFn* run);
void AddRecall(CLI::App& app, RunFn* run);

}  // namespace vxctl
