#include "io/manifest.h"

#include <xxhash.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <stdexcept>
#include <string_view>

#include "core/checksum.h"
#include "io/paged_file.h"

namespace vx {
namespace {

constexpr size_t kHeadBytes = 64 << 10;
constexpr size_t kHeaderSize = 24;  // magic u32, version u16, reserved u16, body_len u64, checksum u64
constexpr uint64_t kMaxBodyBytes = 64 << 20;

Result<std::vector<uint8_t>> ReadWhole(File* f, uint64_t offset, uint64_t n) {
  std::vector<uint8_t> buf(n);
  size_t got = 0;
  VX_RETURN_IF_ERROR(f->Read(offset, n, buf.data(), &got));
  buf.resize(got);
  return buf;
}

// Deletes a generation's directory and its files (it has no subdirectories).
Status DeleteGeneration(Env* env, const std::string& gen_dir) {
  VX_ASSIGN_OR_RETURN(const std::vector<std::string> names, env->ListDir(gen_dir));
  for (const std::string& name : names) VX_RETURN_IF_ERROR(env->DeleteFile(gen_dir + "/" + name));
  return env->DeleteDir(gen_dir);
}

// The N of a directory entry named gen-N, or nullopt.
std::optional<uint64_t> GenerationOf(const std::string& name) {
  if (name.size() < 5 || name.compare(0, 4, "gen-") != 0 || name.size() > 24) return std::nullopt;
  uint64_t n = 0;
  for (size_t i = 4; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return n;
}

// The page nonce as 16 hex digits: a manifest of one size whatever the
// nonce (the crash tests cut writes at byte offsets).
std::string NonceHex(uint64_t nonce) {
  char s[17];
  std::snprintf(s, sizeof s, "%016llx", static_cast<unsigned long long>(nonce));
  return s;
}

std::optional<uint64_t> ParseNonceHex(const std::string& s) {
  uint64_t v = 0;
  const auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (s.size() != 16 || err != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// j[key] as an unsigned integer. A float or a negative number is refused
// here: nlohmann converts them by a cast, undefined when out of range.
uint64_t Unsigned(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = j.at(key);
  if (!v.is_number_unsigned()) throw std::runtime_error(std::string("'") + key + "' is not an unsigned integer");
  return v.get<uint64_t>();
}

}  // namespace

uint64_t PageBinding(uint64_t page_nonce, const std::string& name) {
  if (page_nonce == 0) return 0;
  const uint64_t b = XXH3_64bits_withSeed(name.data(), name.size(), page_nonce);
  return b == 0 ? 1 : b;
}

std::string GenerationDir(const std::string& dir, uint64_t generation) {
  return dir + "/gen-" + std::to_string(generation);
}

Result<ManifestFile> DescribeFile(Env* env, const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  VX_ASSIGN_OR_RETURN(auto f, env->OpenFile(path, OpenOptions{}));
  ManifestFile mf;
  mf.name = name;
  VX_ASSIGN_OR_RETURN(mf.size, f->Size());
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  std::vector<uint8_t> buf(1 << 20);
  uint64_t off = 0;
  while (off < mf.size) {
    size_t got = 0;
    const Status s = f->Read(off, std::min<uint64_t>(buf.size(), mf.size - off), buf.data(), &got);
    if (!s.ok() || got == 0) {
      XXH3_freeState(st);
      return s.ok() ? Status::Corruption(path + ": ends early while checksumming") : s;
    }
    if (off == 0) mf.head_checksum = Checksum(buf.data(), std::min<size_t>(got, kHeadBytes));
    XXH3_64bits_update(st, buf.data(), got);
    off += got;
  }
  if (mf.size == 0) mf.head_checksum = Checksum(nullptr, 0);
  mf.checksum = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return mf;
}

std::string ManifestFileBytes(const std::string& body) {
  std::string bytes(kHeaderSize, '\0');
  const uint32_t magic = kManifestMagic;
  const uint16_t version = kManifestVersion, reserved = 0;
  const uint64_t len = body.size(), sum = Checksum(body.data(), body.size());
  std::memcpy(bytes.data(), &magic, 4);
  std::memcpy(bytes.data() + 4, &version, 2);
  std::memcpy(bytes.data() + 6, &reserved, 2);
  std::memcpy(bytes.data() + 8, &len, 8);
  std::memcpy(bytes.data() + 16, &sum, 8);
  return bytes + body;
}

Status WriteManifest(Env* env, const std::string& dir, const Manifest& m) {
  nlohmann::json body;
  body["generation"] = m.generation;
  if (m.page_nonce != 0) body["page_nonce"] = NonceHex(m.page_nonce);
  body["params"] = m.params;
  auto files = [](const std::vector<ManifestFile>& list) {
    nlohmann::json a = nlohmann::json::array();
    for (const ManifestFile& f : list) {
      a.push_back({{"name", f.name}, {"size", f.size}, {"head_checksum", f.head_checksum}, {"checksum", f.checksum}});
    }
    return a;
  };
  body["files"] = files(m.files);
  body["segments"] = nlohmann::json::array();
  for (const ManifestSegment& seg : m.segments) {
    body["segments"].push_back({{"id", seg.id}, {"kind", seg.kind}, {"files", files(seg.files)}});
  }
  const std::string bytes = ManifestFileBytes(body.dump(1));

  return ReplaceWholeFile(env, dir + "/" + kManifestName, bytes.data(), bytes.size());
}

Result<Manifest> ReadManifest(Env* env, const std::string& dir, std::string* bytes) {
  const std::string path = dir + "/" + kManifestName;
  auto opened = env->OpenFile(path, OpenOptions{});
  if (!opened.ok()) {
    if (opened.status().code() == StatusCode::kNotFound) {
      return Status::NotFound(dir + ": not a vx index (no " + kManifestName + ")");
    }
    return opened.status();
  }
  File* f = opened->get();
  VX_ASSIGN_OR_RETURN(const uint64_t size, f->Size());
  // Larger than any manifest: the header alone, for its error.
  VX_ASSIGN_OR_RETURN(auto read, ReadWhole(f, 0, std::min<uint64_t>(size, kHeaderSize + kMaxBodyBytes)));
  if (size > kHeaderSize + kMaxBodyBytes && read.size() >= kHeaderSize) {
    uint64_t len;
    std::memcpy(&len, read.data() + 8, 8);
    return Status::Corruption(path + ": body length " + std::to_string(len) + " disagrees with file size " +
                              std::to_string(size));
  }
  if (read.size() != size) {
    return Status::Corruption(path + ": read " + std::to_string(read.size()) + " of its " + std::to_string(size) +
                              " bytes");
  }
  std::string whole(read.begin(), read.end());
  VX_ASSIGN_OR_RETURN(Manifest m, ParseManifest(whole, path));
  if (bytes) *bytes = std::move(whole);
  return m;
}

Result<Manifest> ParseManifest(const std::string& bytes, const std::string& path) {
  const uint64_t size = bytes.size();
  if (size < kHeaderSize) return Status::Corruption(path + ": truncated header (" + std::to_string(size) + " bytes)");
  uint32_t magic;
  uint16_t version;
  uint64_t len, sum;
  std::memcpy(&magic, bytes.data(), 4);
  std::memcpy(&version, bytes.data() + 4, 2);
  std::memcpy(&len, bytes.data() + 8, 8);
  std::memcpy(&sum, bytes.data() + 16, 8);
  if (magic != kManifestMagic) return Status::Corruption(path + ": bad magic (not a vx manifest)");
  if (version < kManifestVersion) {
    return Status::NotSupported(path + ": manifest format version " + std::to_string(version) +
                                ", written by an older vx; rebuild the index");
  }
  if (version > kManifestVersion) {
    return Status::NotSupported(path + ": manifest format version " + std::to_string(version) +
                                " (this build reads version " + std::to_string(kManifestVersion) + ")");
  }
  if (len > kMaxBodyBytes || kHeaderSize + len != size) {
    return Status::Corruption(path + ": body length " + std::to_string(len) + " disagrees with file size " +
                              std::to_string(size));
  }
  const std::string_view body(bytes.data() + kHeaderSize, len);
  if (Checksum(body.data(), body.size()) != sum) return Status::Corruption(path + ": checksum mismatch");
  Manifest m;
  try {
    const auto j = nlohmann::json::parse(body.begin(), body.end());
    m.generation = Unsigned(j, "generation");
    if (j.contains("page_nonce")) {
      const std::optional<uint64_t> nonce = ParseNonceHex(j.at("page_nonce").get<std::string>());
      if (!nonce) return Status::Corruption(path + ": page_nonce is not 16 hex digits");
      m.page_nonce = *nonce;
    }
    m.params = j.at("params").get<std::map<std::string, std::string>>();
    auto files = [](const nlohmann::json& a) {
      std::vector<ManifestFile> out;
      for (const auto& jf : a) {
        out.push_back(ManifestFile{jf.at("name").get<std::string>(), Unsigned(jf, "size"),
                                   Unsigned(jf, "head_checksum"), Unsigned(jf, "checksum")});
      }
      return out;
    };
    m.files = files(j.at("files"));
    for (const auto& js : j.at("segments")) {
      m.segments.push_back(
          ManifestSegment{Unsigned(js, "id"), js.at("kind").get<std::string>(), files(js.at("files"))});
    }
  } catch (const std::exception& e) {  // nlohmann's exceptions and Unsigned's
    return Status::Corruption(path + ": malformed body: " + e.what());
  }
  for (size_t i = 1; i < m.segments.size(); ++i) {
    if (m.segments[i].id <= m.segments[i - 1].id) {
      return Status::Corruption(path + ": segment " + std::to_string(m.segments[i].id) + " follows segment " +
                                std::to_string(m.segments[i - 1].id) + " (ids must ascend)");
    }
  }
  return m;
}

std::vector<ManifestFile> Manifest::AllFiles() const {
  std::vector<ManifestFile> all = files;
  for (const ManifestSegment& seg : segments) all.insert(all.end(), seg.files.begin(), seg.files.end());
  return all;
}

Status CheckFiles(Env* env, const std::string& dir, const Manifest& manifest, bool full) {
  for (const ManifestFile& want : manifest.AllFiles()) VX_RETURN_IF_ERROR(CheckFile(env, dir, manifest, want, full));
  return Status::Ok();
}

Status CheckFile(Env* env, const std::string& dir, const Manifest& manifest, const ManifestFile& want, bool full) {
  const std::string path = manifest.FilePath(dir, want.name);
  if (!env->FileExists(path)) return Status::Corruption(path + ": listed in the manifest but missing");
  VX_ASSIGN_OR_RETURN(auto f, env->OpenFile(path, OpenOptions{}));
  VX_ASSIGN_OR_RETURN(const uint64_t size, f->Size());
  if (size < want.size) {
    return Status::Corruption(path + ": truncated: " + std::to_string(size) + " bytes, the manifest says " +
                              std::to_string(want.size));
  }
  if (size > want.size) {
    return Status::Corruption(path + ": " + std::to_string(size) + " bytes, the manifest says " +
                              std::to_string(want.size) + " (a file from another index version?)");
  }
  if (full) {
    VX_ASSIGN_OR_RETURN(const ManifestFile have, DescribeFile(env, GenerationDir(dir, manifest.generation), want.name));
    if (have.checksum != want.checksum) return Status::Corruption(path + ": content checksum mismatch");
  } else {
    VX_ASSIGN_OR_RETURN(auto head, ReadWhole(f.get(), 0, std::min<uint64_t>(size, kHeadBytes)));
    if (Checksum(head.data(), head.size()) != want.head_checksum) {
      return Status::Corruption(path + ": head checksum mismatch (a file from another index version?)");
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<FileLock>> LockIndexDir(Env* env, const std::string& dir) {
  auto lock = env->LockFile(dir + "/LOCK");
  if (lock.ok() || lock.status().code() != StatusCode::kBusy) return lock;
  return Status::Busy(dir + ": a build or an IndexWriter holds this index directory (" + lock.status().message() + ")");
}

Result<std::unique_ptr<GenerationWriter>> GenerationWriter::Begin(Env* env, const std::string& dir, uint64_t min_bytes,
                                                                  uint64_t page_nonce, bool locked) {
  VX_RETURN_IF_ERROR(env->CreateDir(dir));
  std::unique_ptr<FileLock> lock;
  if (!locked) {
    VX_ASSIGN_OR_RETURN(lock, LockIndexDir(env, dir));
  }
  const Result<Manifest> committed = ReadManifest(env, dir);
  const uint64_t named = committed.ok() ? committed->generation : 0;  // 0: none (generations start at 1)
  // A generation the manifest does not name is a crashed build's: opens
  // follow the manifest and the lock is ours, so nothing reads or writes it.
  // Deleting it now gives its space to this build. Nothing is deleted when
  // the manifest exists but cannot be read.
  const bool known = committed.ok() || committed.status().code() == StatusCode::kNotFound;
  uint64_t last = named;
  VX_ASSIGN_OR_RETURN(const std::vector<std::string> names, env->ListDir(dir));
  for (const std::string& name : names) {
    const std::optional<uint64_t> g = GenerationOf(name);
    if (!g) continue;
    last = std::max(last, *g);
    if (known && *g != named)
      static_cast<void>(DeleteGeneration(env, dir + "/" + name));  // best effort: the next commit retries
  }
  VX_ASSIGN_OR_RETURN(const uint64_t free, env->FreeSpace(dir));
  if (free < min_bytes) {
    // MB rounded so that the figures never show enough room.
    return Status::NoSpace(dir + ": the new index needs at least " + std::to_string((min_bytes + (1 << 20) - 1) >> 20) +
                           " MB on disk and " + std::to_string(free >> 20) + " MB are free" +
                           (committed.ok() ? " (the current index stays until the new one is committed)" : "") +
                           "; free space or build into another directory");
  }
  // A nonce drawn per generation binds its pages to it: a page copied from
  // another index, or another generation of this one, fails its check.
  std::random_device rd;
  const uint64_t nonce = page_nonce != 0 ? page_nonce : ((uint64_t{rd()} << 32) | rd()) | 1;  // never 0 (unbound)
  std::unique_ptr<GenerationWriter> w(new GenerationWriter(env, dir, std::move(lock), last + 1, nonce));
  VX_RETURN_IF_ERROR(env->CreateDir(w->gen_dir_));
  return w;
}

GenerationWriter::~GenerationWriter() {
  if (committed_) return;
  // A commit that failed after its rename (the directory fsync) left the
  // manifest naming this generation: its files must stay.
  if (auto m = ReadManifest(env_, dir_); m.ok() && m->generation == generation_) return;
  static_cast<void>(DeleteGeneration(env_, gen_dir_));  // best effort: the build already failed
}

Status GenerationWriter::Commit(std::map<std::string, std::string> params, const std::vector<std::string>& files,
                                std::vector<ManifestSegment> segments) {
  VX_RETURN_IF_ERROR(env_->SyncDir(gen_dir_));
  Manifest m;
  m.generation = generation_;
  m.page_nonce = page_nonce_;
  m.params = std::move(params);
  for (const std::string& name : files) {
    VX_ASSIGN_OR_RETURN(ManifestFile f, DescribeFile(env_, gen_dir_, name));
    m.files.push_back(std::move(f));
  }
  m.segments = std::move(segments);
  VX_RETURN_IF_ERROR(WriteManifest(env_, dir_, m));
  committed_ = true;
  // The new generation is durable: the old ones may go. An index opened on
  // one keeps reading its open files; a failure here leaves only garbage.
  if (auto names = env_->ListDir(dir_); names.ok()) {
    for (const std::string& name : *names) {
      const auto g = GenerationOf(name);
      if (g && *g != generation_) static_cast<void>(DeleteGeneration(env_, dir_ + "/" + name));
    }
  }
  return Status::Ok();
}

}  // namespace vx
