#include "io/vector_file.h"

#include <cstring>

#include "core/f16.h"

namespace vx {

Result<VectorLayout> VectorLayout::Make(size_t page_size, uint32_t dim, ElementType storage) {
  VX_RETURN_IF_ERROR(ValidatePageSize(page_size));
  if (storage != ElementType::kF32 && storage != ElementType::kF16) {
    return Status::InvalidArgument("vectors are stored as f32 or f16");
  }
  VectorLayout l;
  l.dim = dim;
  l.storage = storage;
  l.vector_bytes = dim * static_cast<uint32_t>(ElementSize(storage));
  l.page_size = page_size;
  while (l.page_size - kPageHeaderSize < l.vector_bytes && l.page_size < kMaxPageSize) l.page_size *= 2;
  if (dim == 0 || l.page_size - kPageHeaderSize < l.vector_bytes) {
    return Status::InvalidArgument(std::to_string(dim) + "-dim vectors do not fit a 64 KiB page");
  }
  l.per_page = static_cast<uint32_t>((l.page_size - kPageHeaderSize) / l.vector_bytes);
  return l;
}

Result<std::unique_ptr<VectorFileWriter>> VectorFileWriter::Create(Env* env, const std::string& path,
                                                                   const VectorLayout& layout, uint64_t count,
                                                                   uint64_t binding) {
  VX_ASSIGN_OR_RETURN(auto f, env->OpenFile(path, OpenOptions{.write = true, .create = true, .truncate = true}));
  std::unique_ptr<VectorFileWriter> w(new VectorFileWriter(std::move(f), layout, count, binding));
  VX_RETURN_IF_ERROR(
      w->writer_.EmitHeader({kFileHeaderMagic, static_cast<uint32_t>(PagedFileKind::kVectors), count,
                             layout.vector_bytes, layout.per_page, layout.dim, static_cast<uint32_t>(layout.storage)}));
  return w;
}

Status VectorFileWriter::Append(const float* rows, uint64_t n) {
  if (written_ + n > count_) return Status::InvalidArgument("vectors file: more rows than announced");
  for (uint64_t i = 0; i < n; ++i, ++written_) {
    const float* x = rows + i * layout_.dim;
    uint8_t* dst = writer_.page() + layout_.Offset(written_);
    if (layout_.storage == ElementType::kF32) {
      std::memcpy(dst, x, layout_.vector_bytes);
    } else {
      for (uint32_t j = 0; j < layout_.dim; ++j) {
        const uint16_t h = FloatToHalf(x[j]);
        std::memcpy(dst + 2 * j, &h, 2);
      }
    }
    if ((written_ + 1) % layout_.per_page == 0) VX_RETURN_IF_ERROR(writer_.Emit());
  }
  return Status::Ok();
}

Status VectorFileWriter::Finish() {
  if (written_ != count_) {
    return Status::InvalidArgument("vectors file: " + std::to_string(written_) + " of " + std::to_string(count_) +
                                   " rows written");
  }
  if (written_ % layout_.per_page != 0) VX_RETURN_IF_ERROR(writer_.Emit());
  return file_->Sync();
}

}  // namespace vx
