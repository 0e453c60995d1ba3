#pragma once
// SHA-256 (FIPS 180-4): model weights are checked with it at load, and alert
// ids and file fingerprints are made with it (attackers choose parts of what
// they hash, so a hash they could collide would let them hide an alert). None of the
// project's dependencies provides it (Boost 1.74 has only SHA-1).
#include <filesystem>
#include <string>
#include <string_view>

namespace socstream {
std::string sha256_hex(std::string_view data);
std::string sha256_file_hex(const std::filesystem::path& path);
}  // namespace socstream
