// Snapshot and Restore (vx/index.h): a committed generation as one streamed
// archive. Format (docs/format.md):
//   "VXSNAP01"
//   u32 manifest length, u64 XXH3 of the manifest, the MANIFEST file's bytes
//   for each file of the manifest, in its order, frames covering its bytes:
//     u32 raw length (1..1 MiB), u32 compressed length, u64 XXH3 of the
//     compressed bytes, then the zstd frame
//   "VXSNEND1", u64 the archive's length before this trailer
// Restore checks every frame and every file's whole checksum (the
// manifest's) before it commits, and commits through a new generation, so a
// bad archive never leaves a half index.
#include <xxhash.h>
#include <zstd.h>

#include <cstring>
#include <string_view>

#include "core/checksum.h"
#include "index/index_base.h"
#include "io/env.h"
#include "io/manifest.h"
#include "vx/index.h"

namespace vx {
namespace {

constexpr char kMagic[8] = {'V', 'X', 'S', 'N', 'A', 'P', '0', '1'};
constexpr char kTrailer[8] = {'V', 'X', 'S', 'N', 'E', 'N', 'D', '1'};
constexpr size_t kFrameRaw = 1 << 20;
constexpr size_t kFrameHeader = 16;
constexpr uint32_t kMaxManifestBytes = 64 << 20;

struct ZstdCtx {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ~ZstdCtx() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};

Status Stopped(const SnapshotOptions& o, const char* what) {
  if (o.cancel && o.cancel->load()) return Status::Cancelled(std::string(what) + " cancelled");
  return Status::Ok();
}

// Appends to a file through the Env, in large writes.
class Appender {
 public:
  explicit Appender(std::unique_ptr<File> f) : f_(std::move(f)) {}
  Status Append(const void* p, size_t n) {
    buf_.append(static_cast<const char*>(p), n);
    return buf_.size() >= (8 << 20) ? Flush() : Status::Ok();
  }
  Status Flush() {
    VX_RETURN_IF_ERROR(f_->Write(offset_, buf_.data(), buf_.size()));
    offset_ += buf_.size();
    buf_.clear();
    return Status::Ok();
  }
  Status Finish() {
    VX_RETURN_IF_ERROR(Flush());
    return f_->Sync();
  }
  uint64_t size() const { return offset_ + buf_.size(); }

