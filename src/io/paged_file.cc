#include "io/paged_file.h"

#include <cstring>

namespace vx {

Status PageWriter::EmitAs(PageType type) {
  SealPage(buf_.data(), ps_, type, PageNo{next_});
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

Result<uint64_t> ManifestNumber(const Manifest& m, const std::string& key, const std::string& dir) {
  auto it = m.params.find(key);
  if (it == m.params.end()) return Status::Corruption(dir + "/MANIFEST: no parameter '" + key + "'");
  try {
    size_t used = 0;
    const uint64_t v = std::stoull(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (...) {
  }
  return Status::Corruption(dir + "/MANIFEST: parameter '" + key + "' is not a number");
}

Result<ManifestFile> ManifestEntry(const Manifest& m, const std::string& name, const std::string& dir) {
  for (const ManifestFile& f : m.files) {
    if (f.name == name) return f;
  }
  return Status::Corruption(dir + "/MANIFEST: no file '" + name + "'");
}

Status CheckIndexManifest(Env* env, const std::string& dir, const Manifest& m, const std::string& type, IndexInfo* info) {
  VX_RETURN_IF_ERROR(CheckFiles(env, dir, m, /*full=*/false));
  auto param = [&](const char* key) {
    auto it = m.params.find(key);
    return it == m.params.end() ? std::string() : it->second;
  };
  if (param("type") != type) return Status::NotSupported(dir + ": index type '" + param("type") + "', not " + type);
  info->type = type;
  VX_ASSIGN_OR_RETURN(info->metric, ParseMetric(param("metric")));
  VX_ASSIGN_OR_RETURN(info->storage, ParseElementType(param("storage")));
  info->quant = param("quant");
  VX_ASSIGN_OR_RETURN(info->count, ManifestNumber(m, "count", dir));
  VX_ASSIGN_OR_RETURN(const uint64_t dim, ManifestNumber(m, "dim", dir));
  VX_ASSIGN_OR_RETURN(info->page_size, ManifestNumber(m, "page_size", dir));
  if (info->count == 0 || dim == 0 || dim > 65536 || !ValidatePageSize(info->page_size).ok()) {
    return Status::Corruption(dir + "/MANIFEST: count, dim or page_size out of range");
  }
  info->dim = static_cast<uint32_t>(dim);
  return Status::Ok();
}

}  // namespace vx
