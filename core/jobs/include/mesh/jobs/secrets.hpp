// <root>/secrets.yml, this node's job secrets (config/secrets.example.yml), and the environment
// a job gets. The host owns both: an orchestrator names the secrets a job declares, and the
// host resolves their values here, so secret values never pass through a plugin's settings or
// records. Never replicated.
//
//   secrets:
//     DEPLOY_TOKEN: "${MESH_DEPLOY_TOKEN}"   # from the daemon's environment
//     REGISTRY_PASSWORD: "change-me"
//
// "${NAME}" is replaced by the daemon's environment variable NAME ("$${" is a literal "${", a
// "$" not followed by "{" is literal). A reference to an unset variable makes only that secret
// unavailable: a job declaring it is refused with the reason, the others still run.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mesh/base/result.hpp"

namespace mesh::jobs {

inline constexpr std::size_t kMaxSecretsFileBytes = 1 << 20;
inline constexpr std::size_t kMaxSecretsInFile = 256;
inline constexpr std::size_t kMaxSecretBytes = 16 * 1024;

using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The daemon's own environment (getenv).
EnvLookup process_environment();

struct Secret {
  std::string value;
  std::string unavailable;  // non-empty: why a job cannot have it
};
using Secrets = std::map<std::string, Secret, std::less<>>;

// [A-Z_][A-Z0-9_]{0,63}
bool valid_secret_name(std::string_view name);

// Refuses a malformed file as a whole ("secrets.yml:3:5: ..."): not YAML, more than one
// document, keys other than `secrets`, names outside the grammar, values that are not strings,
// duplicates, more than kMaxSecretsInFile entries, values over kMaxSecretBytes.
Result<Secrets> parse_secrets(std::string_view text, const EnvLookup& env,
                              std::string_view source = "secrets.yml");

// Reads the file: a missing file is no secrets. Refuses one over kMaxSecretsFileBytes, one that
// is not a regular file (a symlink is not followed), and one that group or others may read (it
// must be 0600 or 0400; the message says `chmod 600 <path>`).
Result<Secrets> load_secrets_file(const std::filesystem::path& path, const EnvLookup& env);

// A job's environment besides its secrets, sorted by name: PATH, HOME and LANG from the daemon
// (PATH defaults to /usr/local/bin:/usr/bin:/bin, LANG to C.UTF-8, HOME is left out when the
// daemon has none), the daemon variables named in `passthrough` that are set, then the job's own
// variables, which override those.
std::vector<std::pair<std::string, std::string>> job_environment(
    const std::vector<std::pair<std::string, std::string>>& job_env,
    const std::vector<std::string>& passthrough, const EnvLookup& daemon_env);

}  // namespace mesh::jobs
