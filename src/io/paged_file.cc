#include "io/paged_file.h"

#include <algorithm>
#include <cstring>

namespace vx {

Status PageWriter::EmitAs(PageType type) {
  SealPage(buf_.data(), ps_, type, PageNo{next_}, binding_);
  VX_RETURN_IF_ERROR(f_->Write(next_ * ps_, buf_.data(), ps_));
  ++next_;
  std::memset(buf_.data(), 0, ps_);
  return Status::Ok();
}

Status PageWriter::Emit() { return EmitAs(type_); }

Status PageWriter::EmitHeader(const PagedFileHeader& h) {
  std::memcpy(page() + kPageHeaderSize, &h, sizeof h);
  return EmitAs(PageType::kFileHeader);
}

Status WriteWholeFile(Env* env, const std::string& path, const void* data, size_t n) {
  VX_ASSIGN_OR_RETURN(auto f, env->OpenFile(path, OpenOptions{.write = true, .create = true, .truncate = true}));
  if (n) VX_RETURN_IF_ERROR(f->Write(0, data, n));
  return f->Sync();
}

Status ReplaceWholeFile(Env* env, const std::string& path, const void* data, size_t n) {
  const std::string tmp = path + ".tmp";
  VX_RETURN_IF_ERROR(WriteWholeFile(env, tmp, data, n));
  VX_RETURN_IF_ERROR(env->RenameFile(tmp, path));
  return env->SyncDir(DirName(path));
}

// O_DIRECT through a bounded bounce buffer: a buffered read would hold a
// resident file (a 1536-dim index's codes: hundreds of MB) twice while it
// is read, in the page cache and here, and a memory cap counts both.
Result<std::string> ReadWholeFile(Env* env, const std::string& path, uint64_t want_checksum) {
  VX_ASSIGN_OR_RETURN(auto f, env->OpenFile(path, OpenOptions{.direct = true}));
  VX_ASSIGN_OR_RETURN(const uint64_t size, f->Size());
  std::string s(size, '\0');
  constexpr uint64_t kChunk = 4 << 20;
  const uint64_t chunk = std::min(kChunk, (size + kDirectIoAlignment - 1) / kDirectIoAlignment * kDirectIoAlignment);
  VX_ASSIGN_OR_RETURN(AlignedBuffer bounce, AlignedBuffer::Allocate(std::max<uint64_t>(chunk, kDirectIoAlignment)));
  for (uint64_t off = 0; off < size;) {
    const uint64_t want = std::min(chunk, size - off);
    size_t got = 0;
    VX_RETURN_IF_ERROR(f->Read(off, chunk, bounce.data(), &got));
    if (got < want)
      return Status::Corruption(path + ": short read (the file ends at byte " + std::to_string(off + got) + " of " +
                                std::to_string(size) + ")");
    std::memcpy(s.data() + off, bounce.data(), want);
    off += want;
  }
  if (Checksum(s.data(), s.size()) != want_checksum) return Status::Corruption(path + ": content checksum mismatch");
  return s;
}

}  // namespace vx
