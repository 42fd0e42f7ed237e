// Sizes and grammars of what runners and orchestrators may hand the registry.
#pragma once

#include <cstddef>
#include <string_view>

namespace mesh::jobs {

inline constexpr std::size_t kMaxModes = 16;
inline constexpr std::size_t kMaxLabels = 32;
inline constexpr unsigned kMaxSlots = 64;
inline constexpr std::size_t kMaxCommands = 256;
inline constexpr std::size_t kMaxCommandBytes = 64 * 1024;
inline constexpr std::size_t kMaxCommandsTotal = 1 << 20;
inline constexpr std::size_t kMaxEnv = 256;
inline constexpr std::size_t kMaxEnvValue = 32 * 1024;
inline constexpr std::size_t kMaxSecrets = 64;
inline constexpr std::size_t kMaxSecretValue = 16 * 1024;
inline constexpr std::size_t kMaxText = 512;  // ids, names, paths, image
inline constexpr std::size_t kMaxLogCall = 64 * 1024;
inline constexpr std::size_t kMaxReason = 1024;
inline constexpr long long kMaxTimeoutMs = 7LL * 24 * 3600 * 1000;

// [a-z0-9][a-z0-9-]{0,max-1}
bool valid_token(std::string_view s, std::size_t max);
// [A-Za-z0-9._-]{1,64}
bool valid_label(std::string_view s);
// [A-Za-z_][A-Za-z0-9_]{0,127}: what a POSIX shell accepts as a variable name.
bool valid_env_name(std::string_view s);

}  // namespace mesh::jobs
