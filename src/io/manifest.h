// MANIFEST: the index directory's table of contents. It names every file of
// the current index generation with its size and checksums, and the index
// parameters. It is replaced atomically (write MANIFEST.tmp, fsync, rename
// over MANIFEST, fsync the directory), so a crash leaves the old or the new
// manifest, never a mix. A generation's files live in their own directory,
// dir/gen-N, so a rebuild writes beside the index it replaces. Format in
// docs/format.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/env.h"

namespace vx {

inline constexpr char kManifestName[] = "MANIFEST";
inline constexpr uint32_t kManifestMagic = 0x464D5856;  // "VXMF"
// 3: a list of segments after the base generation's files; 2: files in the
// generation's directory; 1: beside the manifest.
inline constexpr uint16_t kManifestVersion = 3;

struct ManifestFile {
  std::string name;  // relative to the generation's directory
  uint64_t size = 0;
  uint64_t head_checksum = 0;  // XXH3 of the first min(size, 64 KiB): checked at open
  uint64_t checksum = 0;       // XXH3 of the whole file: checked by a full verify
  friend bool operator==(const ManifestFile&, const ManifestFile&) = default;
};

// A segment on top of the base generation (a delta of rows, tombstones,
// attributes): its files live in the generation's directory too.
struct ManifestSegment {
  uint64_t id = 0;   // ascending in the list, never reused
  std::string kind;  // what the segment holds
  std::vector<ManifestFile> files;
  friend bool operator==(const ManifestSegment&, const ManifestSegment&) = default;
};

// The binding (io/page.h) of the pages of file `name` of an index whose
// manifest records `page_nonce`: 0 (unbound) when the nonce is 0.
uint64_t PageBinding(uint64_t page_nonce, const std::string& name);

// dir/gen-N: where generation N's files live.
std::string GenerationDir(const std::string& dir, uint64_t generation);

struct Manifest {
  uint64_t generation = 0;  // 1 for the first build, then one more per commit
  // Drawn at random per generation; each paged file's pages carry
  // PageBinding(page_nonce, name). 0 in manifests written before pages were
  // bound.
  uint64_t page_nonce = 0;
  std::map<std::string, std::string> params;
  std::vector<ManifestFile> files;        // the base generation's
  std::vector<ManifestSegment> segments;  // applied in order after the base
  // The base's files, then each segment's.
  std::vector<ManifestFile> AllFiles() const;
  // Where this generation's file `name` lives.
  std::string FilePath(const std::string& dir, const std::string& name) const {
    return GenerationDir(dir, generation) + "/" + name;
  }
  uint64_t PageBindingOf(const std::string& name) const { return PageBinding(page_nonce, name); }
};

// Size and checksums of dir/name as it is now.
Result<ManifestFile> DescribeFile(Env* env, const std::string& dir, const std::string& name);

// The bytes of a manifest file around the JSON `body`: header and checksum.
std::string ManifestFileBytes(const std::string& body);

// Atomically replaces dir/MANIFEST.
Status WriteManifest(Env* env, const std::string& dir, const Manifest& manifest);

// Reads and checks dir/MANIFEST (magic, version, checksum, well-formed body,
// segment ids ascending); *bytes (optional) gets the file as read.
Result<Manifest> ReadManifest(Env* env, const std::string& dir, std::string* bytes = nullptr);
// The same checks of a manifest file's bytes; `path` names them in errors.
Result<Manifest> ParseManifest(const std::string& bytes, const std::string& path);

// Takes dir/LOCK, held by a build or an IndexWriter for as long as it
// writes to the index directory: Busy, saying so, while another holds it.
Result<std::unique_ptr<FileLock>> LockIndexDir(Env* env, const std::string& dir);

// Writes the next generation of the index in `dir` beside the committed
// one, which stays whole and servable (an index opened on it keeps its open
// files) until Commit replaces it:
//   Begin   locks dir/LOCK (Busy while another build holds it; `locked`:
//           the caller holds it, an IndexWriter's reindex), takes N =
//           1 + the highest generation that the manifest or a gen-N
//           directory names (a crashed build's is never reused), deletes
//           the directories of crashed builds, refuses with NoSpace when
//           the file system has fewer than `min_bytes` free (the build's
//           lower bound, so that it fails before its compute, not after),
//           and creates dir/gen-N;
//   Path    where the builder writes, and fsyncs, each file;
//   Commit  fsyncs the generation's directory, records the files (and
//           the segments on top of them, if any) in a new manifest, commits it, then deletes every other generation's
//           directory (a failed delete is retried by the next commit).
// Destroyed without a commit (the build failed), it deletes dir/gen-N,
// unless the manifest names it (a commit that failed after its rename). The
// lock is released on destruction.
class GenerationWriter {
 public:
  // `page_nonce` 0: a fresh one is drawn; else the one the files' pages were
  // sealed with (a restored snapshot's).
  static Result<std::unique_ptr<GenerationWriter>> Begin(Env* env, const std::string& dir, uint64_t min_bytes,
                                                         uint64_t page_nonce = 0, bool locked = false);
  ~GenerationWriter();
  std::string Path(const std::string& name) const { return gen_dir_ + "/" + name; }
  const std::string& dir() const { return gen_dir_; }  // dir/gen-N
  // The binding to seal the pages of file `name` with.
  uint64_t PageBindingOf(const std::string& name) const { return PageBinding(page_nonce_, name); }
  Status Commit(std::map<std::string, std::string> params, const std::vector<std::string>& files,
                std::vector<ManifestSegment> segments = {});

 private:
  GenerationWriter(Env* env, std::string dir, std::unique_ptr<FileLock> lock, uint64_t generation, uint64_t page_nonce)
      : env_(env),
        dir_(std::move(dir)),
        lock_(std::move(lock)),
        generation_(generation),
        page_nonce_(page_nonce),
        gen_dir_(GenerationDir(dir_, generation)) {}
  Env* env_;
  std::string dir_;
  std::unique_ptr<FileLock> lock_;
  uint64_t generation_;
  uint64_t page_nonce_;
  std::string gen_dir_;
  bool committed_ = false;
};

// Checks that every listed file, the base's and the segments', exists with
// its recorded size and head checksum (and whole-file checksum if `full`).
// The error names the file and says whether it is missing, truncated, grown
// or mismatched.
Status CheckFiles(Env* env, const std::string& dir, const Manifest& manifest, bool full);
// The same for one listed file.
Status CheckFile(Env* env, const std::string& dir, const Manifest& manifest, const ManifestFile& want, bool full);

}  // namespace vx
