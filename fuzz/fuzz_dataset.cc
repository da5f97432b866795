// libFuzzer target: the dataset readers (every format vxctl and the build
// accept). Input: one byte choosing the format, then the file's bytes. A
// reader may refuse the file with any Status; it may not crash, leak, read
// out of bounds or return rows that disagree with the shape it reports.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/dataset.h"

namespace {

const char* const kExtensions[] = {"fvecs", "ivecs", "bvecs", "fbin", "u8bin", "i8bin", "ibin", "npy"};

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_dataset: %s\n", what);
    std::abort();
  }
}

// A directory of its own for the input file, removed at exit.
struct TempDir {
  TempDir() {
    path = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + std::string("/vx_fuzz_dataset_XXXXXX");
    Check(mkdtemp(path.data()) != nullptr, "mkdtemp failed");
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const TempDir dir;
  const std::string path = dir.path + "/input." + kExtensions[data[0] % 8];
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    Check(f != nullptr, "cannot write the input file");
    if (size > 1) std::fwrite(data + 1, 1, size - 1, f);
    std::fclose(f);
  }
  if (auto m = vx::ReadAllFloat(path); m.ok()) {
    Check(m->data.size() == m->rows * m->dim, "ReadAllFloat: rows x dim disagrees with the data");
  }
  if (auto ids = vx::ReadAllIds(path); ids.ok()) {
    Check(ids->data.size() == ids->rows * ids->dim, "ReadAllIds: rows x dim disagrees with the data");
  }
  static_cast<void>(vx::ReadKeys(path));
  // The streaming reader: a seek, then reads in small steps to the end.
  if (auto r = vx::VectorReader::Open(path); r.ok()) {
    const vx::DatasetInfo info = (*r)->info();
    Check(info.dim >= 1 && info.dim <= vx::kMaxDim, "VectorReader: dimension out of range");
    std::vector<uint8_t> buf(3 * size_t{info.dim} * vx::DTypeSize(info.dtype));
    if (info.count > 1 && (*r)->Seek(info.count / 2).ok()) {
      uint64_t rows = 0;
      while (true) {
        auto got = (*r)->Read(3, buf.data());
        if (!got.ok() || *got == 0) break;
        rows += *got;
      }
      Check(info.count / 2 + rows <= info.count, "VectorReader: more rows than the header says");
    }
  }
  return 0;
}
