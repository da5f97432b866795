// libFuzzer target: the manifest reader. Input: a byte, then either the
// bytes of MANIFEST (the byte even) or its JSON body (odd: the harness adds a
// right header and checksum, so the fuzzer reaches the body's parser). A
// manifest that reads must write back and read again as the same manifest;
// checking its files (none exist) must fail cleanly.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <string>

#include "io/manifest.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_manifest: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) bytes = vx::ManifestFileBytes(bytes);
  auto env = vx::NewMemEnv();
  Check(env->CreateDir("/idx").ok(), "CreateDir");
  {
    auto f = env->OpenFile("/idx/MANIFEST", vx::OpenOptions{.write = true, .create = true, .truncate = true});
    Check(f.ok() && (bytes.empty() || (*f)->Write(0, bytes.data(), bytes.size()).ok()), "writing the input");
  }
  auto m = vx::ReadManifest(env.get(), "/idx");
  if (!m.ok()) return 0;
  static_cast<void>(vx::CheckFiles(env.get(), "/idx", *m, /*full=*/true));
  for (const vx::ManifestFile& f : m->AllFiles()) static_cast<void>(m->PageBindingOf(f.name));
  Check(vx::WriteManifest(env.get(), "/idx", *m).ok(), "WriteManifest of a manifest that read");
  auto again = vx::ReadManifest(env.get(), "/idx");
  Check(again.ok(), "a written manifest does not read back");
  Check(again->generation == m->generation && again->page_nonce == m->page_nonce && again->params == m->params &&
            again->files == m->files && again->segments == m->segments,
        "a manifest changed through a write and a read");
  return 0;
}