 private:
  std::unique_ptr<File> f_;
  std::string buf_;
  uint64_t offset_ = 0;
};

template <class T>
void Put(std::string* s, T v) {
  s->append(reinterpret_cast<const char*>(&v), sizeof v);
}

// The committed generation's manifest (its bytes too) and every file of it,
// open. Opened files stay readable when a rebuild commits and deletes them;
// a rebuild that commits between reading the manifest and opening the files
// is met by reading the new manifest again.
struct OpenGeneration {
  Manifest manifest;
  std::string manifest_bytes;
  std::vector<std::unique_ptr<File>> files;
};

Result<OpenGeneration> OpenCommitted(Env* env, const std::string& dir) {
  for (int attempt = 1;; ++attempt) {
    OpenGeneration g;
    VX_ASSIGN_OR_RETURN(g.manifest, ReadManifest(env, dir, &g.manifest_bytes));
    Status failed;
    for (const ManifestFile& f : g.manifest.AllFiles()) {
      auto opened = env->OpenFile(g.manifest.FilePath(dir, f.name), OpenOptions{});
      if (!opened.ok()) {
        failed = opened.status();
        break;
      }
      g.files.push_back(std::move(*opened));
    }
    if (failed.ok()) return g;
    auto now = ReadManifest(env, dir);
    if (attempt == 3 || !now.ok() || now->generation == g.manifest.generation) return failed;
  }
}

Status WriteArchive(Env* env, const std::string& dir, OpenGeneration& g, const std::string& archive,
                    const SnapshotOptions& o, SnapshotInfo* info) {
  const std::string tmp = archive + ".tmp";
  VX_ASSIGN_OR_RETURN(auto file, env->OpenFile(tmp, OpenOptions{.write = true, .create = true, .truncate = true}));
  Appender out(std::move(file));
  std::string head(kMagic, sizeof kMagic);
  Put<uint32_t>(&head, static_cast<uint32_t>(g.manifest_bytes.size()));
  Put<uint64_t>(&head, Checksum(g.manifest_bytes.data(), g.manifest_bytes.size()));
  head += g.manifest_bytes;
  VX_RETURN_IF_ERROR(out.Append(head.data(), head.size()));
  const std::vector<ManifestFile> listed = g.manifest.AllFiles();
  uint64_t total = 0, done = 0;
  for (const ManifestFile& f : listed) total += f.size;
  ZstdCtx z;
  std::vector<char> raw(kFrameRaw), packed(ZSTD_compressBound(kFrameRaw));
  for (size_t i = 0; i < listed.size(); ++i) {
    const ManifestFile& f = listed[i];
    XXH3_state_t* st = XXH3_createState();
    XXH3_64bits_reset(st);
    for (uint64_t off = 0; off < f.size; off += kFrameRaw) {
      VX_RETURN_IF_ERROR(Stopped(o, "snapshot"));
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kFrameRaw, f.size - off));
      size_t got = 0;
      Status s = g.files[i]->Read(off, n, raw.data(), &got);
      if (s.ok() && got != n) {
        s = Status::Corruption(g.files[i]->path() + ": " + std::to_string(off + got) + " bytes, the manifest says " +
                               std::to_string(f.size));
      }
      if (!s.ok()) {
        XXH3_freeState(st);
        return s;
      }
      XXH3_64bits_update(st, raw.data(), n);
      const size_t c = ZSTD_compressCCtx(z.c, packed.data(), packed.size(), raw.data(), n, o.level);
      if (ZSTD_isError(c)) {
        XXH3_freeState(st);
        return Status::InvalidArgument(std::string("zstd: ") + ZSTD_getErrorName(c));
      }
      std::string frame;
      Put<uint32_t>(&frame, static_cast<uint32_t>(n));
      Put<uint32_t>(&frame, static_cast<uint32_t>(c));
      Put<uint64_t>(&frame, Checksum(packed.data(), c));
      frame.append(packed.data(), c);
      VX_RETURN_IF_ERROR(out.Append(frame.data(), frame.size()));
      done += n;
      if (o.progress) o.progress(done, total, "snapshot");
    }
    const uint64_t whole = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    // A file that no longer matches its manifest is not shipped.
    if (whole != f.checksum) {
      return Status::Corruption(g.files[i]->path() +
                                ": whole-file checksum mismatch (the index is damaged: run "
                                "vxctl verify); no snapshot written");
    }
  }
  std::string tail(kTrailer, sizeof kTrailer);
  Put<uint64_t>(&tail, out.size());
  VX_RETURN_IF_ERROR(out.Append(tail.data(), tail.size()));
  VX_RETURN_IF_ERROR(out.Finish());
  VX_RETURN_IF_ERROR(env->RenameFile(tmp, archive));
  VX_RETURN_IF_ERROR(env->SyncDir(DirName(archive)));
  *info = SnapshotInfo{g.manifest.generation, listed.size(), total, out.size()};
  return Status::Ok();
}

// Reads an archive front to back, naming the offset of anything wrong.
class ArchiveReader {
 public:
  ArchiveReader(std::unique_ptr<File> f, std::string path, uint64_t size)
      : f_(std::move(f)), path_(std::move(path)), size_(size) {}
  uint64_t offset() const { return offset_; }
  Status Read(void* out, size_t n, const char* what) {
    if (offset_ + n > size_) {
      return Status::Corruption(path_ + ": truncated at offset " + std::to_string(size_) + " (in " + what + " at " +
                                std::to_string(offset_) + ")");
    }
    size_t got = 0;
    VX_RETURN_IF_ERROR(f_->Read(offset_, n, out, &got));
    if (got != n) return Status::Corruption(path_ + ": short read at offset " + std::to_string(offset_));
    offset_ += n;
    return Status::Ok();
  }
  // "<archive>: <what> at offset <at><where>"
  Status Bad(uint64_t at, const std::string& what, const std::string& where = "") const {
    return Status::Corruption(path_ + ": " + what + " at offset " + std::to_string(at) + where);
  }

