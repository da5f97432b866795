// vxctl: the command-line face of the vx library. A thin layer: parse
// arguments, call the library, print results and progress.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "vx/vx.h"
#include "vxctl/commands.h"

namespace {

// The parse error, with the command or option meant when a word is a typo.
std::string Explain(CLI::App& app, int argc, char** argv, const CLI::ParseError& e) {
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands({})) commands.push_back(sub->get_name());
  if (argc >= 2 && argv[1][0] != '-' && std::find(commands.begin(), commands.end(), argv[1]) == commands.end()) {
    const std::string near = vxctl::Suggest(argv[1], commands);
    return std::string("unknown command '") + argv[1] + "'" + (near.empty() ? "" : "; did you mean '" + near + "'?");
  }
  const std::vector<CLI::App*> chosen = app.get_subcommands();
  if (chosen.empty() || dynamic_cast<const CLI::ExtrasError*>(&e) == nullptr) return e.what();
  std::vector<std::string> options;
  for (const CLI::Option* o : chosen[0]->get_options()) {
    for (const std::string& name : o->get_lnames()) options.push_back("--" + name);
  }
  for (int i = 2; i < argc; ++i) {
    const std::string word = std::string(argv[i]).substr(0, std::string(argv[i]).find('='));
    if (word.rfind("--", 0) != 0 || std::find(options.begin(), options.end(), word) != options.end()) continue;
    const std::string near = vxctl::Suggest(word, options);
    return "unknown option " + word + " for " + chosen[0]->get_name() +
           (near.empty() ? "" : "; did you mean " + near + "?");
  }
  return e.what();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vxctl: build, query and benchmark vx vector indexes"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("vxctl ") + vx_version());
  vxctl::RunFn run;
  vxctl::AddVersion(app, &run);
  vxctl::AddGen(app, &run);
  vxctl::AddGt(app, &run);
  vxctl::AddRecall(app, &run);
  vxctl::AddDemo(app, &run);
  vxctl::AddBenchIo(app, &run);
  vxctl::AddQuantEval(app, &run);
  vxctl::AddBuild(app, &run);
  vxctl::AddPlan(app, &run);
  vxctl::AddQuery(app, &run);
  vxctl::AddInfo(app, &run);
  vxctl::AddVerify(app, &run);
  vxctl::AddInsert(app, &run);
  vxctl::AddDelete(app, &run);
  vxctl::AddCheckpoint(app, &run);
  vxctl::AddRebuild(app, &run, false);
  vxctl::AddRebuild(app, &run, true);
  vxctl::AddBench(app, &run);
  vxctl::AddSnapshot(app, &run);
  vxctl::AddRestore(app, &run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return vxctl::Usage(Explain(app, argc, argv, e));
  }
  return run();
}
