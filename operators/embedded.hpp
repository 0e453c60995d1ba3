#pragma once
// Data files compiled into the binary at build time (operators/CMakeLists.txt,
// operators/embed.cmake), so built-in pipelines, the ATT&CK tables, the ECS tables and
// the grok library are there wherever socstream is installed.
#include <optional>
#include <string_view>

namespace socstream {

// "pipelines/nxlog.yaml", "attack/tactics.csv", "grok/ecs-v1/httpd", "grok/re2-overrides".
std::optional<std::string_view> embedded_file(std::string_view name);

}  // namespace socstream