 private:
  std::unique_ptr<File> f_;
  std::string path_;
  uint64_t size_, offset_ = 0;
};

}  // namespace

Result<SnapshotInfo> Snapshot(const std::string& dir, const std::string& archive, const SnapshotOptions& o) {
  Env* env = o.env ? o.env : DefaultEnv();
  if (o.level < 1 || o.level > ZSTD_maxCLevel()) {
    return Status::InvalidArgument("zstd level must be in 1.." + std::to_string(ZSTD_maxCLevel()) + ", not " +
                                   std::to_string(o.level));
  }
  VX_ASSIGN_OR_RETURN(OpenGeneration g, OpenCommitted(env, dir));
  // An archive holds the base generation only: writes since the build
  // (segments, the WAL) would be lost from it, so it is refused.
  const std::string wal_path = g.manifest.FilePath(dir, kWalFile);
  VX_ASSIGN_OR_RETURN(const std::unique_ptr<File> wal, Wal::OpenForRead(env, wal_path));
  WalReplay log;
  VX_RETURN_IF_ERROR(Wal::Read(
      wal.get(), wal_path, [](const WalRecord&) { return Status::Ok(); }, &log));
  if (!g.manifest.segments.empty() || log.records > 0) {
    return Status::NotSupported(dir + ": has writes since its build (" + std::to_string(g.manifest.segments.size()) +
                                " segments, " + std::to_string(log.records) +
                                " WAL records), which a snapshot cannot hold yet; rebuild the index to snapshot it");
  }
  SnapshotInfo info;
  const Status s = WriteArchive(env, dir, g, archive, o, &info);
  if (!s.ok()) {
    if (env->FileExists(archive + ".tmp")) static_cast<void>(env->DeleteFile(archive + ".tmp"));
    return s;
  }
  return info;
}

