// MANIFEST: the index directory's table of contents. It names every file of
// the current index version with its size and checksums, and the index
// parameters. It is replaced atomically (write MANIFEST.tmp, fsync, rename
// over MANIFEST, fsync the directory), so a crash leaves the old or the new
// manifest, never a mix. Format in docs/format.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/env.h"

namespace vx {

inline constexpr char kManifestName[] = "MANIFEST";
inline constexpr uint32_t kManifestMagic = 0x464D5856;  // "VXMF"
inline constexpr uint16_t kManifestVersion = 1;

struct ManifestFile {
  std::string name;            // relative to the index directory
  uint64_t size = 0;
  uint64_t head_checksum = 0;  // XXH3 of the first min(size, 64 KiB): checked at open
  uint64_t checksum = 0;       // XXH3 of the whole file: checked by a full verify
  friend bool operator==(const ManifestFile&, const ManifestFile&) = default;
};

struct Manifest {
  uint64_t generation = 0;  // incremented by each commit
  std::map<std::string, std::string> params;
  std::vector<ManifestFile> files;
};

// Size and checksums of dir/name as it is now.
Result<ManifestFile> DescribeFile(Env* env, const std::string& dir, const std::string& name);

// Atomically replaces dir/MANIFEST.
Status WriteManifest(Env* env, const std::string& dir, const Manifest& manifest);

// Reads and checks dir/MANIFEST (magic, version, checksum, well-formed body).
Result<Manifest> ReadManifest(Env* env, const std::string& dir);

// Checks that every listed file exists with its recorded size and head
// checksum (and whole-file checksum if `full`). The error names the file and
// says whether it is missing, truncated, grown or mismatched.
Status CheckFiles(Env* env, const std::string& dir, const Manifest& manifest, bool full);

}  // namespace vx
