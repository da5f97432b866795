// vxctl: the command-line face of the vx library. A thin layer: parse
// arguments, call the library, print results and progress.
#include <cstdio>

#include "vx/vx.h"
#include "vxctl/commands.h"

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
  vxctl::AddQuery(app, &run);
  vxctl::AddInfo(app, &run);
  vxctl::AddVerify(app, &run);
  vxctl::AddBench(app, &run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::fprintf(stderr, "vxctl: %s (see --help)\n", e.what());
    return 2;
  }
  return run();
}
