#pragma once
// Numbered snapshot files in a directory, written atomically: the bytes go to
// a temporary file that is fsynced, renamed over its final name, and the
// directory is fsynced, so a crash leaves either the old set or the new one,
// never a torn file. Older generations are kept (`keep`) so that a damaged
// newest snapshot falls back to the one before it.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace socstream::online {

class SnapshotStore {
 public:
  // keep = 0 keeps every generation (model versions that may be pinned).
  SnapshotStore(std::filesystem::path dir, std::string prefix, size_t keep = 3);

  // Writes generation `gen` (or the next after the newest) and prunes; returns its number.
  uint64_t save(std::string_view bytes, std::optional<uint64_t> gen = std::nullopt);
  // Generations on disk, newest first.
  std::vector<uint64_t> generations() const;
  std::filesystem::path path_of(uint64_t gen) const;
  std::string read(uint64_t gen) const;

  // Offers generations newest first to `accept`, which throws to refuse one;
  // each refusal is added to `errors` ("<file>: <reason>"). Returns the
  // generation accepted, if any.
  std::optional<uint64_t> restore(const std::function<void(std::string_view)>& accept,
                                  std::vector<std::string>& errors) const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::string prefix_;
  size_t keep_;
};

}  // namespace socstream::online
