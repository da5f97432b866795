#include "io/paged_file.h"

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

Result<std::string> ReadWholeFile(Env* env, const std::string& path, uint64_t want_checksum) {
  VX_ASSIGN_OR_RETURN(auto f, env->OpenFile(path, OpenOptions{}));
  VX_ASSIGN_OR_RETURN(const uint64_t size, f->Size());
  std::string s(size, '\0');
  size_t got = 0;
  if (size) VX_RETURN_IF_ERROR(f->Read(0, size, s.data(), &got));
  if (got != size) return Status::Corruption(path + ": short read");
  if (Checksum(s.data(), s.size()) != want_checksum) return Status::Corruption(path + ": content checksum mismatch");
  return s;
}

}  // namespace vx
