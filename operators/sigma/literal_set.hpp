#pragma once
// Many literals found in one pass over a value, with Vectorscan (the
// maintained Hyperscan, Suricata's multi-pattern matcher): the Sigma
// prefilter scans each event field once for every literal any rule needs in
// it, instead of running thousands of rules' comparisons.
#include <hs/hs.h>

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace socstream::sigma {

class LiteralSet {
 public:
  LiteralSet() = default;
  LiteralSet(LiteralSet&&) noexcept = default;
  LiteralSet& operator=(LiteralSet&&) noexcept = default;

  void add(std::string literal, bool caseless, uint32_t id);
  size_t size() const { return ids_.size(); }
  // Compiles the literals added; throws std::runtime_error with Vectorscan's message.
  void compile();
  // Grows `scratch` so it can scan this set (one scratch serves every set of a thread).
  void reserve(hs_scratch_t** scratch) const;

  // Calls on_match(id) for each literal present in text (once per id).
  template <class F>
  void scan(std::string_view text, hs_scratch_t* scratch, F&& on_match) const {
    if (!db_) return;
    using Fn = std::remove_reference_t<F>;
    auto cb = [](unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx) -> int {
      (*static_cast<Fn*>(ctx))(id);
      return 0;
    };
    hs_scan(db_.get(), text.data(), static_cast<unsigned int>(text.size()), 0, scratch, cb,
            const_cast<void*>(static_cast<const void*>(&on_match)));
  }

 private:
  struct DbFree {
    void operator()(hs_database_t* d) const { hs_free_database(d); }
  };
  std::vector<std::string> literals_;
  std::vector<unsigned int> flags_, ids_;
  std::unique_ptr<hs_database_t, DbFree> db_;
};

// A thread's scratch space, cloned per operator instance.
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    if (s_) hs_free_scratch(s_);
  }
  hs_scratch_t** ptr() { return &s_; }
  hs_scratch_t* get() const { return s_; }

 private:
  hs_scratch_t* s_ = nullptr;
};

}  // namespace socstream::sigma