Result<SnapshotInfo> Restore(const std::string& archive, const std::string& dir, const SnapshotOptions& o) {
  Env* env = o.env ? o.env : DefaultEnv();
  VX_ASSIGN_OR_RETURN(auto file, env->OpenFile(archive, OpenOptions{}));
  VX_ASSIGN_OR_RETURN(const uint64_t size, file->Size());
  ArchiveReader in(std::move(file), archive, size);
  char magic[sizeof kMagic];
  VX_RETURN_IF_ERROR(in.Read(magic, sizeof magic, "the header"));
  if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) return in.Bad(0, "not a vx snapshot (bad magic)");
  uint32_t manifest_len;
  uint64_t manifest_sum;
  VX_RETURN_IF_ERROR(in.Read(&manifest_len, 4, "the header"));
  VX_RETURN_IF_ERROR(in.Read(&manifest_sum, 8, "the header"));
  if (manifest_len > kMaxManifestBytes) return in.Bad(8, "manifest length " + std::to_string(manifest_len));
  const uint64_t manifest_at = in.offset();
  std::string manifest_bytes(manifest_len, '\0');
  VX_RETURN_IF_ERROR(in.Read(manifest_bytes.data(), manifest_len, "the manifest"));
  if (Checksum(manifest_bytes.data(), manifest_len) != manifest_sum)
    return in.Bad(manifest_at, "the manifest fails its checksum");
  VX_ASSIGN_OR_RETURN(const Manifest m, ParseManifest(manifest_bytes, archive + ": manifest"));
  if (!m.segments.empty()) {
    return Status::NotSupported(archive + ": holds " + std::to_string(m.segments.size()) +
                                " segments, which this build of vx cannot restore");
  }
  uint64_t total = 0;
  for (const ManifestFile& f : m.files) total += f.size;
  // The new generation is committed only once every file is whole; until
  // then an index already in `dir` serves, and a failure removes ours.
  VX_ASSIGN_OR_RETURN(auto gen, GenerationWriter::Begin(env, dir, total, m.page_nonce));
  ZstdCtx z;
  std::vector<char> packed(ZSTD_compressBound(kFrameRaw)), raw(kFrameRaw);
  std::vector<std::string> names;
  uint64_t done = 0;
  for (const ManifestFile& f : m.files) {
    VX_ASSIGN_OR_RETURN(auto out_file,
                        env->OpenFile(gen->Path(f.name), OpenOptions{.write = true, .create = true, .truncate = true}));
    Appender out(std::move(out_file));
    XXH3_state_t* st = XXH3_createState();
    XXH3_64bits_reset(st);
    auto fail = [&](Status s) {
      XXH3_freeState(st);
      return s;
    };
    for (uint64_t off = 0; off < f.size;) {
      if (Status s = Stopped(o, "restore"); !s.ok()) return fail(s);
      const uint64_t at = in.offset();
      char header[kFrameHeader];
      if (Status s = in.Read(header, kFrameHeader, ("file '" + f.name + "'").c_str()); !s.ok()) return fail(s);
      uint32_t raw_len, packed_len;
      uint64_t sum;
      std::memcpy(&raw_len, header, 4);
      std::memcpy(&packed_len, header + 4, 4);
      std::memcpy(&sum, header + 8, 8);
      const std::string where = " (file '" + f.name + "', bytes " + std::to_string(off) + "..)";
      if (raw_len == 0 || raw_len > kFrameRaw || raw_len > f.size - off || packed_len > packed.size())
        return fail(in.Bad(at, "a frame header out of range", where));
      if (Status s = in.Read(packed.data(), packed_len, ("file '" + f.name + "'").c_str()); !s.ok()) return fail(s);
      if (Checksum(packed.data(), packed_len) != sum) return fail(in.Bad(at, "a frame fails its checksum", where));
      const size_t n = ZSTD_decompressDCtx(z.d, raw.data(), raw_len, packed.data(), packed_len);
      if (ZSTD_isError(n) || n != raw_len)
        return fail(in.Bad(at,
                           std::string("a frame does not decompress (") +
                               (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong length") + ")",
                           where));
      XXH3_64bits_update(st, raw.data(), n);
      if (Status s = out.Append(raw.data(), n); !s.ok()) return fail(s);
      off += n;
      done += n;
      if (o.progress) o.progress(done, total, "restore");
    }
    const uint64_t whole = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    if (whole != f.checksum) return in.Bad(in.offset(), "file '" + f.name + "' fails its manifest checksum, ending");
    VX_RETURN_IF_ERROR(out.Finish());
    names.push_back(f.name);
  }
  const uint64_t trailer_at = in.offset();
  char trailer[sizeof kTrailer];
  uint64_t length;
  VX_RETURN_IF_ERROR(in.Read(trailer, sizeof trailer, "the trailer"));
  VX_RETURN_IF_ERROR(in.Read(&length, 8, "the trailer"));
  if (std::memcmp(trailer, kTrailer, sizeof kTrailer) != 0 || length != trailer_at)
    return in.Bad(trailer_at, "the trailer is not the end of this archive");
  if (in.offset() != size) return in.Bad(in.offset(), std::to_string(size - in.offset()) + " bytes past the trailer");
  VX_RETURN_IF_ERROR(gen->Commit(m.params, names));
  VX_ASSIGN_OR_RETURN(const Manifest committed, ReadManifest(env, dir));
  return SnapshotInfo{committed.generation, names.size(), total, size};
}

}  // namespace vx
