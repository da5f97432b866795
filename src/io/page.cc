#include "io/page.h"

#include <cstring>

namespace vx {

Status ValidatePageSize(size_t page_size) {
  if (page_size < kMinPageSize || page_size > kMaxPageSize || (page_size & (page_size - 1)) != 0) {
    return Status::InvalidArgument("page size " + std::to_string(page_size) +
                                   " is not a power of two from 4096 to 65536");
  }
  return Status::Ok();
}

void SealPage(uint8_t* page, size_t page_size, PageType type, PageNo page_no, uint64_t binding) {
  PageHeader h{};
  h.magic = kPageMagic;
  h.version = kPageFormatVersion;
  h.type = static_cast<uint8_t>(type);
  h.page_no = page_no.value;
  h.binding = binding;
  std::memcpy(page, &h, sizeof h);
  h.checksum = Checksum(page + 8, page_size - 8);
  std::memcpy(page, &h.checksum, 8);
}

Status VerifyPage(const uint8_t* page, size_t page_size, PageType expected_type, PageNo page_no, uint64_t binding,
                  const std::string& path) {
  PageHeader h;
  std::memcpy(&h, page, sizeof h);
  const std::string where = path + " page " + std::to_string(page_no.value);
  if (h.magic != kPageMagic) {
    return Status::Corruption(where + ": bad page magic (not a vx page, or never written)");
  }
  if (Checksum(page + 8, page_size - 8) != h.checksum) {
    return Status::Corruption(where + ": checksum mismatch");
  }
  if (h.version != kPageFormatVersion) {
    return Status::Corruption(where + ": unsupported page format version " + std::to_string(h.version));
  }
  if (h.page_no != page_no.value) {
    return Status::Corruption(where + ": holds page " + std::to_string(h.page_no) + " (misdirected write)");
  }
  if (h.binding != binding) {
    return Status::Corruption(where + ": belongs to another file or index (page binding " + std::to_string(h.binding) +
                              ", this file's is " + std::to_string(binding) + ")");
  }
  if (h.type != static_cast<uint8_t>(expected_type)) {
    return Status::Corruption(where + ": page type " + std::to_string(h.type) + ", expected " +
                              std::to_string(static_cast<int>(expected_type)));
  }
  return Status::Ok();
}

}  // namespace vx
