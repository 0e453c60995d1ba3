#pragma once
// SHA-256 (FIPS 180-4), for checking model weights at load. None of the
// project's dependencies provides it (Boost 1.74 has only SHA-1).
#include <filesystem>
#include <string>
#include <string_view>

namespace socstream {
std::string sha256_hex(std::string_view data);
std::string sha256_file_hex(const std::filesystem::path& path);
}  // namespace socstream
