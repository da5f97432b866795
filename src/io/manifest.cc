#include "io/manifest.h"

#include <nlohmann/json.hpp>
#include <xxhash.h>

#include <cstring>

#include "io/page.h"

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

}  // namespace

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

Status WriteManifest(Env* env, const std::string& dir, const Manifest& m) {
  nlohmann::json body;
  body["generation"] = m.generation;
  body["params"] = m.params;
  body["files"] = nlohmann::json::array();
  for (const ManifestFile& f : m.files) {
    body["files"].push_back({{"name", f.name}, {"size", f.size}, {"head_checksum", f.head_checksum},
                             {"checksum", f.checksum}});
  }
  const std::string text = body.dump(1);
  std::vector<uint8_t> bytes(kHeaderSize + text.size());
  const uint32_t magic = kManifestMagic;
  const uint16_t version = kManifestVersion, reserved = 0;
  const uint64_t len = text.size(), sum = Checksum(text.data(), text.size());
  std::memcpy(bytes.data(), &magic, 4);
  std::memcpy(bytes.data() + 4, &version, 2);
  std::memcpy(bytes.data() + 6, &reserved, 2);
  std::memcpy(bytes.data() + 8, &len, 8);
  std::memcpy(bytes.data() + 16, &sum, 8);
  std::memcpy(bytes.data() + kHeaderSize, text.data(), text.size());

  const std::string tmp = dir + "/" + kManifestName + ".tmp";
  {
    VX_ASSIGN_OR_RETURN(auto f, env->OpenFile(tmp, OpenOptions{.write = true, .create = true, .truncate = true}));
    VX_RETURN_IF_ERROR(f->Write(0, bytes.data(), bytes.size()));
    VX_RETURN_IF_ERROR(f->Sync());
  }
  VX_RETURN_IF_ERROR(env->RenameFile(tmp, dir + "/" + kManifestName));
  return env->SyncDir(dir);
}

Result<Manifest> ReadManifest(Env* env, const std::string& dir) {
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
  if (size < kHeaderSize) return Status::Corruption(path + ": truncated header (" + std::to_string(size) + " bytes)");
  VX_ASSIGN_OR_RETURN(auto header, ReadWhole(f, 0, kHeaderSize));
  uint32_t magic;
  uint16_t version;
  uint64_t len, sum;
  std::memcpy(&magic, header.data(), 4);
  std::memcpy(&version, header.data() + 4, 2);
  std::memcpy(&len, header.data() + 8, 8);
  std::memcpy(&sum, header.data() + 16, 8);
  if (magic != kManifestMagic) return Status::Corruption(path + ": bad magic (not a vx manifest)");
  if (version != kManifestVersion) {
    return Status::NotSupported(path + ": manifest format version " + std::to_string(version) +
                                " (this build reads version " + std::to_string(kManifestVersion) + ")");
  }
  if (len > kMaxBodyBytes || kHeaderSize + len != size) {
    return Status::Corruption(path + ": body length " + std::to_string(len) + " disagrees with file size " +
                              std::to_string(size));
  }
  VX_ASSIGN_OR_RETURN(auto body, ReadWhole(f, kHeaderSize, len));
  if (body.size() != len) return Status::Corruption(path + ": truncated body");
  if (Checksum(body.data(), body.size()) != sum) return Status::Corruption(path + ": checksum mismatch");
  Manifest m;
  try {
    const auto j = nlohmann::json::parse(body.begin(), body.end());
    m.generation = j.at("generation").get<uint64_t>();
    m.params = j.at("params").get<std::map<std::string, std::string>>();
    for (const auto& jf : j.at("files")) {
      m.files.push_back(ManifestFile{jf.at("name").get<std::string>(), jf.at("size").get<uint64_t>(),
                                     jf.at("head_checksum").get<uint64_t>(), jf.at("checksum").get<uint64_t>()});
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(path + ": malformed body: " + e.what());
  }
  return m;
}

Status CheckFiles(Env* env, const std::string& dir, const Manifest& manifest, bool full) {
  for (const ManifestFile& want : manifest.files) {
    const std::string path = dir + "/" + want.name;
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
      VX_ASSIGN_OR_RETURN(const ManifestFile have, DescribeFile(env, dir, want.name));
      if (have.checksum != want.checksum) return Status::Corruption(path + ": content checksum mismatch");
    } else {
      VX_ASSIGN_OR_RETURN(auto head, ReadWhole(f.get(), 0, std::min<uint64_t>(size, kHeadBytes)));
      if (Checksum(head.data(), head.size()) != want.head_checksum) {
        return Status::Corruption(path + ": head checksum mismatch (a file from another index version?)");
      }
    }
  }
  return Status::Ok();
}

}  // namespace vx
