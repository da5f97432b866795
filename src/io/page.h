// The page format. Every page of every index file starts with this header:
//
//   offset size field
//        0    8 checksum   XXH3-64 of bytes [8, page_size) of the page
//        8    4 magic      0x47505856 ("VXPG" little-endian)
//       12    2 version    page format version (kPageFormatVersion)
//       14    1 type       PageType
//       15    1 reserved   0
//       16    8 page_no    the page's own number in its file (catches
//                          misdirected writes and reads)
//       24    8 binding    the file the page belongs to: a value drawn per
//                          file and recorded in the manifest (0: unbound,
//                          indexes written before pages were bound), so a
//                          page copied from another file or index is caught
//   then the payload, page_size - 32 bytes.
//
// Page sizes are powers of two from 4 KiB to 64 KiB. A page that fails any
// check is a Corruption status naming the file and page, never a crash and
// never data handed to a caller. Documented in docs/format.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/checksum.h"
#include "vx/status.h"

namespace vx {

inline constexpr uint32_t kPageMagic = 0x47505856;  // "VXPG"
inline constexpr uint16_t kPageFormatVersion = 1;
inline constexpr size_t kMinPageSize = 4096;
inline constexpr size_t kMaxPageSize = 65536;
inline constexpr size_t kDefaultPageSize = 4096;

enum class PageType : uint8_t {
  kFileHeader = 1,  // page 0 of every paged file
  kGraph = 2,
  kVector = 3,
  kList = 4,
  kTest = 0x7F,
};

struct PageHeader {
  uint64_t checksum;
  uint32_t magic;
  uint16_t version;
  uint8_t type;
  uint8_t reserved0;
  uint64_t page_no;
  uint64_t binding;
};
static_assert(sizeof(PageHeader) == 32, "the page header is 32 bytes on disk");
inline constexpr size_t kPageHeaderSize = sizeof(PageHeader);

// A strong type for page numbers within one file.
struct PageNo {
  uint64_t value;
  friend bool operator==(PageNo, PageNo) = default;
};

// InvalidArgument unless page_size is a power of two in [4 KiB, 64 KiB].
Status ValidatePageSize(size_t page_size);

// Fills the header of `page` (type, number, binding) and its checksum. The
// payload (bytes from kPageHeaderSize on) must already be in place.
void SealPage(uint8_t* page, size_t page_size, PageType type, PageNo page_no, uint64_t binding);

// Checks magic, version, type, number, binding and checksum. `path` names
// the file in the Corruption message.
Status VerifyPage(const uint8_t* page, size_t page_size, PageType expected_type, PageNo page_no, uint64_t binding,
                  const std::string& path);

}  // namespace vx
