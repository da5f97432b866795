// Helpers every index type uses to write and read its files:
//   - PageWriter: sealed pages written sequentially from page 0;
//   - PagedFileHeader: the payload of page 0 of a paged file;
//   - WriteWholeFile / ReadWholeFile: small files held in RAM, the read
//     checked against the manifest's checksum.
#pragma once

#include <cstdint>
#include <string>

#include "io/env.h"
#include "io/page.h"

namespace vx {

inline constexpr uint32_t kFileHeaderMagic = 0x48585856;  // "VXXH"

enum class PagedFileKind : uint32_t { kGraph = 1, kVectors = 2, kLists = 3 };

struct PagedFileHeader {
  uint32_t magic;
  uint32_t kind;   // PagedFileKind
  uint64_t count;  // records
  uint32_t record_bytes;
  uint32_t per_page;  // records per page (at most)
  uint32_t dim;       // vectors only
  uint32_t element;   // vectors only: ElementType
};
static_assert(sizeof(PagedFileHeader) == 32);

class PageWriter {
 public:
  // Pages sealed with `binding` (io/page.h).
  PageWriter(File* f, size_t page_size, PageType type, uint64_t binding)
      : f_(f), ps_(page_size), type_(type), binding_(binding), buf_(page_size) {}
  // The page being filled, zeroed; its payload starts at kPageHeaderSize.
  uint8_t* page() { return buf_.data(); }
  uint64_t next_page() const { return next_; }
  Status EmitHeader(const PagedFileHeader& h);
  Status Emit();  // seals and writes the page, starts a new one

 private:
  Status EmitAs(PageType type);
  File* f_;
  size_t ps_;
  PageType type_;
  uint64_t binding_;
  AlignedBuffer buf_;
  uint64_t next_ = 0;
};

// Writes (truncating) and fsyncs a whole file.
Status WriteWholeFile(Env* env, const std::string& path, const void* data, size_t n);
// Replaces `path` atomically: writes PATH.tmp whole, fsyncs it, renames it
// over `path` and fsyncs the directory, so a crash leaves the old file or
// the new one.
Status ReplaceWholeFile(Env* env, const std::string& path, const void* data, size_t n);
// Reads a whole file and checks it against the checksum the manifest recorded.
Result<std::string> ReadWholeFile(Env* env, const std::string& path, uint64_t want_checksum);

}  // namespace vx
