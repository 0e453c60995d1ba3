#include "operators/sigma/literal_set.hpp"

#include <stdexcept>

namespace socstream::sigma {

void LiteralSet::add(std::string literal, bool caseless, uint32_t id) {
  literals_.push_back(std::move(literal));
  flags_.push_back(HS_FLAG_SINGLEMATCH | (caseless ? HS_FLAG_CASELESS : 0u));
  ids_.push_back(id);
}

void LiteralSet::compile() {
  if (literals_.empty()) return;
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const auto& l : literals_) {
    ptrs.push_back(l.data());
    lens.push_back(l.size());
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_lit_multi(ptrs.data(), flags_.data(), ids_.data(), lens.data(),
                           static_cast<unsigned int>(literals_.size()), HS_MODE_BLOCK, nullptr, &db,
                           &err) != HS_SUCCESS) {
    std::string msg = err && err->message ? err->message : "unknown error";
    hs_free_compile_error(err);
    throw std::runtime_error("vectorscan: " + msg);
  }
  db_.reset(db);
  // The literals live on in the database; the copies are no longer needed.
  literals_.clear();
  literals_.shrink_to_fit();
}

void LiteralSet::reserve(hs_scratch_t** scratch) const {
  if (db_ && hs_alloc_scratch(db_.get(), scratch) != HS_SUCCESS) throw std::bad_alloc();
}

}  // namespace socstream::sigma
