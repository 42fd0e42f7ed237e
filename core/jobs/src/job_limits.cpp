#include "job_limits.hpp"

#include "mesh/jobs/registry.hpp"

namespace mesh::jobs {
namespace {

bool lower_or_digit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

}  // namespace

bool valid_token(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max || !lower_or_digit(s[0])) return false;
  for (char c : s)
    if (!lower_or_digit(c) && c != '-') return false;
  return true;
}

bool valid_label(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = lower_or_digit(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool valid_env_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  for (char c : s)
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  return true;
}

Status validate_job(const JobSpec& j) {
  for (std::string_view s :
       {std::string_view(j.run_id), std::string_view(j.job_name), std::string_view(j.repo),
        std::string_view(j.sha), std::string_view(j.image), std::string_view(j.workdir)})
    if (s.size() > kMaxText || has_nul(s))
      return make_error(Errc::invalid,
                        "a job's ids, names, image and workdir are at most 512 bytes");
  if (!valid_token(j.mode, 32))
    return make_error(Errc::invalid, "invalid mode (expected [a-z0-9][a-z0-9-]{0,31})");
  if (j.workdir.empty() || j.workdir[0] != '/')
    return make_error(Errc::invalid, "a job's workdir must be an absolute path");
  if (j.commands.empty()) return make_error(Errc::invalid, "a job needs at least one command");
  if (j.commands.size() > kMaxCommands) return make_error(Errc::limit, "at most 256 commands");
  std::size_t total = 0;
  for (const auto& c : j.commands) {
    if (c.size() > kMaxCommandBytes || has_nul(c))
      return make_error(Errc::limit, "a command is at most 64 KiB, without NUL bytes");
    total += c.size();
  }
  if (total > kMaxCommandsTotal) return make_error(Errc::limit, "commands exceed 1 MiB in all");
  if (j.env.size() > kMaxEnv) return make_error(Errc::limit, "at most 256 environment entries");
  for (const auto& [n, v] : j.env)
    if (!valid_env_name(n) || v.size() > kMaxEnvValue || has_nul(v))
      return make_error(Errc::invalid, "invalid environment entry '" + n.substr(0, 64) + "'");
  if (j.secrets.size() > kMaxSecrets) return make_error(Errc::limit, "at most 64 secrets");
  for (const auto& [n, v] : j.secrets)
    if (!valid_env_name(n) || v.size() > kMaxSecretValue || has_nul(v))
      return make_error(Errc::invalid, "invalid secret '" + n.substr(0, 64) + "'");
  if (j.timeout.count() < 0 || j.timeout.count() > kMaxTimeoutMs)
    return make_error(Errc::invalid, "a job's timeout is at most 7 days");
  return {};
}

}  // namespace mesh::jobs
